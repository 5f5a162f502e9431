// segment_writer_tool -- the agent's real SegmentWriter driven line by line
// from stdin, for the bindings' tests (Java, Go, Rust, ...): they publish,
// rotate and remove values with the writer the agent uses, instead of a
// writer of their own, and race their readers against it.
//
//   segment_writer_tool DIR [--slots N] [--capacity BYTES]
//
// One command per line, one answer line each ("ok ..." or "error MESSAGE"):
//   publish NAME USERNAME SECRET EXPIRES_AT  ok GEN     ("-" is an empty field)
//   pending NAME                             ok GEN     (known, no value yet)
//   remove NAME                              ok
//   rotate NAME SECONDS                      ok COUNT   (checksummed values, as fast as it can)
// It exits at the end of stdin. Values published by `rotate` carry their own
// checksum so a reader can tell a torn read (README.md, "Torn reads"):
//   token    = HEX16(seed) + filler + HEX16(fnv1a64(HEX16(seed) + filler))
//   username = "user-" + HEX16(seed)
//   expires  = 4000000000 + seed % 100000
#include <cinttypes>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"

namespace tw {
namespace {

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct RotatedValue {
  std::string token;
  std::string username;
  std::int64_t expires_at;
};

// Lengths vary over the whole capacity so a torn length shows.
RotatedValue rotated_value(std::uint64_t seed, std::size_t max_token) {
  const std::size_t len = 32 + (seed * 7919u) % (max_token - 32 + 1);
  std::string body = hex16(seed);
  for (std::size_t i = 16; i < len - 16; ++i) body += static_cast<char>('a' + (seed + i) % 26);
  return {body + hex16(fnv1a64(body)), "user-" + hex16(seed),
          4000000000 + static_cast<std::int64_t>(seed % 100000)};
}

std::string field(const std::string& word) { return word == "-" ? "" : word; }

int run(const std::string& dir, SegmentLayout layout) {
  SystemClock clock;
  auto writer = SegmentWriter::open(dir, layout, clock);
  if (!writer) {
    std::cerr << "segment_writer_tool: " << writer.error().message << "\n";
    return 1;
  }
  SegmentWriter& w = **writer;
  std::uint64_t seed = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, name;
    in >> cmd >> name;
    std::string answer;
    if (cmd == "publish") {
      std::string user, secret;
      std::int64_t expires = 0;
      in >> user >> secret >> expires;
      auto gen = w.publish(name, {.username = field(user), .secret = field(secret), .expires_at = expires});
      answer = gen ? "ok " + std::to_string(*gen) : "error " + gen.error().message;
    } else if (cmd == "pending") {
      auto gen = w.publish(name, {.has_value = false});
      answer = gen ? "ok " + std::to_string(*gen) : "error " + gen.error().message;
    } else if (cmd == "remove") {
      auto done = w.remove(name);
      answer = done ? "ok" : "error " + done.error().message;
    } else if (cmd == "rotate") {
      double seconds = 0;
      in >> seconds;
      // Room for the token after the name and "user-" + 16 hex digits, each padded to 8 bytes.
      const std::size_t max_token = layout.data_capacity - ((name.size() + 7) & ~7u) - 24;
      const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
      std::uint64_t count = 0;
      std::string failure;
      while (failure.empty() && std::chrono::steady_clock::now() < end) {
        RotatedValue v = rotated_value(++seed, max_token);
        auto gen = w.publish(name, {.username = v.username, .secret = v.token, .expires_at = v.expires_at});
        if (!gen) failure = gen.error().message;
        ++count;
      }
      answer = failure.empty() ? "ok " + std::to_string(count) : "error " + failure;
    } else {
      answer = "error unknown command '" + cmd + "' (publish, pending, remove, rotate)";
    }
    std::cout << answer << std::endl;
  }
  return 0;
}

}  // namespace
}  // namespace tw

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: segment_writer_tool DIR [--slots N] [--capacity BYTES]\n";
    return 2;
  }
  tw::SegmentLayout layout{.slot_count = 8, .data_capacity = 4096};
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    auto value = static_cast<std::uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    if (opt == "--slots") layout.slot_count = value;
    else if (opt == "--capacity") layout.data_capacity = value;
    else {
      std::cerr << "segment_writer_tool: unknown option " << opt << "\n";
      return 2;
    }
  }
  return tw::run(argv[1], layout);
}
