// Fuzzes libtokenwell's view of a segment image: header validation, slot
// scanning, latch reads with lengths from the image, the struct read with
// buffers that fit and buffers that do not, its simple forms, list and a
// zero-timeout wait. A segment file can be truncated, stale or written
// by anyone with access to the runtime directory; no image may crash a reader.
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {
#include "internal.h"
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The real segment is page-aligned; keep the image 8-byte aligned too.
  std::vector<std::uint64_t> image((size + 7) / 8);
  if (size) std::memcpy(image.data(), data, size);
  tokenwell* tw = nullptr;
  if (tw_open_buffer(image.data(), size, &tw) != TOKENWELL_OK) return 0;
  char names[4096];
  size_t len = 0;
  if (tokenwell_list(tw, names, sizeof names, &len) == TOKENWELL_OK) {
    for (const char* n = names; *n; n += std::strlen(n) + 1) {
      char token[512], user[TOKENWELL_USERNAME_MAX + 1], pub[512];
      int64_t exp;
      uint64_t gen;
      int kind;
      for (int kind : {0, int{TOKENWELL_KIND_CREDENTIAL}, int{TOKENWELL_KIND_KEYSET}}) {
        char small[8];
        tokenwell_entry e{};
        e.struct_size = sizeof e;
        e.secret = kind == TOKENWELL_KIND_KEYSET ? small : token;
        e.secret_size = kind == TOKENWELL_KIND_KEYSET ? sizeof small : sizeof token;
        e.username = user;
        e.username_size = sizeof user;
        e.public_data = pub;
        e.public_size = sizeof pub;
        tokenwell_read_entry(tw, n, kind, &e);
      }
      tokenwell_read(tw, n, token, sizeof token, &len, user, sizeof user, &exp, &gen);
      tokenwell_read(tw, n, nullptr, 0, &len, nullptr, 0, &exp, &gen);
      tokenwell_stat(tw, n, &kind, &exp, &gen);
      tokenwell_read_public(tw, n, pub, sizeof pub, &len, &gen);
      tokenwell_wait(tw, n, gen, 0, &gen);
    }
  }
  char token[64];
  tokenwell_read(tw, "redis", token, sizeof token, &len, nullptr, 0, nullptr, nullptr);
  int32_t pid;
  int64_t hb;
  tokenwell_agent_info(tw, &pid, &hb);
  tokenwell_close(tw);
  return 0;
}
