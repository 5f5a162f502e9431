// segment_writer_tool -- the agent's real SegmentWriter behind a line protocol
// on stdin, so a binding's tests (client-shim/rust) can publish, remove, grow
// and rotate values in a real segment without an IdP or an agent.
//
//   segment_writer_tool DIR
//   publish NAME USERNAME SECRET EXPIRES_AT  -> "gen N"   (USERNAME "-" = none)
//   pending NAME                             -> "gen N"   (known, no value yet)
//   remove NAME                              -> "ok"
//   resize SLOTS CAPACITY                    -> "ok"      (a new file renamed over)
//   rotate NAME COUNT RESIZE_EVERY           -> "rotated COUNT gen N"
//
// `rotate` publishes COUNT checksummed values as fast as it can (every
// RESIZE_EVERY-th publish also grows the file, 0 = never): the value for seed
// S is derived from S alone (stress_value below), and S is the token's first
// 16 hex digits, so a reader can tell a torn read from a whole one. S is the
// value's generation as long as the tool's segment sees only its own writes. Errors go
// to stderr with "error ..." on stdout; EOF on stdin ends the tool.
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"

namespace tw {
namespace {

constexpr std::uint32_t kCapacity = 4096;
constexpr std::int64_t kExpiryBase = 4'000'000'000;  // far future
// Room left in a copy for the token after the name and username.
constexpr std::size_t kMaxToken = kCapacity - 8 - 24;

// The checksummed value of seed S (the same scheme as tests/segment/stress_test.cpp).
SlotValue stress_value(std::uint64_t seed, std::string& token, std::string& username) {
  char head[17];
  std::snprintf(head, sizeof head, "%016" PRIx64, seed);
  const std::size_t len = 16 + (seed * 7919u) % (kMaxToken - 16 + 1);
  token.assign(head, 16);
  token.resize(len);
  for (std::size_t i = 16; i < len; ++i)
    token[i] = static_cast<char>('a' + ((seed * 1315423911u + i * 2654435761u) >> 13) % 26);
  username = std::string("user-") + head;
  return {.username = username,
          .secret = token,
          .expires_at = kExpiryBase + static_cast<std::int64_t>(seed % 100000)};
}

int run(const char* dir) {
  SystemClock clock;
  auto opened = SegmentWriter::open(dir, {.slot_count = 4, .data_capacity = kCapacity}, clock);
  if (!opened) {
    std::cerr << "segment_writer_tool: " << opened.error().message << "\n";
    return 1;
  }
  auto& w = **opened;
  std::uint32_t slots = 4;
  std::uint64_t last_gen = 0;  // seeds: a rotated value's seed is its generation
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, name;
    in >> cmd >> name;
    std::string reply;
    if (cmd == "publish") {
      std::string user, secret;
      std::int64_t exp = 0;
      in >> user >> secret >> exp;
      if (user == "-") user.clear();
      auto g = w.publish(name, {.username = user, .secret = secret, .expires_at = exp});
      if (g) last_gen = *g;
      reply = g ? "gen " + std::to_string(*g) : "error " + g.error().message;
    } else if (cmd == "pending") {
      auto g = w.publish(name, {.has_value = false});
      if (g) last_gen = *g;
      reply = g ? "gen " + std::to_string(*g) : "error " + g.error().message;
    } else if (cmd == "remove") {
      auto r = w.remove(name);
      reply = r ? "ok" : "error " + r.error().message;
    } else if (cmd == "resize") {
      std::uint32_t capacity = kCapacity;
      slots = static_cast<std::uint32_t>(std::stoul(name));
      in >> capacity;
      auto r = w.resize({.slot_count = slots, .data_capacity = capacity});
      reply = r ? "ok" : "error " + r.error().message;
    } else if (cmd == "rotate") {
      std::uint64_t count = 0, resize_every = 0;
      in >> count >> resize_every;
      std::string token, user;
      for (std::uint64_t i = 1; i <= count && reply.empty(); ++i) {
        auto g = w.publish(name, stress_value(last_gen + 1, token, user));
        if (!g) reply = "error " + g.error().message;
        else last_gen = *g;
        if (resize_every != 0 && i % resize_every == 0) {
          slots = slots == 4 ? 5 : 4;  // a different layout: a new file every time
          if (auto r = w.resize({.slot_count = slots, .data_capacity = kCapacity}); !r)
            reply = "error " + r.error().message;
        }
      }
      if (reply.empty()) reply = "rotated " + std::to_string(count) + " gen " + std::to_string(last_gen);
    } else {
      reply = "error unknown command: " + cmd;
    }
    std::cout << reply << std::endl;
  }
  return 0;
}

}  // namespace
}  // namespace tw

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: segment_writer_tool DIR  (commands on stdin)\n";
    return 2;
  }
  return tw::run(argv[1]);
}
