/*
 * tokenwell.c -- the reader side of the shared-memory segment.
 *
 * Reads follow the seqlock "latch" protocol (see segment_format.h and
 * docs/segment-format.md): load the slot's sequence with acquire, copy the
 * copy it selects with relaxed 64-bit atomic loads, acquire fence, and
 * re-check the sequence. Lengths read from shared memory are clamped to the
 * copy's capacity before any byte is copied, so a torn or hostile header can
 * make a read fail but never read outside the mapping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "segment_format.h"
#include "tokenwell/tokenwell.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the segment format is little-endian; big-endian hosts are not supported"
#endif

#define TW_DEFAULT_DIR "/run/tokenwell"
#define TW_SEGMENT_FILE "segment"
/* The first tokenwell_entry: every member up to updated_ms. A caller's
 * struct_size must cover it; members appended later are written only when
 * struct_size covers them too. */
#define TW_ENTRY_SIZE_V1 \
  (offsetof(tokenwell_entry, updated_ms) + sizeof(int64_t))
/* Replacements one handle follows; the agent replaces its file only to grow
 * it (each time doubling), so a handle that sees more is facing something
 * else renaming files, and keeps reading the mapping it has. */
#define TW_MAX_REMAPS 32u

/* One mapping of one segment file. Immutable after creation. */
typedef struct tw_mapping {
  const unsigned char *base;
  size_t size;
  uint32_t slot_count;
  uint32_t slot_size;
  uint32_t copy_size;
  bool owned; /* munmap on close (false for tw_open_buffer) */
  dev_t dev;  /* the mapped file, to tell whether `segment` names another */
  ino_t ino;
  struct tw_mapping *retired_next;
} tw_mapping;

struct tokenwell {
  /* Atomic pointer; NULL while a TOKENWELL_OPEN_MISSING_OK handle has no
   * segment yet. Old mappings are kept until close. */
  tw_mapping *current;
  pthread_mutex_t remap_lock;
  tw_mapping *retired; /* under remap_lock */
  unsigned remaps;     /* under remap_lock */
  bool can_remap;
  bool missing_ok;
  size_t dir_len; /* path[0, dir_len) is the directory */
  char path[PATH_MAX];
};

/* What one consistent read of a copy produced. */
typedef struct tw_snapshot {
  tw_seg_copy_header hdr;
  char name[TOKENWELL_NAME_MAX + 1];
} tw_snapshot;

/* The data fields of a copy, in their order in the copy after the name. */
enum { TW_FIELD_USERNAME = 0, TW_FIELD_SECRET = 1, TW_FIELD_PUBLIC = 2,
       TW_FIELDS = 3 };

/* One field a read may copy out: the caller's buffer and what the read did
 * with it. */
typedef struct tw_field {
  char *buf; /* NULL: not wanted */
  size_t size;
  size_t written; /* bytes written to buf over all attempts, to wipe them */
} tw_field;

/* What one read looks for and where its fields go. */
typedef struct tw_request {
  const char *name;
  size_t name_len;
  uint32_t kind; /* TW_SEG_KIND_*; 0: any */
  int64_t now;   /* unix seconds, for expiry */
  tw_field fields[TW_FIELDS];
} tw_request;

/* ---- version and errors ------------------------------------------------ */

int tokenwell_version_number(void) { return TOKENWELL_VERSION_NUMBER; }
const char *tokenwell_version(void) { return TOKENWELL_VERSION_STRING; }

const char *tokenwell_strerror(int code) {
  /* The other headers' ranges (see tokenwell.h "Return codes"). */
  if (code >= 100 && code <= 199)
    return "libtokenwell-jwt error (see tokenwell_jwt_strerror)";
  if (code >= 200 && code <= 299)
    return "tokenwell/hiredis.h error (see tokenwell_hiredis_strerror)";
  switch (code) {
  case TOKENWELL_OK: return "ok";
  case TOKENWELL_EINVAL: return "invalid argument";
  case TOKENWELL_ENOTFOUND: return "no credential or keyset of that name";
  case TOKENWELL_ENOVALUE: return "no valid value (not fetched yet or expired)";
  case TOKENWELL_EUNAVAILABLE: return "segment unavailable (agent not running or wrong directory)";
  case TOKENWELL_EFORMAT: return "segment malformed (truncated, bad magic or bad sizes)";
  case TOKENWELL_EVERSION: return "segment written by a newer, incompatible version";
  case TOKENWELL_ETOOSMALL: return "buffer too small";
  case TOKENWELL_ETIMEOUT: return "timed out";
  case TOKENWELL_EBUSY: return "value changing too fast, try again";
  case TOKENWELL_ENOMEM: return "out of memory";
  case TOKENWELL_ESYSTEM: return "unexpected system error";
  default: return "unknown error code";
  }
}

/* ---- shared-memory primitives ----------------------------------------- */

static inline uint64_t load64(const void *p) {
  return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}
static inline uint32_t load32(const void *p) {
  return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

/* Copies len bytes from 8-aligned shared memory with relaxed word loads. */
static void copy_words(char *dst, const unsigned char *src, size_t len) {
  size_t i = 0;
  /* Four independent loads per round: the loop is bound by the stores, not
   * by the loop's own bookkeeping (a 2 KiB read: 140 ns before, 70 ns after). */
  for (; i + 32 <= len; i += 32) {
    uint64_t w0 = load64(src + i), w1 = load64(src + i + 8);
    uint64_t w2 = load64(src + i + 16), w3 = load64(src + i + 24);
    memcpy(dst + i, &w0, 8);
    memcpy(dst + i + 8, &w1, 8);
    memcpy(dst + i + 16, &w2, 8);
    memcpy(dst + i + 24, &w3, 8);
  }
  for (; i + 8 <= len; i += 8) {
    uint64_t w = load64(src + i);
    memcpy(dst + i, &w, 8);
  }
  if (i < len) {
    uint64_t w = load64(src + i);
    memcpy(dst + i, &w, len - i);
  }
}

static inline const tw_seg_header *header_of(const tw_mapping *m) {
  return (const tw_seg_header *)m->base;
}
static inline const unsigned char *slot_of(const tw_mapping *m, uint32_t i) {
  return m->base + TW_SEG_HEADER_SIZE + (size_t)i * m->slot_size;
}
static inline const tw_seg_slot_header *slot_header(const tw_mapping *m,
                                                    uint32_t i) {
  return (const tw_seg_slot_header *)slot_of(m, i);
}
static inline const unsigned char *copy_of(const tw_mapping *m, uint32_t i,
                                           uint32_t which) {
  return slot_of(m, i) + TW_SEG_SLOT_HEADER_SIZE + (size_t)which * m->copy_size;
}

static int64_t now_unix_seconds(void) {
  struct timespec ts;
  /* Expiry has second resolution: the coarse clock (a few ms of error) is
   * plenty and is the cheapest vDSO read. No system call either way. */
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return (int64_t)ts.tv_sec;
}

/* ---- header validation ---------------------------------------------------- */

int tw_validate_header(const void *base, size_t size) {
  if (base == NULL || size < TW_SEG_HEADER_SIZE) return TOKENWELL_EFORMAT;
  const tw_seg_header *h = (const tw_seg_header *)base;
  if (load32(&h->magic) != TW_SEG_MAGIC) return TOKENWELL_EFORMAT;
  uint32_t versions = load32(&h->abi_version); /* abi | compat << 16 */
  uint16_t compat = (uint16_t)(versions >> 16);
  if (compat > TW_SEG_ABI_VERSION) return TOKENWELL_EVERSION;
  uint32_t header_size = load32(&h->header_size);
  uint32_t slot_count = load32(&h->slot_count);
  uint32_t slot_size = load32(&h->slot_size);
  uint32_t copy_size = load32(&h->copy_size);
  if (header_size != TW_SEG_HEADER_SIZE) return TOKENWELL_EFORMAT;
  if (slot_count == 0 || slot_count > TW_SEG_MAX_SLOTS) return TOKENWELL_EFORMAT;
  if (copy_size < TW_SEG_COPY_HEADER_SIZE + 8 || copy_size > TW_SEG_MAX_COPY_SIZE ||
      copy_size % 8 != 0)
    return TOKENWELL_EFORMAT;
  if (slot_size % 8 != 0 ||
      (uint64_t)slot_size < TW_SEG_SLOT_HEADER_SIZE + 2ull * copy_size)
    return TOKENWELL_EFORMAT;
  uint64_t need = (uint64_t)header_size + (uint64_t)slot_count * slot_size;
  if (need > size) return TOKENWELL_EFORMAT;
  return TOKENWELL_OK;
}

/* Builds a mapping record for a validated image. */
static tw_mapping *mapping_new(const void *base, size_t size, bool owned) {
  tw_mapping *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  const tw_seg_header *h = (const tw_seg_header *)base;
  m->base = base;
  m->size = size;
  /* Sizes are read once here and never again from shared memory. */
  m->slot_count = load32(&h->slot_count);
  m->slot_size = load32(&h->slot_size);
  m->copy_size = load32(&h->copy_size);
  m->owned = owned;
  return m;
}

static void mapping_free(tw_mapping *m) {
  if (m == NULL) return;
  if (m->owned) munmap((void *)m->base, m->size);
  free(m);
}

/* Maps path read-only and validates it. *missing (may be NULL) tells a file
 * that does not exist from one that cannot be opened. */
static int map_file(const char *path, tw_mapping **out, bool *missing) {
  *out = NULL;
  if (missing) *missing = false;
  /* Non-blocking: a FIFO planted under the name must not hang the caller. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (missing) *missing = errno == ENOENT;
    return TOKENWELL_EUNAVAILABLE;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return TOKENWELL_ESYSTEM;
  }
  if (!S_ISREG(st.st_mode) || st.st_size < (off_t)TW_SEG_HEADER_SIZE) {
    close(fd);
    return TOKENWELL_EFORMAT;
  }
  size_t size = (size_t)st.st_size;
  void *base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return TOKENWELL_ESYSTEM;
  madvise(base, size, MADV_DONTDUMP); /* tokens stay out of core dumps */
  int rc = tw_validate_header(base, size);
  if (rc != TOKENWELL_OK) {
    munmap(base, size);
    return rc;
  }
  tw_mapping *m = mapping_new(base, size, true);
  if (m == NULL) {
    munmap(base, size);
    return TOKENWELL_ENOMEM;
  }
  m->dev = st.st_dev;
  m->ino = st.st_ino;
  *out = m;
  return TOKENWELL_OK;
}

/* ---- open / close -------------------------------------------------------- */

static int handle_new(tokenwell **out) {
  tokenwell *tw = calloc(1, sizeof *tw);
  if (tw == NULL) return TOKENWELL_ENOMEM;
  if (pthread_mutex_init(&tw->remap_lock, NULL) != 0) {
    free(tw);
    return TOKENWELL_ESYSTEM;
  }
  *out = tw;
  return TOKENWELL_OK;
}

int tokenwell_open(const char *dir, tokenwell **out) {
  return tokenwell_open_v2(dir, 0, out);
}

int tokenwell_open_v2(const char *dir, unsigned flags, tokenwell **out) {
  if (out == NULL) return TOKENWELL_EINVAL;
  *out = NULL;
  if (flags & ~(unsigned)TOKENWELL_OPEN_MISSING_OK) return TOKENWELL_EINVAL;
  if (dir == NULL || dir[0] == '\0') dir = getenv("TOKENWELL_DIR");
  if (dir == NULL || dir[0] == '\0') dir = TW_DEFAULT_DIR;
  tokenwell *tw;
  int rc = handle_new(&tw);
  if (rc != TOKENWELL_OK) return rc;
  size_t dlen = strlen(dir);
  if (dlen + 1 + sizeof TW_SEGMENT_FILE > sizeof tw->path) {
    tokenwell_close(tw);
    return TOKENWELL_EINVAL;
  }
  memcpy(tw->path, dir, dlen);
  tw->path[dlen] = '/';
  memcpy(tw->path + dlen + 1, TW_SEGMENT_FILE, sizeof TW_SEGMENT_FILE);
  tw->dir_len = dlen;
  tw->can_remap = true;
  tw->missing_ok = (flags & TOKENWELL_OPEN_MISSING_OK) != 0;
  tw_mapping *m;
  bool missing;
  rc = map_file(tw->path, &m, &missing);
  if (rc != TOKENWELL_OK && !(missing && tw->missing_ok)) {
    tokenwell_close(tw);
    return rc;
  }
  tw->current = m; /* NULL: mapped on first use, once the agent created it */
  *out = tw;
  return TOKENWELL_OK;
}

int tw_open_buffer(const void *base, size_t size, tokenwell **out) {
  if (out == NULL) return TOKENWELL_EINVAL;
  *out = NULL;
  int rc = tw_validate_header(base, size);
  if (rc != TOKENWELL_OK) return rc;
  tokenwell *tw;
  rc = handle_new(&tw);
  if (rc != TOKENWELL_OK) return rc;
  tw->current = mapping_new(base, size, false);
  if (tw->current == NULL) {
    tokenwell_close(tw);
    return TOKENWELL_ENOMEM;
  }
  *out = tw;
  return TOKENWELL_OK;
}

void tokenwell_close(tokenwell *tw) {
  if (tw == NULL) return;
  mapping_free(tw->current);
  for (tw_mapping *m = tw->retired; m != NULL;) {
    tw_mapping *next = m->retired_next;
    mapping_free(m);
    m = next;
  }
  pthread_mutex_destroy(&tw->remap_lock);
  free(tw);
}

/* Whether `segment` now names a file other than the one m maps. */
static bool replaced_by_other_file(const tokenwell *tw, const tw_mapping *m) {
  struct stat st;
  if (stat(tw->path, &st) != 0) return false;
  return st.st_dev != m->dev || st.st_ino != m->ino;
}

/*
 * Sets *out to the mapping to read, remapping first when the agent renamed a
 * new file over ours (or mapping for the first time when the handle was
 * opened before the segment existed). Old mappings stay mapped until close,
 * so a thread still reading one never touches unmapped memory. A flagged
 * file that `segment` still names (a writer died mid-growth, or a crafted
 * file) is read as it is: remapping it again would only pile up mappings.
 * Fails only when there is no mapping at all; *missing (may be NULL) then
 * tells whether the file does not exist yet.
 */
static int mapping_of(const tokenwell *ctw, const tw_mapping **out,
                      bool *missing) {
  tokenwell *tw = (tokenwell *)ctw; /* remap state is internally synchronized */
  if (missing) *missing = false;
  tw_mapping *m = __atomic_load_n(&tw->current, __ATOMIC_ACQUIRE);
  if (m != NULL && (!tw->can_remap ||
                    !(load32(&header_of(m)->flags) & TW_SEG_FLAG_REPLACED))) {
    *out = m;
    return TOKENWELL_OK;
  }
  int rc = TOKENWELL_OK;
  pthread_mutex_lock(&tw->remap_lock);
  tw_mapping *again = __atomic_load_n(&tw->current, __ATOMIC_ACQUIRE);
  if (again == m &&
      (m == NULL || (tw->remaps < TW_MAX_REMAPS && replaced_by_other_file(tw, m)))) {
    tw_mapping *fresh;
    rc = map_file(tw->path, &fresh, missing);
    if (rc == TOKENWELL_OK) {
      if (m != NULL) {
        tw->remaps++;
        m->retired_next = tw->retired;
        tw->retired = m;
      }
      __atomic_store_n(&tw->current, fresh, __ATOMIC_RELEASE);
      again = fresh;
    } else if (m != NULL) {
      rc = TOKENWELL_OK; /* keep reading the old mapping: its values stay valid */
    }
  }
  pthread_mutex_unlock(&tw->remap_lock);
  *out = again;
  return again != NULL ? TOKENWELL_OK : rc;
}

/* ---- consistent reads ------------------------------------------------------ */

/* Validity of a copy header at unix second `now`. */
static int value_status(const tw_seg_copy_header *hdr, int64_t now) {
  if (!(hdr->flags & TW_SEG_COPY_HAS_VALUE)) return TOKENWELL_ENOVALUE;
  if (hdr->expires_at != 0 && hdr->expires_at <= now) return TOKENWELL_ENOVALUE;
  return TOKENWELL_OK;
}

/*
 * Whether a copy whose header and name are in snap is the one req wants,
 * valid, and small enough for every wanted buffer: only then is any field
 * copied, so a failed read never had a byte of the value in its buffers.
 */
static bool copy_wanted(const tw_request *req, const tw_snapshot *snap,
                        const uint64_t lens[TW_FIELDS]) {
  if (snap->hdr.kind == TW_SEG_KIND_FREE ||
      (req->kind != 0 && snap->hdr.kind != req->kind) ||
      snap->hdr.name_len != req->name_len ||
      memcmp(snap->name, req->name, req->name_len) != 0 ||
      value_status(&snap->hdr, req->now) != TOKENWELL_OK)
    return false;
  for (int f = 0; f < TW_FIELDS; f++)
    if (req->fields[f].buf != NULL && lens[f] >= req->fields[f].size)
      return false;
  return true;
}

/*
 * Reads slot i's current copy consistently into snap (the header, and the
 * name when it fits). With req (may be NULL), copies the fields req wants
 * when copy_wanted() says so. Returns OK, EBUSY (retries exhausted) or
 * EFORMAT (a stable copy whose lengths exceed its capacity).
 */
static int read_slot(const tw_mapping *m, uint32_t i, tw_snapshot *snap,
                     tw_request *req) {
  const tw_seg_slot_header *sh = slot_header(m, i);
  const size_t cap = m->copy_size - TW_SEG_COPY_HEADER_SIZE;
  for (int attempt = 0; attempt < TW_SEG_READ_RETRIES; attempt++) {
    uint32_t seq = __atomic_load_n(&sh->seq, __ATOMIC_ACQUIRE);
    const unsigned char *copy = copy_of(m, i, seq & 1u);
    copy_words((char *)&snap->hdr, copy, sizeof snap->hdr);
    const unsigned char *data = copy + TW_SEG_COPY_HEADER_SIZE;
    /* Name, then the fields in TW_FIELD_* order. */
    uint64_t lens[1 + TW_FIELDS] = {snap->hdr.name_len, snap->hdr.username_len,
                                    snap->hdr.secret_len, snap->hdr.public_len};
    uint64_t off[1 + TW_FIELDS];
    uint64_t end = 0;
    for (int f = 0; f < 1 + TW_FIELDS; f++) {
      off[f] = end;
      end += TW_SEG_ALIGN8(lens[f]);
    }
    bool sane = end <= cap && lens[0] <= TOKENWELL_NAME_MAX &&
                lens[1] <= TOKENWELL_USERNAME_MAX;
    if (sane) {
      copy_words(snap->name, data + off[0], (size_t)lens[0]);
      snap->name[lens[0]] = '\0';
      if (req != NULL && copy_wanted(req, snap, lens + 1)) {
        for (int f = 0; f < TW_FIELDS; f++) {
          tw_field *o = &req->fields[f];
          if (o->buf == NULL) continue;
          size_t len = (size_t)lens[f + 1];
          copy_words(o->buf, data + off[f + 1], len);
          o->buf[len] = '\0';
          if (len + 1 > o->written) o->written = len + 1;
        }
      }
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&sh->seq, __ATOMIC_RELAXED) != seq) continue;
    return sane ? TOKENWELL_OK : TOKENWELL_EFORMAT;
  }
  return TOKENWELL_EBUSY;
}

/*
 * Finds entry req->name and reads it. *slot_out (may be NULL) receives the
 * slot index. ENOTFOUND when no slot holds a copy of that name with a kind.
 */
static int find_and_read(const tw_mapping *m, tw_request *req,
                         tw_snapshot *snap, uint32_t *slot_out) {
  uint64_t hash = tw_seg_name_hash(req->name, req->name_len);
  int busy = TOKENWELL_ENOTFOUND;
  for (uint32_t i = 0; i < m->slot_count; i++) {
    if (load64(&slot_header(m, i)->name_hash) != hash) continue;
    int rc = read_slot(m, i, snap, req);
    if (rc != TOKENWELL_OK) {
      busy = rc;
      continue;
    }
    if (snap->hdr.kind == TW_SEG_KIND_FREE ||
        snap->hdr.name_len != req->name_len ||
        memcmp(snap->name, req->name, req->name_len) != 0)
      continue; /* hash collision, or the slot changed hands meanwhile */
    if (slot_out) *slot_out = i;
    return TOKENWELL_OK;
  }
  return busy;
}

static int check_name(const char *name, size_t *len) {
  if (name == NULL) return TOKENWELL_EINVAL;
  size_t n = strnlen(name, TOKENWELL_NAME_MAX + 1);
  if (n == 0 || n > TOKENWELL_NAME_MAX) return TOKENWELL_EINVAL;
  *len = n;
  return TOKENWELL_OK;
}

/*
 * The one outcome step of every read: the status of the consistent snapshot
 * (found, of the kind wanted, valid, fitting), the entry's out members, and
 * the caller's buffers: whole on success, else "" with every byte this read
 * wrote wiped (also what torn attempts left behind).
 */
static int finish_read(tw_request *req, const tw_snapshot *snap, int rc,
                       tokenwell_entry *e) {
  if (rc == TOKENWELL_OK && req->kind != 0 && snap->hdr.kind != req->kind) {
    e->kind = (int)snap->hdr.kind; /* found, but of another kind */
    rc = TOKENWELL_ENOTFOUND;
  } else if (rc == TOKENWELL_OK) {
    const tw_seg_copy_header *h = &snap->hdr;
    e->kind = (int)h->kind;
    e->has_value = (h->flags & TW_SEG_COPY_HAS_VALUE) != 0;
    e->username_len = h->username_len;
    e->secret_len = h->secret_len;
    e->public_len = h->public_len;
    e->expires_at = h->expires_at;
    e->generation = h->generation;
    e->updated_ms = h->updated_ms;
    rc = value_status(h, req->now);
    static const unsigned bits[TW_FIELDS] = {
        TOKENWELL_FIELD_USERNAME, TOKENWELL_FIELD_SECRET, TOKENWELL_FIELD_PUBLIC};
    const size_t lens[TW_FIELDS] = {e->username_len, e->secret_len,
                                    e->public_len};
    for (int f = 0; rc == TOKENWELL_OK && f < TW_FIELDS; f++)
      if (req->fields[f].buf != NULL && lens[f] >= req->fields[f].size)
        e->too_small |= bits[f];
    if (rc == TOKENWELL_OK && e->too_small != 0) rc = TOKENWELL_ETOOSMALL;
  }
  const size_t lens[TW_FIELDS] = {e->username_len, e->secret_len,
                                  e->public_len};
  for (int f = 0; f < TW_FIELDS; f++) {
    tw_field *o = &req->fields[f];
    if (o->buf == NULL) continue;
    const size_t keep = rc == TOKENWELL_OK ? lens[f] + 1 : 0;
    if (o->written > keep) memset(o->buf + keep, 0, o->written - keep);
    if (rc != TOKENWELL_OK && o->size != 0) o->buf[0] = '\0';
  }
  return rc;
}

/* tokenwell_read_entry(), called directly by the simple forms. */
static int read_entry(const tokenwell *tw, const char *name, int kind,
                      tokenwell_entry *e) {
  if (e == NULL || e->struct_size < TW_ENTRY_SIZE_V1) return TOKENWELL_EINVAL;
  e->kind = 0;
  e->has_value = 0;
  e->too_small = 0;
  e->secret_len = e->username_len = e->public_len = 0;
  e->expires_at = 0;
  e->generation = 0;
  e->updated_ms = 0;
  tw_request req;
  memset(&req, 0, sizeof req);
  req.fields[TW_FIELD_USERNAME].buf = e->username;
  req.fields[TW_FIELD_USERNAME].size = e->username ? e->username_size : 0;
  req.fields[TW_FIELD_SECRET].buf = e->secret;
  req.fields[TW_FIELD_SECRET].size = e->secret ? e->secret_size : 0;
  req.fields[TW_FIELD_PUBLIC].buf = e->public_data;
  req.fields[TW_FIELD_PUBLIC].size = e->public_data ? e->public_size : 0;
  req.kind = (uint32_t)kind;
  req.now = now_unix_seconds();
  tw_snapshot snap;
  const tw_mapping *m;
  int rc = TOKENWELL_OK;
  if (tw == NULL || (e->username == NULL && e->username_size != 0) ||
      (e->secret == NULL && e->secret_size != 0) ||
      (e->public_data == NULL && e->public_size != 0) ||
      (kind != 0 && kind != TOKENWELL_KIND_CREDENTIAL &&
       kind != TOKENWELL_KIND_KEYSET))
    rc = TOKENWELL_EINVAL;
  if (rc == TOKENWELL_OK) rc = check_name(name, &req.name_len);
  if (rc == TOKENWELL_OK) rc = mapping_of(tw, &m, NULL);
  if (rc == TOKENWELL_OK) {
    req.name = name;
    rc = find_and_read(m, &req, &snap, NULL);
    /* The publish that grew the file may have added this very name: a miss
     * looks again once the file is flagged replaced. */
    const tw_mapping *now;
    if (rc == TOKENWELL_ENOTFOUND && mapping_of(tw, &now, NULL) == TOKENWELL_OK &&
        now != m)
      rc = find_and_read(now, &req, &snap, NULL);
  }
  return finish_read(&req, &snap, rc, e);
}

int tokenwell_read_entry(const tokenwell *tw, const char *name, int kind,
                         tokenwell_entry *entry) {
  return read_entry(tw, name, kind, entry);
}

/* A tokenwell_entry for the simple forms, which know its size. */
static tokenwell_entry entry_v1(void) {
  tokenwell_entry e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  return e;
}

/* Whether a simple form reports the entry's metadata for this code. */
static bool found(int rc) {
  return rc == TOKENWELL_OK || rc == TOKENWELL_ENOVALUE ||
         rc == TOKENWELL_ETOOSMALL;
}

int tokenwell_read(const tokenwell *tw, const char *name, char *token,
                   size_t token_size, size_t *token_len, char *username,
                   size_t username_size, int64_t *expires_at,
                   uint64_t *generation) {
  if (token == NULL && token_size != 0) return TOKENWELL_EINVAL;
  tokenwell_entry e = entry_v1();
  e.secret = token;
  e.secret_size = token_size;
  e.username = username;
  e.username_size = username ? username_size : 0;
  int rc = read_entry(tw, name, TOKENWELL_KIND_CREDENTIAL, &e);
  if (found(rc)) {
    if (token_len) *token_len = e.secret_len;
    if (expires_at) *expires_at = e.expires_at;
    if (generation) *generation = e.generation;
  }
  return rc;
}

int tokenwell_stat(const tokenwell *tw, const char *name, int *kind,
                   int64_t *expires_at, uint64_t *generation) {
  tokenwell_entry e = entry_v1();
  int rc = read_entry(tw, name, 0, &e);
  if (found(rc)) {
    if (kind) *kind = e.kind;
    if (expires_at) *expires_at = e.expires_at;
    if (generation) *generation = e.generation;
  }
  return rc;
}

int tokenwell_read_public(const tokenwell *tw, const char *name, char *buf,
                          size_t size, size_t *len, uint64_t *generation) {
  if (buf == NULL && size != 0) return TOKENWELL_EINVAL;
  tokenwell_entry e = entry_v1();
  e.public_data = buf;
  e.public_size = size;
  int rc = read_entry(tw, name, 0, &e);
  if (found(rc)) {
    if (len) *len = e.public_len;
    if (generation) *generation = e.generation;
  }
  return rc;
}

int tokenwell_read_keyset(const tokenwell *tw, const char *name, char *jwks,
                          size_t jwks_size, size_t *jwks_len, char *key,
                          size_t key_size, size_t *key_len,
                          uint64_t *generation) {
  if ((jwks == NULL && jwks_size != 0) || (key == NULL && key_size != 0))
    return TOKENWELL_EINVAL;
  tokenwell_entry e = entry_v1();
  e.public_data = jwks;
  e.public_size = jwks_size;
  e.secret = key;
  e.secret_size = key_size;
  int rc = read_entry(tw, name, TOKENWELL_KIND_KEYSET, &e);
  if (found(rc)) {
    if (jwks_len) *jwks_len = e.public_len;
    if (key_len) *key_len = e.secret_len;
    if (generation) *generation = e.generation;
  }
  return rc;
}

int tokenwell_list(const tokenwell *tw, char *names, size_t size,
                   size_t *len) {
  if (tw == NULL || (names == NULL && size != 0)) return TOKENWELL_EINVAL;
  const tw_mapping *m;
  int rc = mapping_of(tw, &m, NULL);
  if (rc != TOKENWELL_OK) return rc;
  size_t used = 0;
  for (uint32_t i = 0; i < m->slot_count; i++) {
    if (load64(&slot_header(m, i)->name_hash) == 0) continue;
    tw_snapshot snap;
    if (read_slot(m, i, &snap, NULL) != TOKENWELL_OK) continue;
    if (snap.hdr.kind == TW_SEG_KIND_FREE || snap.hdr.name_len == 0) continue;
    size_t n = snap.hdr.name_len + 1;
    if (used + n < size) memcpy(names + used, snap.name, n);
    used += n;
  }
  if (len) *len = used + 1;
  if (used + 1 > size) {
    if (size) names[0] = '\0';
    return TOKENWELL_ETOOSMALL;
  }
  names[used] = '\0';
  return TOKENWELL_OK;
}

int tokenwell_agent_info(const tokenwell *tw, int32_t *pid,
                         int64_t *heartbeat_ms) {
  if (tw == NULL) return TOKENWELL_EINVAL;
  const tw_mapping *m;
  int rc = mapping_of(tw, &m, NULL);
  if (rc != TOKENWELL_OK) return rc;
  const tw_seg_header *h = header_of(m);
  if (pid) *pid = (int32_t)load32(&h->writer_pid);
  if (heartbeat_ms) *heartbeat_ms = (int64_t)load64(&h->heartbeat_ms);
  return TOKENWELL_OK;
}

/* ---- waiting --------------------------------------------------------------- */

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits while *word == expected, at most timeout_ms (<0: forever). */
static void futex_wait(const uint32_t *word, uint32_t expected,
                       int64_t timeout_ms) {
  struct timespec ts, *tsp = NULL;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (timeout_ms % 1000) * 1000000;
    tsp = &ts;
  }
  /* Shared (not FUTEX_PRIVATE): the word lives in a file mapping that the
   * agent wakes from another process. EINTR/EAGAIN just re-check. */
  syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
}

/*
 * For a TOKENWELL_OPEN_MISSING_OK handle without a segment: waits until the
 * agent creates it (and it is mapped), deadline (monotonic ms, <0: never)
 * passes (ETIMEOUT), or it turns out to exist but be unusable (that code).
 * The agent renames a complete file into place, so inotify's IN_MOVED_TO /
 * IN_CREATE on the directory says when to look again. Each wait is capped at
 * a second: a directory that does not exist yet cannot be watched.
 */
static int wait_for_segment(const tokenwell *tw, int64_t deadline) {
  char dir[PATH_MAX];
  memcpy(dir, tw->path, tw->dir_len);
  dir[tw->dir_len] = '\0';
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  bool watching = false;
  int rc;
  for (;;) {
    /* Watch before looking, so a creation in between is not missed. */
    if (fd >= 0 && !watching)
      watching = inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO |
                                                IN_ONLYDIR) >= 0;
    const tw_mapping *m;
    bool missing;
    rc = mapping_of(tw, &m, &missing);
    if (rc == TOKENWELL_OK || !missing) break;
    int64_t wait_ms = 1000;
    if (deadline >= 0) {
      int64_t remaining = deadline - monotonic_ms();
      if (remaining <= 0) {
        rc = TOKENWELL_ETIMEOUT;
        break;
      }
      if (remaining < wait_ms) wait_ms = remaining;
    }
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, watching ? 1 : 0, (int)wait_ms);
    char events[4096] __attribute__((aligned(8)));
    while (watching && read(fd, events, sizeof events) > 0) {
    }
  }
  if (fd >= 0) close(fd);
  return rc;
}

int tokenwell_wait(const tokenwell *tw, const char *name,
                   uint64_t after_generation, int64_t timeout_ms,
                   uint64_t *generation) {
  tw_request req;
  memset(&req, 0, sizeof req);
  if (tw == NULL) return TOKENWELL_EINVAL;
  int rc = check_name(name, &req.name_len);
  if (rc != TOKENWELL_OK) return rc;
  req.name = name;
  const int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
  for (;;) {
    const tw_mapping *m;
    bool missing;
    rc = mapping_of(tw, &m, &missing);
    if (rc != TOKENWELL_OK && missing && tw->missing_ok) {
      rc = wait_for_segment(tw, deadline);
      if (rc != TOKENWELL_OK) return rc;
      continue;
    }
    if (rc != TOKENWELL_OK) return rc;
    const tw_seg_header *h = header_of(m);
    /* Futex values are loaded before the state they guard, so a publish
     * between the check and the wait changes the word and the wait returns. */
    uint32_t change = __atomic_load_n(&h->change_seq, __ATOMIC_ACQUIRE);
    const uint32_t *word = &h->change_seq;
    uint32_t expected = change;
    tw_snapshot snap;
    uint32_t slot;
    rc = find_and_read(m, &req, &snap, &slot);
    if (rc == TOKENWELL_OK) {
      const tw_seg_slot_header *sh = slot_header(m, slot);
      uint32_t gen_word = __atomic_load_n(&sh->gen_futex, __ATOMIC_ACQUIRE);
      rc = find_and_read(m, &req, &snap, &slot);
      if (rc == TOKENWELL_OK && snap.hdr.generation > after_generation) {
        if (generation) *generation = snap.hdr.generation;
        return TOKENWELL_OK;
      }
      if (rc == TOKENWELL_OK && slot_header(m, slot) == sh) {
        word = &sh->gen_futex;
        expected = gen_word;
      }
    }
    if (load32(&h->flags) & TW_SEG_FLAG_REPLACED) {
      const tw_mapping *now_m;
      if (mapping_of(tw, &now_m, NULL) == TOKENWELL_OK && now_m != m) continue;
      /* Replaced but the new file is not readable yet: poll gently. */
      word = &h->change_seq;
      expected = __atomic_load_n(&h->change_seq, __ATOMIC_ACQUIRE);
      if (deadline < 0 || deadline - monotonic_ms() > 100) {
        futex_wait(word, expected, 100);
        continue;
      }
    }
    int64_t remaining = -1;
    if (deadline >= 0) {
      remaining = deadline - monotonic_ms();
      if (remaining <= 0) return TOKENWELL_ETIMEOUT;
    }
    futex_wait(word, expected, remaining);
  }
}
