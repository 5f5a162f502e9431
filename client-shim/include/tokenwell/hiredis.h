/*
 * tokenwell/hiredis.h -- AUTH a hiredis connection with a tokenwell credential
 * and re-AUTH it when the agent publishes a new one. Header-only C; link
 * -ltokenwell -lhiredis.
 *
 *   tokenwell_hiredis auth;
 *   tokenwell_hiredis_init(&auth, tw, "redis");
 *   redisContext *c = redisConnect("cache.example", 6380);
 *   int rc = tokenwell_hiredis_auth(&auth, c);
 *   if (rc != TOKENWELL_OK) fail(tokenwell_hiredis_strerror(rc));
 *   for (;;) {
 *     // Re-AUTHed first if the agent published a new token.
 *     redisReply *r = tokenwell_hiredis_command(&auth, c, "INCR %s", "hits");
 *     if (r == NULL) fail(c->errstr);
 *     freeReplyObject(r);
 *   }
 *
 * The check before a command is tokenwell_read_entry() of the credential's
 * generation only: a few atomic loads in shared memory, no system call. Only
 * when the generation changed does it read the token and send
 * `AUTH user token`.
 *
 * Thread safety: a tokenwell_hiredis belongs to one redisContext and is used
 * by whichever single thread uses that context; the tokenwell handle may be
 * shared by all of them.
 *
 * A re-AUTH reads its reply synchronously, so call tokenwell_hiredis_check()
 * (or _command()) only when no replies are pending: not in the middle of a
 * pipeline, and not on a RESP2 subscriber (Redis refuses AUTH there; open a
 * new connection, subscribe it, then unsubscribe and close the old one).
 */
#ifndef TOKENWELL_HIREDIS_H
#define TOKENWELL_HIREDIS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <tokenwell/tokenwell.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Codes of this helper, besides the TOKENWELL_* codes of tokenwell.h.
 * hiredis.h owns the range 200-299 (tokenwell.h has 0-99, tokenwell/jwt.h
 * 100-199). Never renumbered; new ones are only appended.
 */
enum {
  TOKENWELL_HIREDIS_EAUTH = 200, /* Redis refused the AUTH (its reply in tokenwell_hiredis.error) */
  TOKENWELL_HIREDIS_EIO = 201    /* the connection failed: see redisContext.err / errstr */
};

typedef struct tokenwell_hiredis {
  const tokenwell *tw;
  char name[TOKENWELL_NAME_MAX + 1];
  uint64_t generation;     /* of the credential last AUTHed with */
  int authenticated;       /* 0 until the first successful AUTH */
  unsigned long auths;     /* successful AUTHs, the first one included */
  char error[128];         /* Redis's reply to a refused AUTH, never the token */
} tokenwell_hiredis;

/* Text for a TOKENWELL_HIREDIS_* code, else tokenwell_strerror()'s. */
static inline const char *tokenwell_hiredis_strerror(int code) {
  if (code == TOKENWELL_HIREDIS_EAUTH) return "Redis refused the AUTH";
  if (code == TOKENWELL_HIREDIS_EIO) return "Redis connection failed";
  return tokenwell_strerror(code);
}

/* Binds the state to a tokenwell handle (not owned) and a credential name. */
static inline int tokenwell_hiredis_init(tokenwell_hiredis *h, const tokenwell *tw, const char *name) {
  if (h == NULL || tw == NULL || name == NULL || strlen(name) > TOKENWELL_NAME_MAX) return TOKENWELL_EINVAL;
  memset(h, 0, sizeof *h);
  h->tw = tw;
  memcpy(h->name, name, strlen(name) + 1);
  return TOKENWELL_OK;
}

static inline void tokenwell_hiredis_wipe_(char *p, size_t n) {
  volatile char *v = p;
  while (n--) *v++ = 0;
}

/* Sends AUTH with the current credential now, whatever its generation. */
static inline int tokenwell_hiredis_auth(tokenwell_hiredis *h, redisContext *c) {
  if (h == NULL || h->tw == NULL || c == NULL) return TOKENWELL_EINVAL;
  if (c->err) return TOKENWELL_HIREDIS_EIO;
  char stack_token[8192];
  char user[TOKENWELL_USERNAME_MAX + 1];
  tokenwell_entry e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  e.secret = stack_token;
  e.secret_size = sizeof stack_token;
  e.username = user;
  e.username_size = sizeof user;
  int rc = tokenwell_read_entry(h->tw, h->name, TOKENWELL_KIND_CREDENTIAL, &e);
  if (rc == TOKENWELL_ETOOSMALL) { /* a token larger than 8 KiB: read it into the heap */
    e.secret_size = e.secret_len + 1;
    e.secret = (char *)malloc(e.secret_size);
    if (e.secret == NULL) return TOKENWELL_ENOMEM;
    rc = tokenwell_read_entry(h->tw, h->name, TOKENWELL_KIND_CREDENTIAL, &e);
  }
  if (rc == TOKENWELL_OK) {
    redisReply *reply = (redisReply *)redisCommand(c, "AUTH %b %b", user, e.username_len, e.secret,
                                                   e.secret_len);
    if (reply == NULL) {
      rc = TOKENWELL_HIREDIS_EIO;
    } else if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0) {
      h->generation = e.generation;
      h->authenticated = 1;
      h->auths++;
      h->error[0] = '\0';
    } else {
      rc = TOKENWELL_HIREDIS_EAUTH;
      const char *text = reply->type == REDIS_REPLY_ERROR && reply->str ? reply->str : "unexpected reply";
      size_t n = strlen(text) < sizeof h->error - 1 ? strlen(text) : sizeof h->error - 1;
      memcpy(h->error, text, n);
      h->error[n] = '\0';
    }
    if (reply) freeReplyObject(reply);
  }
  tokenwell_hiredis_wipe_(e.secret, e.secret_size);
  if (e.secret != stack_token) free(e.secret);
  return rc;
}

/*
 * Re-AUTHs only if the credential's generation differs from the one this
 * connection last AUTHed with (or it never did). TOKENWELL_OK when nothing
 * needed doing; *reauthed (may be NULL) is 1 when an AUTH was sent and
 * accepted. When the agent has no valid value (TOKENWELL_ENOVALUE) the
 * connection keeps its current authentication.
 */
static inline int tokenwell_hiredis_check(tokenwell_hiredis *h, redisContext *c, int *reauthed) {
  if (reauthed) *reauthed = 0;
  if (h == NULL || h->tw == NULL || c == NULL) return TOKENWELL_EINVAL;
  tokenwell_entry e; /* no buffers: the metadata only */
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  int rc = tokenwell_read_entry(h->tw, h->name, TOKENWELL_KIND_CREDENTIAL, &e);
  if (h->authenticated && e.generation == h->generation &&
      (rc == TOKENWELL_OK || rc == TOKENWELL_ENOVALUE))
    return TOKENWELL_OK;
  if (rc != TOKENWELL_OK) return rc;
  rc = tokenwell_hiredis_auth(h, c);
  if (rc == TOKENWELL_OK && reauthed) *reauthed = 1;
  return rc;
}

/*
 * redisCommand() after tokenwell_hiredis_check(). NULL when the command could
 * not be sent (c->err says why) or the re-AUTH failed (then *rc, if given,
 * holds the helper's code and the command was not sent).
 */
static inline void *tokenwell_hiredis_vcommand(tokenwell_hiredis *h, redisContext *c, int *rc,
                                               const char *format, va_list ap) {
  int check = tokenwell_hiredis_check(h, c, NULL);
  /* No valid value at all: send the command anyway, the server decides. */
  if (check != TOKENWELL_OK && check != TOKENWELL_ENOVALUE && check != TOKENWELL_EUNAVAILABLE) {
    if (rc) *rc = check;
    return NULL;
  }
  if (rc) *rc = TOKENWELL_OK;
  return redisvCommand(c, format, ap);
}

static inline void *tokenwell_hiredis_command(tokenwell_hiredis *h, redisContext *c, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  void *reply = tokenwell_hiredis_vcommand(h, c, NULL, format, ap);
  va_end(ap);
  return reply;
}

#ifdef __cplusplus
}
#endif

#endif /* TOKENWELL_HIREDIS_H */
