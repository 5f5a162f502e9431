/*
 * tokenwell.h -- read credentials published by tokenwell-agent.
 *
 * libtokenwell maps the agent's shared-memory segment read-only and copies
 * the current value of a credential out of it. After tokenwell_open() a read
 * makes no system call: it is a handful of atomic loads.
 *
 *   tokenwell *tw;
 *   if (tokenwell_open(NULL, &tw) == TOKENWELL_OK) {
 *     char token[8192], user[257];
 *     int rc = tokenwell_read(tw, "redis", token, sizeof token, NULL,
 *                             user, sizeof user, NULL, NULL);
 *     if (rc == TOKENWELL_OK) redis_auth(user, token);
 *     else fprintf(stderr, "tokenwell: %s\n", tokenwell_strerror(rc));
 *     tokenwell_close(tw);
 *   }
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

#define TOKENWELL_VERSION_MAJOR 0
#define TOKENWELL_VERSION_MINOR 1
#define TOKENWELL_VERSION_PATCH 0
#define TOKENWELL_VERSION_STRING "0.1.0"
/* major * 1000000 + minor * 1000 + patch, as tokenwell_version_number(). */
#define TOKENWELL_VERSION_NUMBER                                   \
  (TOKENWELL_VERSION_MAJOR * 1000000 + TOKENWELL_VERSION_MINOR * 1000 + \
   TOKENWELL_VERSION_PATCH)

#if defined(_WIN32)
#define TOKENWELL_API
#else
#define TOKENWELL_API __attribute__((visibility("default")))
#endif

/* Return codes. Never renumbered; new ones are only appended. */
enum {
  TOKENWELL_OK = 0,
  TOKENWELL_EINVAL = 1,       /* a NULL handle/name, a bad argument */
  TOKENWELL_ENOTFOUND = 2,    /* no credential or keyset of that name */
  TOKENWELL_ENOVALUE = 3,     /* known, but not fetched yet or expired */
  TOKENWELL_EUNAVAILABLE = 4, /* no segment: agent not started, bad dir */
  TOKENWELL_EFORMAT = 5,      /* segment truncated, wrong magic, bad sizes */
  TOKENWELL_EVERSION = 6,     /* segment written by a newer, incompatible ABI */
  TOKENWELL_ETOOSMALL = 7,    /* a caller buffer is too small (length set) */
  TOKENWELL_ETIMEOUT = 8,     /* tokenwell_wait() timed out */
  TOKENWELL_EBUSY = 9,        /* value changing too fast; try again */
  TOKENWELL_ENOMEM = 10,      /* out of memory */
  TOKENWELL_ESYSTEM = 11      /* an unexpected system call failure */
};

/* Kinds of entries in the segment, as tokenwell_stat() reports them. */
enum {
  TOKENWELL_KIND_CREDENTIAL = 1,
  TOKENWELL_KIND_KEYSET = 2
};

/* Limits of the values the segment carries. */
#define TOKENWELL_NAME_MAX 64     /* bytes, without the terminating NUL */
#define TOKENWELL_USERNAME_MAX 256

typedef struct tokenwell tokenwell;

/* Runtime version of the library, same numbers as the macros above. */
TOKENWELL_API int tokenwell_version_number(void);
TOKENWELL_API const char *tokenwell_version(void);

/* Text for a return code; never NULL, static storage. */
TOKENWELL_API const char *tokenwell_strerror(int code);

/*
 * Opens the segment in dir (NULL: $TOKENWELL_DIR, else /run/tokenwell).
 * On success *out is a new handle; on failure *out is NULL.
 */
TOKENWELL_API int tokenwell_open(const char *dir, tokenwell **out);

/* Unmaps and frees. NULL is a harmless no-op. */
TOKENWELL_API void tokenwell_close(tokenwell *tw);

/*
 * Copies the current value of credential `name`.
 *   token/token_size:       buffer for the secret, NUL-terminated; token may
 *                           be NULL (with size 0) to read only the metadata.
 *   token_len:              length of the secret without NUL (also set with
 *                           TOKENWELL_ETOOSMALL, so the caller can resize).
 *   username/username_size: buffer for the username, NUL-terminated; may be
 *                           NULL. TOKENWELL_USERNAME_MAX + 1 always fits.
 *   expires_at:             unix seconds; 0 when the value does not expire.
 *   generation:             increases every time a new value is published.
 * Every out pointer may be NULL. Returns TOKENWELL_ENOVALUE when the value
 * has expired (expires_at and generation are still reported).
 */
TOKENWELL_API int tokenwell_read(const tokenwell *tw, const char *name,
                                 char *token, size_t token_size,
                                 size_t *token_len, char *username,
                                 size_t username_size, int64_t *expires_at,
                                 uint64_t *generation);

/*
 * Like tokenwell_read() for any entry, without copying a secret:
 * kind is TOKENWELL_KIND_*; the return code tells whether it is valid now.
 */
TOKENWELL_API int tokenwell_stat(const tokenwell *tw, const char *name,
                                 int *kind, int64_t *expires_at,
                                 uint64_t *generation);

/*
 * Copies the public part of entry `name` (for a keyset: its public JWKS).
 * Same buffer rules as the token in tokenwell_read().
 */
TOKENWELL_API int tokenwell_read_public(const tokenwell *tw, const char *name,
                                        char *buf, size_t size, size_t *len,
                                        uint64_t *generation);

/*
 * Copies keyset `name` in one consistent snapshot: its public JWKS into
 * jwks/jwks_size and its active private signing key (one JWK, see
 * docs/segment-format.md "Keyset slots") into key/key_size; *key_len is 0 for
 * a verify-only keyset. Same buffer rules as tokenwell_read(); either buffer
 * may be NULL (with size 0). TOKENWELL_ENOTFOUND when `name` is a credential.
 */
TOKENWELL_API int tokenwell_read_keyset(const tokenwell *tw, const char *name,
                                        char *jwks, size_t jwks_size,
                                        size_t *jwks_len, char *key,
                                        size_t key_size, size_t *key_len,
                                        uint64_t *generation);

/*
 * Blocks until entry `name` has a generation greater than after_generation,
 * or timeout_ms passes (negative: wait forever). Works for names that do not
 * exist yet. On success *generation (may be NULL) is the new generation.
 * Waiting uses a futex in the segment: no socket, no polling.
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
