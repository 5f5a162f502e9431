/*
 * redis_client.c -- the C end-to-end client: hiredis + tokenwell/hiredis.h
 * against the strict Azure Redis stand-in, for --duration seconds.
 *
 * Four threads, each with its own connection(s), as an application would:
 *   writer      INCR/SET/GET, PUBLISH seq, RPUSH seq       (standalone)
 *   subscriber  SUBSCRIBE; on rotation subscribes a new connection, then
 *               unsubscribes the old one (RESP2 cannot AUTH while subscribed)
 *   blpop       BLPOP with a 1 s timeout, re-AUTH checked before each
 *   cluster     SET/GET over keys on every master, following MOVED
 * With --no-reauth every connection AUTHs once and never again: the stand-in
 * drops it when that token expires, and the failures are counted.
 * Prints one JSON object with the counts; exit 0 (the test judges them).
 *
 *   redis_client --dir DIR --host H --port P --cluster-host H --cluster-port P
 *                --duration S [--name redis] [--tag T] [--no-reauth]
 */
#define _DEFAULT_SOURCE /* usleep, clock_gettime under -std=c11 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tokenwell/hiredis.h>
#include <unistd.h>

#define MAX_SEQ 200000

static const char *g_name = "redis", *g_host, *g_cluster_host;
static int g_port, g_cluster_port, g_reauth = 1;
static double g_duration;
static tokenwell *g_tw;
static volatile int g_writer_done;
/* Set once the subscriber's first SUBSCRIBE is confirmed: the writer starts
 * publishing only then, so no message can precede the subscription. */
static pthread_mutex_t g_subscribed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_subscribed_cond = PTHREAD_COND_INITIALIZER;
static int g_subscribed;
static char g_channel[64], g_list[64], g_key[64];

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  long ok, failed, reauths, reconnects, published, sub_received, sub_duplicates, resubscriptions,
      blpop_received, cluster_ok, cluster_failed, moved;
  char first_error[160];
} g;
static unsigned char g_seen_sub[MAX_SEQ + 1], g_seen_blpop[MAX_SEQ + 1];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note_failure(long *counter, const char *what, const redisContext *c, const redisReply *r) {
  pthread_mutex_lock(&g_lock);
  (*counter)++;
  if (!g.first_error[0])
    snprintf(g.first_error, sizeof g.first_error, "%s: %s", what,
             r && r->str ? r->str : (c && c->err ? c->errstr : "no reply"));
  pthread_mutex_unlock(&g_lock);
}

static void add(long *counter, long n) {
  pthread_mutex_lock(&g_lock);
  *counter += n;
  pthread_mutex_unlock(&g_lock);
}

/* A connection with its AUTH state. */
typedef struct {
  redisContext *c;
  tokenwell_hiredis auth;
  const char *host;
  int port;
} conn;

static int conn_open(conn *k, const char *host, int port) {
  k->host = host;
  k->port = port;
  struct timeval tv = {5, 0};
  k->c = redisConnectWithTimeout(host, port, tv);
  if (k->c == NULL || k->c->err) return -1;
  tokenwell_hiredis_init(&k->auth, g_tw, g_name);
  return tokenwell_hiredis_auth(&k->auth, k->c) == TOKENWELL_OK ? 0 : -1;
}

static void conn_close(conn *k) {
  if (k->c) redisFree(k->c);
  k->c = NULL;
}

static void conn_reopen(conn *k) {
  add(&g.reconnects, 1);
  conn_close(k);
  while (conn_open(k, k->host, k->port) != 0) {
    /* Mostly an AUTH refused with a token that just expired: the next try is
     * worth making when the agent publishes a new one, which tokenwell_wait
     * reports at once. The bound covers a server that refused the connection. */
    tokenwell_entry e = {.struct_size = sizeof e};
    tokenwell_read_entry(g_tw, g_name, TOKENWELL_KIND_CREDENTIAL, &e);
    conn_close(k);
    tokenwell_wait(g_tw, g_name, e.generation, 200, NULL);
  }
}

/* Before a command: the cheap generation check (unless --no-reauth). */
static void conn_check(conn *k) {
  int reauthed = 0;
  if (g_reauth && tokenwell_hiredis_check(&k->auth, k->c, &reauthed) == TOKENWELL_OK && reauthed)
    add(&g.reauths, 1);
}

/* One command; a failure is counted and the connection re-opened. */
static redisReply *run(conn *k, long *ok, long *failed, const char *fmt, ...) {
  conn_check(k);
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = (redisReply *)redisvCommand(k->c, fmt, ap);
  va_end(ap);
  if (r == NULL || r->type == REDIS_REPLY_ERROR) {
    note_failure(failed, fmt, k->c, r);
    if (r) freeReplyObject(r);
    conn_reopen(k);
    return NULL;
  }
  add(ok, 1);
  return r;
}

static void *writer(void *arg) {
  (void)arg;
  conn k = {0};
  if (conn_open(&k, g_host, g_port) != 0) conn_reopen(&k);
  double end = now_s() + g_duration;
  long seq = 0;
  while (now_s() < end && seq < MAX_SEQ) {
    redisReply *r;
    if ((r = run(&k, &g.ok, &g.failed, "INCR %s-counter", g_key))) freeReplyObject(r);
    if ((r = run(&k, &g.ok, &g.failed, "SET %s %ld", g_key, seq))) freeReplyObject(r);
    if ((r = run(&k, &g.ok, &g.failed, "GET %s", g_key))) freeReplyObject(r);
    seq++;
    if ((r = run(&k, &g.ok, &g.failed, "PUBLISH %s %ld", g_channel, seq))) {
      freeReplyObject(r);
      add(&g.published, 1);
    }
    if ((r = run(&k, &g.ok, &g.failed, "RPUSH %s %ld", g_list, seq))) freeReplyObject(r);
    usleep(20 * 1000); /* pacing only: a steady stream of commands */
  }
  conn_close(&k);
  g_writer_done = 1;
  return NULL;
}

/* The next reply within ms milliseconds: 1 got one, 0 none yet, -1 connection failed. */
static int reply_within(redisContext *c, redisReply **out, int ms) {
  void *reply = NULL;
  *out = NULL;
  if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) return -1;
  if (reply == NULL) {
    struct pollfd p = {c->fd, POLLIN, 0};
    int n = poll(&p, 1, ms);
    if (n <= 0) return n < 0 ? -1 : 0;
    if (redisBufferRead(c) != REDIS_OK) return -1;
    if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) return -1;
  }
  *out = (redisReply *)reply;
  return reply ? 1 : 0;
}

static void take_message(const redisReply *r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || strcmp(r->element[0]->str, "message") != 0) return;
  long seq = atol(r->element[2]->str);
  if (seq < 1 || seq > MAX_SEQ) return;
  pthread_mutex_lock(&g_lock);
  if (g_seen_sub[seq]) g.sub_duplicates++;
  else g.sub_received++;
  g_seen_sub[seq] = 1;
  pthread_mutex_unlock(&g_lock);
}

/* Subscribes a new connection; returns once Redis confirmed it (the reply). */
static int subscribe(conn *k) {
  if (conn_open(k, g_host, g_port) != 0) return -1;
  redisReply *r = (redisReply *)redisCommand(k->c, "SUBSCRIBE %s", g_channel);
  int ok = r && r->type == REDIS_REPLY_ARRAY;
  if (r) freeReplyObject(r);
  return ok ? 0 : -1;
}

static void announce_subscribed(void) {
  pthread_mutex_lock(&g_subscribed_lock);
  g_subscribed = 1;
  pthread_cond_broadcast(&g_subscribed_cond);
  pthread_mutex_unlock(&g_subscribed_lock);
}

/* Waits for announce_subscribed(); after a minute without one the run goes
 * on anyway and the test judges what arrived. */
static void wait_subscribed(void) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 60;
  pthread_mutex_lock(&g_subscribed_lock);
  while (!g_subscribed && pthread_cond_timedwait(&g_subscribed_cond, &g_subscribed_lock, &until) == 0) {
  }
  pthread_mutex_unlock(&g_subscribed_lock);
}

static void *subscriber(void *arg) {
  (void)arg;
  conn k = {0};
  while (subscribe(&k) != 0) conn_close(&k);
  announce_subscribed();
  for (;;) {
    if (g_writer_done) {  /* drain: everything published is delivered within a few seconds */
      pthread_mutex_lock(&g_lock);
      int all = g.sub_received >= g.published;
      pthread_mutex_unlock(&g_lock);
      static double drain_end;
      if (drain_end == 0) drain_end = now_s() + 5;
      if (all || now_s() > drain_end) break;
    }
    uint64_t generation = 0;
    if (g_reauth && tokenwell_stat(g_tw, g_name, NULL, NULL, &generation) == TOKENWELL_OK &&
        generation != k.auth.generation) {
      /* Make before break: the new subscription exists before the old one ends. */
      conn fresh = {0};
      if (subscribe(&fresh) == 0) {
        redisAppendCommand(k.c, "UNSUBSCRIBE %s", g_channel);
        int done = 0;
        while (!done && redisBufferWrite(k.c, &done) == REDIS_OK) {}
        redisReply *r;
        while (reply_within(k.c, &r, 5000) == 1) {
          int last = r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                     strcmp(r->element[0]->str, "unsubscribe") == 0;
          take_message(r);
          freeReplyObject(r);
          if (last) break;
        }
        conn_close(&k);
        k = fresh;
        add(&g.resubscriptions, 1);
        add(&g.reauths, 1);
      } else {
        conn_close(&fresh);
      }
    }
    redisReply *r;
    int got = reply_within(k.c, &r, 200);
    if (got < 0) {
      note_failure(&g.failed, "subscriber connection", k.c, NULL);
      conn_close(&k);
      while (subscribe(&k) != 0) conn_close(&k);
      continue;
    }
    if (got == 1) {
      take_message(r);
      freeReplyObject(r);
    }
  }
  conn_close(&k);
  return NULL;
}

static void *blpop_reader(void *arg) {
  (void)arg;
  conn k = {0};
  if (conn_open(&k, g_host, g_port) != 0) conn_reopen(&k);
  double drain_end = 0;
  for (;;) {
    if (g_writer_done) {
      if (drain_end == 0) drain_end = now_s() + 5;
      pthread_mutex_lock(&g_lock);
      int all = g.blpop_received >= g.published;
      pthread_mutex_unlock(&g_lock);
      if (all || now_s() > drain_end) break;
    }
    redisReply *r = run(&k, &g.ok, &g.failed, "BLPOP %s 1", g_list);
    if (r == NULL) continue;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
      long seq = atol(r->element[1]->str);
      pthread_mutex_lock(&g_lock);
      if (seq >= 1 && seq <= MAX_SEQ && !g_seen_blpop[seq]) {
        g_seen_blpop[seq] = 1;
        g.blpop_received++;
      }
      pthread_mutex_unlock(&g_lock);
    }
    freeReplyObject(r);
  }
  conn_close(&k);
  return NULL;
}

/* The cluster: a connection per master, a slot table learnt from MOVED. */
#define MAX_NODES 8
static void *cluster_worker(void *arg) {
  (void)arg;
  conn nodes[MAX_NODES] = {{0}};
  int n_nodes = 1;
  static short slot_node[16384];
  char hosts[MAX_NODES][64];
  snprintf(hosts[0], sizeof hosts[0], "%s", g_cluster_host);
  if (conn_open(&nodes[0], hosts[0], g_cluster_port) != 0) conn_reopen(&nodes[0]);
  double end = now_s() + g_duration;
  for (long i = 0; now_s() < end; i++) {
    char key[96];
    snprintf(key, sizeof key, "%s:%ld", g_key, i % 300);
    for (int step = 0; step < 2; step++) {
      /* The slot is unknown here (no CRC16 in hiredis): remember it from MOVED by key. */
      unsigned h = 0;
      for (const char *p = key; *p; p++) h = h * 31 + (unsigned char)*p;
      int idx = slot_node[h % 16384];
      for (int attempt = 0; attempt < 3; attempt++) {
        conn *k = &nodes[idx];
        if (g_reauth) conn_check(k);
        redisReply *r = step == 0 ? (redisReply *)redisCommand(k->c, "SET %s %ld", key, i)
                                  : (redisReply *)redisCommand(k->c, "GET %s", key);
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "MOVED ", 6) == 0) {
          char addr[64];
          int port = 0;
          if (sscanf(r->str, "MOVED %*d %63[^:]:%d", addr, &port) == 2) {
            int found = -1;
            for (int j = 0; j < n_nodes; j++)
              if (nodes[j].port == port) found = j;
            if (found < 0 && n_nodes < MAX_NODES) {
              found = n_nodes++;
              snprintf(hosts[found], sizeof hosts[found], "%s", addr);
              if (conn_open(&nodes[found], hosts[found], port) != 0) conn_reopen(&nodes[found]);
            }
            if (found >= 0) idx = slot_node[h % 16384] = (short)found;
          }
          add(&g.moved, 1);
          freeReplyObject(r);
          continue;
        }
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
          note_failure(&g.cluster_failed, "cluster command", k->c, r);
          if (r) freeReplyObject(r);
          conn_reopen(k);
        } else {
          add(&g.cluster_ok, 1);
          freeReplyObject(r);
        }
        break;
      }
    }
    usleep(20 * 1000);
  }
  for (int j = 0; j < n_nodes; j++) conn_close(&nodes[j]);
  return NULL;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *tag = "c";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-reauth")) { g_reauth = 0; continue; }
    if (v == NULL) { fprintf(stderr, "redis_client: %s needs a value\n", a); return 2; }
    if (!strcmp(a, "--dir")) dir = v;
    else if (!strcmp(a, "--name")) g_name = v;
    else if (!strcmp(a, "--tag")) tag = v;
    else if (!strcmp(a, "--host")) g_host = v;
    else if (!strcmp(a, "--port")) g_port = atoi(v);
    else if (!strcmp(a, "--cluster-host")) g_cluster_host = v;
    else if (!strcmp(a, "--cluster-port")) g_cluster_port = atoi(v);
    else if (!strcmp(a, "--duration")) g_duration = atof(v);
    else { fprintf(stderr, "redis_client: unknown argument %s\n", a); return 2; }
    i++;
  }
  if (!g_host || !g_port || !g_cluster_host || !g_cluster_port || g_duration <= 0) {
    fprintf(stderr, "redis_client: --host, --port, --cluster-host, --cluster-port and --duration are needed\n");
    return 2;
  }
  snprintf(g_channel, sizeof g_channel, "tw-e2e-%s-channel", tag);
  snprintf(g_list, sizeof g_list, "tw-e2e-%s-list", tag);
  snprintf(g_key, sizeof g_key, "tw-e2e-%s-key", tag);
  int rc = tokenwell_open(dir, &g_tw);
  if (rc != TOKENWELL_OK) {
    fprintf(stderr, "redis_client: tokenwell_open: %s\n", tokenwell_strerror(rc));
    return 1;
  }
  uint64_t first_generation = 0, last_generation = 0;
  tokenwell_stat(g_tw, g_name, NULL, NULL, &first_generation);
  pthread_t t[4];
  pthread_create(&t[0], NULL, subscriber, NULL);
  pthread_create(&t[1], NULL, blpop_reader, NULL);
  wait_subscribed(); /* the first PUBLISH comes after the subscription */
  pthread_create(&t[2], NULL, writer, NULL);
  pthread_create(&t[3], NULL, cluster_worker, NULL);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  tokenwell_stat(g_tw, g_name, NULL, NULL, &last_generation);
  printf("{\"client\":\"c\",\"reauth\":%s,\"commands_ok\":%ld,\"commands_failed\":%ld,\"reauths\":%ld,"
         "\"reconnects\":%ld,\"published\":%ld,\"sub_received\":%ld,\"sub_duplicates\":%ld,"
         "\"resubscriptions\":%ld,\"blpop_received\":%ld,\"cluster_ok\":%ld,\"cluster_failed\":%ld,"
         "\"moved\":%ld,\"first_generation\":%llu,\"last_generation\":%llu,\"first_error\":\"",
         g_reauth ? "true" : "false", g.ok, g.failed, g.reauths, g.reconnects, g.published, g.sub_received,
         g.sub_duplicates, g.resubscriptions, g.blpop_received, g.cluster_ok, g.cluster_failed, g.moved,
         (unsigned long long)first_generation, (unsigned long long)last_generation);
  for (const char *p = g.first_error; *p; p++)
    if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) putchar(*p);
  printf("\"}\n");
  tokenwell_close(g_tw);
  return 0;
}
