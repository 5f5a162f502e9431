/*
 * internal.h -- libtokenwell internals shared with its tests and fuzzers.
 * Nothing here is exported from libtokenwell.so.
 */
#ifndef TOKENWELL_INTERNAL_H
#define TOKENWELL_INTERNAL_H

#include <stddef.h>

#include "tokenwell/tokenwell.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Opens a handle over `size` bytes at `base` that the caller keeps alive and
 * unchanged until tokenwell_close(). No file, no remapping: for fuzzers.
 */
int tw_open_buffer(const void *base, size_t size, tokenwell **out);

/*
 * Validates a segment image of `size` bytes; TOKENWELL_OK, EFORMAT or
 * EVERSION. Reads only the header, and only within size.
 */
int tw_validate_header(const void *base, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TOKENWELL_INTERNAL_H */
