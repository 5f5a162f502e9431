/*
 * segment_format.h -- the layout of the shared-memory segment, ABI 1.
 *
 * Shared by the C reader (libtokenwell) and the C++ writer (the agent).
 * docs/segment-format.md is the prose version of this file; keep both in
 * step. Every field is fixed-width little-endian at a fixed offset; there are
 * no pointers. Sizes are multiples of 8 so that all copies are done with
 * aligned 64-bit atomic loads and stores.
 *
 *   [header 128 B][slot 0][slot 1]...[slot N-1]
 *   slot = [slot header 64 B][copy 0][copy 1]
 *   copy = [copy header 64 B][data: name | username | secret | public ]
 *          each data field starts at an 8-byte boundary.
 */
#ifndef TOKENWELL_SEGMENT_FORMAT_H
#define TOKENWELL_SEGMENT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TW_SEG_MAGIC 0x4C574B54u /* bytes "TKWL" */
#define TW_SEG_ABI_VERSION 1u    /* layout written by this code */
#define TW_SEG_COMPAT_VERSION 1u /* oldest reader ABI that can read it */

#define TW_SEG_HEADER_SIZE 128u
#define TW_SEG_SLOT_HEADER_SIZE 64u
#define TW_SEG_COPY_HEADER_SIZE 64u

/* Header flags. */
#define TW_SEG_FLAG_REPLACED 1u /* a newer file was renamed over this one */

/* Copy flags. */
#define TW_SEG_COPY_HAS_VALUE 1u

/* Copy kinds; 0 is a free slot. Same numbers as TOKENWELL_KIND_*. */
#define TW_SEG_KIND_FREE 0u
#define TW_SEG_KIND_CREDENTIAL 1u
#define TW_SEG_KIND_KEYSET 2u

/* Bound on the latch retries of one read (a writer that fast is broken). */
#define TW_SEG_READ_RETRIES 1000

/* Sanity bounds a reader puts on the header's sizes (the file's real size
 * is the other bound): far above anything the agent writes. Every reader
 * (the Node binding too) uses these same numbers. */
#define TW_SEG_MAX_SLOTS (1u << 16)
#define TW_SEG_MAX_COPY_SIZE (64u << 20)

typedef struct tw_seg_header {
  uint32_t magic;          /*   0 TW_SEG_MAGIC */
  uint16_t abi_version;    /*   4 layout version of the writer */
  uint16_t compat_version; /*   6 oldest reader ABI that understands it */
  uint32_t header_size;    /*   8 TW_SEG_HEADER_SIZE */
  uint32_t slot_count;     /*  12 */
  uint32_t slot_size;      /*  16 slot header + 2 copies */
  uint32_t copy_size;      /*  20 copy header + data capacity */
  uint64_t file_size;      /*  24 header_size + slot_count * slot_size */
  uint32_t flags;          /*  32 TW_SEG_FLAG_* (atomic) */
  uint32_t writer_pid;     /*  36 pid of the agent holding the lock (atomic) */
  uint64_t heartbeat_ms;   /*  40 unix ms, refreshed by the agent (atomic) */
  uint64_t created_ms;     /*  48 unix ms when this file was created */
  uint32_t change_seq;     /*  56 futex word: bumped on every change (atomic) */
  uint32_t reserved0;      /*  60 */
  uint64_t last_generation;/*  64 highest generation published (atomic) */
  uint8_t reserved[56];    /*  72..127 zero */
} tw_seg_header;

typedef struct tw_seg_slot_header {
  uint32_t seq;          /*  0 latch sequence: even -> copy 0, odd -> copy 1 */
  uint32_t gen_futex;    /*  4 futex word: low 32 bits of generation */
  uint64_t generation;   /*  8 generation of the newest copy (atomic) */
  uint64_t name_hash;    /* 16 FNV-1a 64 of the name; 0 = free (atomic) */
  uint8_t reserved[40];  /* 24..63 zero */
} tw_seg_slot_header;

typedef struct tw_seg_copy_header {
  uint64_t generation;    /*  0 */
  int64_t expires_at;     /*  8 unix seconds; 0 = does not expire */
  int64_t updated_ms;     /* 16 unix ms of publication */
  uint32_t kind;          /* 24 TW_SEG_KIND_* */
  uint32_t flags;         /* 28 TW_SEG_COPY_* */
  uint16_t name_len;      /* 32 */
  uint16_t username_len;  /* 34 */
  uint32_t secret_len;    /* 36 */
  uint32_t public_len;    /* 40 */
  uint8_t reserved[20];   /* 44..63 zero */
} tw_seg_copy_header;

#define TW_SEG_ALIGN8(n) (((n) + 7u) & ~(uint64_t)7u)

/* FNV-1a 64; a name hashing to 0 is stored as 1 (0 marks a free slot). */
static inline uint64_t tw_seg_name_hash(const char *name, size_t len) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)name[i];
    h *= 1099511628211ull;
  }
  return h ? h : 1;
}

#ifdef __cplusplus
} /* extern "C" */
static_assert(sizeof(tw_seg_header) == TW_SEG_HEADER_SIZE, "header size");
static_assert(sizeof(tw_seg_slot_header) == TW_SEG_SLOT_HEADER_SIZE, "slot");
static_assert(sizeof(tw_seg_copy_header) == TW_SEG_COPY_HEADER_SIZE, "copy");
#else
_Static_assert(sizeof(tw_seg_header) == TW_SEG_HEADER_SIZE, "header size");
_Static_assert(sizeof(tw_seg_slot_header) == TW_SEG_SLOT_HEADER_SIZE, "slot");
_Static_assert(sizeof(tw_seg_copy_header) == TW_SEG_COPY_HEADER_SIZE, "copy");
#endif

#endif /* TOKENWELL_SEGMENT_FORMAT_H */
