/*
 * tokenwell.h -- read credentials published by tokenwell-agent.
 *
 * libtokenwell maps the agent's shared-memory segment read-only and copies
 * the current value of a credential out of it. After tokenwell_open() a read
 * makes no system call: it is a handful of atomic loads.
 *
 *   tokenwell *tw;
 *   if (tokenwell_open(NULL, &tw) == TOKENWELL_OK) {
 *     char token[8192], user[TOKENWELL_USERNAME_MAX + 1];
 *     tokenwell_entry e = {.struct_size = sizeof e,
 *                          .secret = token, .secret_size = sizeof token,
 *                          .username = user, .username_size = sizeof user};
 *     int rc = tokenwell_read_entry(tw, "redis", TOKENWELL_KIND_CREDENTIAL, &e);
 *     if (rc == TOKENWELL_OK) redis_auth(user, token);
 *     else if (rc == TOKENWELL_ETOOSMALL) grow_and_retry(e.secret_len + 1);
 *     else fprintf(stderr, "tokenwell: %s\n", tokenwell_strerror(rc));
 *     tokenwell_close(tw);
 *   }
 *
 * tokenwell_read_entry() is the full read: any field of any entry in one
 * consistent snapshot, through a struct that later versions extend without
 * a new function. tokenwell_read(), _stat(), _read_public() and
 * _read_keyset() are the simple positional forms of the same read.
 *
 * Thread safety: one handle may be used by any number of threads at once;
 * only tokenwell_close() must not race with other calls on the same handle.
 *
 * The library depends on libc only, keeps no global state and never
 * changes the meaning of a function or an error code once released.
 */
#ifndef TOKENWELL_H
#define TOKENWELL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TOKENWELL_VERSION_MAJOR/_MINOR/_PATCH/_STRING/_NUMBER, from CMake. */
#include "tokenwell/version.h"

#if defined(_WIN32)
#define TOKENWELL_API
#else
#define TOKENWELL_API __attribute__((visibility("default")))
#endif

/*
 * Return codes. Never renumbered; new ones are only appended. Each header
 * owns one range, so a code means one thing wherever it comes from:
 *   0-99    tokenwell.h          (these; text: tokenwell_strerror)
 *   100-199 tokenwell/jwt.h      (text: tokenwell_jwt_strerror)
 *   200-299 tokenwell/hiredis.h  (text: tokenwell_hiredis_strerror)
 */
enum {
  TOKENWELL_OK = 0,
  TOKENWELL_EINVAL = 1,       /* a NULL handle/name, a bad argument */
  TOKENWELL_ENOTFOUND = 2,    /* no credential or keyset of that name */
  TOKENWELL_ENOVALUE = 3,     /* known, but not fetched yet or expired */
  TOKENWELL_EUNAVAILABLE = 4, /* no segment: agent not started, bad dir */
  TOKENWELL_EFORMAT = 5,      /* segment truncated, wrong magic, bad sizes */
  TOKENWELL_EVERSION = 6,     /* segment written by a newer, incompatible ABI */
  TOKENWELL_ETOOSMALL = 7,    /* a caller buffer is too small (which one and
                                 the lengths needed are reported) */
  TOKENWELL_ETIMEOUT = 8,     /* tokenwell_wait() timed out */
  TOKENWELL_EBUSY = 9,        /* value changing too fast; try again */
  TOKENWELL_ENOMEM = 10,      /* out of memory */
  TOKENWELL_ESYSTEM = 11      /* an unexpected system call failure */
};

/* Kinds of entries in the segment, as tokenwell_entry.kind reports them. */
enum {
  TOKENWELL_KIND_CREDENTIAL = 1,
  TOKENWELL_KIND_KEYSET = 2
};

/* The buffers of a tokenwell_entry, as bits of tokenwell_entry.too_small. */
enum {
  TOKENWELL_FIELD_SECRET = 1,
  TOKENWELL_FIELD_USERNAME = 2,
  TOKENWELL_FIELD_PUBLIC = 4
};

/* Flags of tokenwell_open_v2(). Other bits are reserved: EINVAL. */
enum {
  /*
   * Open even when the segment does not exist yet (the agent has not
   * started): reads answer TOKENWELL_EUNAVAILABLE until it appears, and
   * tokenwell_wait() waits for it. Only a missing file is deferred; one that
   * exists but cannot be read, is malformed or is too new fails the open.
   */
  TOKENWELL_OPEN_MISSING_OK = 1
};

/* Limits of the values the segment carries. */
#define TOKENWELL_NAME_MAX 64     /* bytes, without the terminating NUL */
#define TOKENWELL_USERNAME_MAX 256

typedef struct tokenwell tokenwell;

/* Runtime version of the library, same numbers as the macros above. */
TOKENWELL_API int tokenwell_version_number(void);
TOKENWELL_API const char *tokenwell_version(void);

/*
 * Text for a return code; never NULL, static storage. Codes of jwt.h and
 * hiredis.h get a pointer to their own strerror.
 */
TOKENWELL_API const char *tokenwell_strerror(int code);

/*
 * Opens the segment in dir (NULL: $TOKENWELL_DIR, else /run/tokenwell).
 * On success *out is a new handle; on failure *out is NULL.
 * Same as tokenwell_open_v2(dir, 0, out).
 */
TOKENWELL_API int tokenwell_open(const char *dir, tokenwell **out);

/* tokenwell_open() with TOKENWELL_OPEN_* flags (0: none). */
TOKENWELL_API int tokenwell_open_v2(const char *dir, unsigned flags,
                                    tokenwell **out);

/* Unmaps and frees. NULL is a harmless no-op. */
TOKENWELL_API void tokenwell_close(tokenwell *tw);

/*
 * One entry of the segment, as tokenwell_read_entry() copies it. The caller
 * sets struct_size and the buffers it wants filled; the library sets the
 * rest. Members are only ever appended: a library newer than the caller's
 * header writes only the members struct_size covers, an older one leaves
 * the members it does not know untouched (initialise the struct to zero).
 */
typedef struct tokenwell_entry {
  size_t struct_size; /* in: sizeof(tokenwell_entry) */

  /* In: where to copy each field, NUL-terminated. NULL with size 0: not
   * wanted. A field is copied only when every wanted field fits. */
  char *secret;        /* a credential's token; a keyset's private JWK */
  size_t secret_size;
  char *username;      /* a credential's username; TOKENWELL_USERNAME_MAX + 1
                          always fits */
  size_t username_size;
  char *public_data;   /* a keyset's public JWKS */
  size_t public_size;

  /* Out. */
  int kind;            /* TOKENWELL_KIND_*; 0 if no entry has the name */
  int has_value;       /* 1 if a value was published (it may have expired) */
  unsigned too_small;  /* with ETOOSMALL: TOKENWELL_FIELD_* bits of the
                          buffers that were too small */
  size_t secret_len;   /* lengths without the NUL: size them len + 1 */
  size_t username_len;
  size_t public_len;
  int64_t expires_at;  /* unix seconds; 0 when the value does not expire */
  uint64_t generation; /* increases every time a new value is published */
  int64_t updated_ms;  /* unix milliseconds when this value was published */
} tokenwell_entry;

/*
 * Reads entry `name` in one consistent snapshot. kind is the kind wanted
 * (TOKENWELL_KIND_*), or 0 for any. Returns:
 *   TOKENWELL_OK         every wanted field copied, every out member set.
 *   TOKENWELL_ENOVALUE   known, but not fetched yet or expired: the out
 *                        members are set, nothing is copied.
 *   TOKENWELL_ETOOSMALL  the value is valid but a wanted buffer is too
 *                        small: too_small names which, the *_len members
 *                        hold the sizes needed, nothing is copied.
 *   TOKENWELL_ENOTFOUND  no entry of that kind by that name. If one of
 *                        another kind has it, kind names that kind.
 *   TOKENWELL_EINVAL     NULL or bad tw, name or entry; struct_size too
 *                        small; a NULL buffer with a non-zero size; kind
 *                        not 0 or a TOKENWELL_KIND_*.
 *   TOKENWELL_EBUSY, TOKENWELL_EFORMAT, TOKENWELL_EUNAVAILABLE.
 * Unless TOKENWELL_OK, every buffer given is returned as the empty string
 * and holds no byte of any value: a secret leaves the library whole or not
 * at all. Out members a failure does not mention are 0.
 */
TOKENWELL_API int tokenwell_read_entry(const tokenwell *tw, const char *name,
                                       int kind, tokenwell_entry *entry);

/*
 * The simple form for a credential: tokenwell_read_entry() with kind
 * TOKENWELL_KIND_CREDENTIAL, the token into token/token_size (may be NULL
 * with size 0 to read only the metadata) and the username into
 * username/username_size (may be NULL). *token_len is also set with
 * TOKENWELL_ETOOSMALL, *expires_at and *generation also with
 * TOKENWELL_ENOVALUE. Every out pointer may be NULL.
 */
TOKENWELL_API int tokenwell_read(const tokenwell *tw, const char *name,
                                 char *token, size_t token_size,
                                 size_t *token_len, char *username,
                                 size_t username_size, int64_t *expires_at,
                                 uint64_t *generation);

/*
 * The simple form for metadata: tokenwell_read_entry() of any kind, no
 * field copied. The return code tells whether the entry is valid now; *kind,
 * *expires_at and *generation (each may be NULL) are set with OK and
 * ENOVALUE.
 */
TOKENWELL_API int tokenwell_stat(const tokenwell *tw, const char *name,
                                 int *kind, int64_t *expires_at,
                                 uint64_t *generation);

/*
 * The simple form for public data: tokenwell_read_entry() of any kind with
 * only public_data wanted (for a keyset: its public JWKS). Same buffer rules
 * as the token in tokenwell_read().
 */
TOKENWELL_API int tokenwell_read_public(const tokenwell *tw, const char *name,
                                        char *buf, size_t size, size_t *len,
                                        uint64_t *generation);

/*
 * The simple form for a keyset: tokenwell_read_entry() with kind
 * TOKENWELL_KIND_KEYSET, its public JWKS into jwks/jwks_size and its active
 * private signing key (one JWK, see docs/segment-format.md "Keyset slots")
 * into key/key_size; *key_len is 0 for a verify-only keyset. Same buffer
 * rules as tokenwell_read(); either buffer may be NULL (with size 0).
 * TOKENWELL_ENOTFOUND when `name` is a credential.
 */
TOKENWELL_API int tokenwell_read_keyset(const tokenwell *tw, const char *name,
                                        char *jwks, size_t jwks_size,
                                        size_t *jwks_len, char *key,
                                        size_t key_size, size_t *key_len,
                                        uint64_t *generation);

/*
 * Blocks until entry `name` has a generation greater than after_generation,
 * or timeout_ms passes (negative: wait forever). Works for names that do not
 * exist yet, and, on a handle opened with TOKENWELL_OPEN_MISSING_OK, for a
 * segment that does not exist yet. On success *generation (may be NULL) is
 * the new generation. Waiting uses a futex in the segment (for a missing
 * segment, inotify on its directory): no socket, no polling.
 */
TOKENWELL_API int tokenwell_wait(const tokenwell *tw, const char *name,
                                 uint64_t after_generation, int64_t timeout_ms,
                                 uint64_t *generation);

/*
 * Lists the names of all entries as consecutive NUL-terminated strings
 * followed by an extra NUL. *len (may be NULL) is the size needed, including
 * the final NUL; TOKENWELL_ETOOSMALL when it does not fit in size.
 */
TOKENWELL_API int tokenwell_list(const tokenwell *tw, char *names, size_t size,
                                 size_t *len);

/*
 * Process id of the agent writing the segment and its last heartbeat
 * (unix milliseconds). Either pointer may be NULL.
 */
TOKENWELL_API int tokenwell_agent_info(const tokenwell *tw, int32_t *pid,
                                       int64_t *heartbeat_ms);

#ifdef __cplusplus
}
#endif

#endif /* TOKENWELL_H */
