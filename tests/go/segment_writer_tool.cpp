// segment_writer_tool -- the agent's real SegmentWriter driven line by line
// from stdin, so the Go binding's tests read segments written by the same
// code as the agent's (never by a re-implementation of the format).
//
//   segment_writer_tool DIR
//   publish NAME USERNAME|- SECRET EXPIRES_AT   -> "gen N"
//   pending NAME                                -> "gen N"  (known, no value yet)
//   remove NAME                                 -> "ok"
//   grow                                        -> "ok"     (a bigger file renamed over)
//   rotate NAME                                 -> publishes checksummed values (rotation_value)
//                                                  as fast as it can until the next line
//                                                  arrives, growing the file every 50,000;
//                                                  then "rotated N"
//   quit
// Anything else, or a failure: "error TEXT".
#include <poll.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "tokenwell/agent/segment/segment_writer.hpp"

namespace {

constexpr std::uint32_t kCapacity = 4096;
constexpr std::size_t kMaxToken = kCapacity - 8 - 24;  // room left after name and username
constexpr std::uint32_t kMaxGrows = 4;

// A value that carries its own checksum: everything derives from `seed`
// (client-shim/go's rotation test derives the same and compares).
struct RotationValue {
  std::string token, username;
  std::int64_t expires_at;
};
RotationValue rotation_value(std::uint64_t seed) {
  RotationValue v;
  char head[17];
  std::snprintf(head, sizeof head, "%016" PRIx64, seed);
  const std::size_t len = 16 + (seed * 7919u) % (kMaxToken - 16 + 1);
  v.token.assign(head, 16);
  v.token.resize(len);
  for (std::size_t i = 16; i < len; ++i)
    v.token[i] = static_cast<char>('a' + ((seed * 1315423911u + i * 2654435761u) >> 13) % 26);
  v.username = std::string("user-") + head;
  v.expires_at = 4'000'000'000 + static_cast<std::int64_t>(seed % 100000);
  return v;
}

bool line_waiting() {
  pollfd p{0, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: segment_writer_tool DIR\n");
    return 2;
  }
  tw::SystemClock clock;
  auto opened = tw::SegmentWriter::open(argv[1], {2, kCapacity}, clock);
  if (!opened.ok()) {
    std::printf("error %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& writer = *opened;
  std::uint64_t seed = 0;
  std::uint32_t grows = 0;
  auto grow = [&] {
    const auto l = writer->layout();
    return writer->resize({l.slot_count * 2, l.data_capacity});
  };
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, name;
    in >> cmd >> name;
    if (cmd == "publish" || cmd == "pending") {
      std::string username, secret;
      std::int64_t expires_at = 0;
      if (cmd == "publish") in >> username >> secret >> expires_at;
      if (username == "-") username.clear();
      tw::SlotValue v;
      v.username = username;
      v.secret = secret;
      v.expires_at = expires_at;
      v.has_value = cmd == "publish";
      auto gen = writer->publish(name, v);
      if (gen.ok()) std::printf("gen %" PRIu64 "\n", *gen);
      else std::printf("error %s\n", gen.error().message.c_str());
    } else if (cmd == "remove") {
      auto r = writer->remove(name);
      std::printf(r.ok() ? "ok\n" : "error %s\n", r.ok() ? "" : r.error().message.c_str());
    } else if (cmd == "grow") {
      auto r = grow();
      std::printf(r.ok() ? "ok\n" : "error %s\n", r.ok() ? "" : r.error().message.c_str());
    } else if (cmd == "rotate") {
      std::uint64_t publishes = 0;
      bool failed = false;
      while (!failed && !line_waiting()) {
        for (int k = 0; k < 256 && !failed; ++k, ++publishes) {
          const RotationValue r = rotation_value(++seed);
          tw::SlotValue v;
          v.username = r.username;
          v.secret = r.token;
          v.expires_at = r.expires_at;
          failed = !writer->publish(name, v).ok();
          if (!failed && publishes % 50000 == 49999 && grows < kMaxGrows) {
            failed = !grow().ok();
            ++grows;
          }
        }
      }
      std::getline(std::cin, line);  // the line that stopped the rotation
      std::printf(failed ? "error publish failed\n" : "rotated %" PRIu64 "\n", publishes);
    } else if (cmd == "quit") {
      return 0;
    } else {
      std::printf("error unknown command %s\n", cmd.c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}
