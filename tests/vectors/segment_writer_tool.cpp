// segment_writer_tool -- the agent's real SegmentWriter driven line by line
// from stdin, for every binding's tests (Go, Java, Rust, ...): they publish,
// rotate, remove and resize with the writer the agent uses, never with a
// writer of their own, and race their readers against it.
//
//   segment_writer_tool DIR [--slots N] [--capacity BYTES]     (defaults 8, 4096)
//
// One command per line, one answer line each ("ok ..." or "error MESSAGE");
// the protocol and the checksummed values are documented in README.md:
//   publish NAME USERNAME SECRET EXPIRES_AT   ok GEN        ("-" is an empty field)
//   pending NAME                              ok GEN        (known, no value yet)
//   remove NAME                               ok
//   resize SLOTS CAPACITY                     ok            (a new file renamed over)
//   rotate NAME COUNT [RESIZE_EVERY]          ok COUNT GEN  (COUNT values, then answers)
//   rotate NAME until-stop [RESIZE_EVERY]     ok COUNT GEN  (answers when the line "stop" comes)
// It exits at the end of stdin.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "segment_format.h"
#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"

namespace tw {
namespace {

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

// The format's name hash without its 0 -> 1 rule.
std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The value `rotate` publishes as generation `seed` (README.md, "Checksummed
// values"): every field derives from the seed and the token carries its own
// checksum, so a reader tells a torn or mixed read from a whole one.
struct RotatedValue {
  std::string token, username;
  std::int64_t expires_at;
};

RotatedValue rotated_value(std::uint64_t seed, std::size_t max_token) {
  // Lengths vary over the whole capacity so a torn length shows.
  const std::size_t len = 32 + (seed * 7919u) % (max_token - 32 + 1);
  std::string body = hex16(seed);
  for (std::size_t i = 16; i < len - 16; ++i) body += static_cast<char>('a' + (seed + i) % 26);
  return {body + hex16(fnv1a64(body)), "user-" + hex16(seed),
          4000000000 + static_cast<std::int64_t>(seed % 100000)};
}

// The segment's last_generation (a 64-bit field of the header, written only by
// this process): the next publish gets it + 1, so rotate's seeds are generations.
Result<std::uint64_t> last_generation(const std::filesystem::path& segment) {
  std::uint64_t last = 0;
  const int fd = ::open(segment.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot open " + segment.string());
  const ssize_t n = ::pread(fd, &last, sizeof last, offsetof(tw_seg_header, last_generation));
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof last)) return make_error("short segment header");
  return last;
}

// Lines from stdin, read with read(2) so `rotate ... until-stop` can tell,
// without blocking, whether its "stop" has arrived (even in the same read as
// the rotate line, which a stdio buffer would hide from poll).
class LineReader {
 public:
  bool next(std::string& line) {
    while (true) {
      if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
        line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      if (!fill()) {
        if (buf_.empty()) return false;
        line = std::move(buf_);
        buf_.clear();
        return true;
      }
    }
  }

  bool line_waiting() {
    while (buf_.find('\n') == std::string::npos) {
      pollfd p{0, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0 || !fill()) return eof_;
    }
    return true;
  }

 private:
  bool fill() {
    char chunk[4096];
    ssize_t n;
    do n = ::read(0, chunk, sizeof chunk);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  std::string buf_;
  bool eof_ = false;
};

bool parse_u64(const std::string& word, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(word.c_str(), &end, 10);
  return !word.empty() && word[0] != '-' && *end == '\0';
}

std::string field(const std::string& word) { return word == "-" ? "" : word; }

std::string answer_of(const Result<std::uint64_t>& gen) {
  return gen ? "ok " + std::to_string(*gen) : "error " + gen.error().message;
}

std::string answer_of(const Result<void>& done) { return done ? "ok" : "error " + done.error().message; }

class Tool {
 public:
  Tool(SegmentWriter& w, LineReader& lines) : w_(w), lines_(lines) {}

  std::string command(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, name;
    in >> cmd >> name;
    if (cmd == "publish") {
      std::string user, secret;
      std::int64_t expires = 0;
      if (!(in >> user >> secret >> expires)) return "error usage: publish NAME USERNAME SECRET EXPIRES_AT";
      return answer_of(w_.publish(name, {.username = field(user), .secret = field(secret), .expires_at = expires}));
    }
    if (cmd == "pending") return answer_of(w_.publish(name, {.has_value = false}));
    if (cmd == "remove") return answer_of(w_.remove(name));
    if (cmd == "resize") {
      std::string capacity_word;
      in >> capacity_word;
      std::uint64_t slots = 0, capacity = 0;
      if (!parse_u64(name, slots) || !parse_u64(capacity_word, capacity) || slots > UINT32_MAX ||
          capacity > UINT32_MAX)
        return "error usage: resize SLOTS CAPACITY";
      return answer_of(w_.resize({.slot_count = static_cast<std::uint32_t>(slots),
                                  .data_capacity = static_cast<std::uint32_t>(capacity)}));
    }
    if (cmd == "rotate") {
      std::string count_word, every_word, extra;
      in >> count_word >> every_word >> extra;
      const bool until_stop = count_word == "until-stop";
      std::uint64_t count = 0, resize_every = 0;
      if (name.empty() || !extra.empty() || (!until_stop && !parse_u64(count_word, count)) ||
          (!every_word.empty() && !parse_u64(every_word, resize_every)))
        return "error usage: rotate NAME COUNT|until-stop [RESIZE_EVERY]";
      std::string answer = rotate(name, until_stop, count, resize_every);
      if (until_stop) {
        std::string stop;
        lines_.next(stop);  // the line that ended it
        if (stop != "stop") return "error rotate until-stop ended by '" + stop + "', not 'stop'";
      }
      return answer;
    }
    return "error unknown command '" + cmd + "' (publish, pending, remove, resize, rotate)";
  }

 private:
  std::string rotate(const std::string& name, bool until_stop, std::uint64_t count, std::uint64_t resize_every) {
    auto last = last_generation(w_.path());
    if (!last) return "error " + last.error().message;
    std::uint64_t gen = *last, published = 0;
    while (until_stop ? !(published % 256 == 0 && lines_.line_waiting()) : published < count) {
      // Room for the token after the name and "user-" + 16 hex digits, each padded to 8 bytes.
      const std::size_t max_token = w_.layout().data_capacity - ((name.size() + 7) & ~std::size_t{7}) - 24;
      const RotatedValue v = rotated_value(gen + 1, max_token);
      auto got = w_.publish(name, {.username = v.username, .secret = v.token, .expires_at = v.expires_at});
      if (!got) return "error " + got.error().message;
      if (*got != gen + 1) return "error seed " + std::to_string(gen + 1) + " published as generation " +
                                  std::to_string(*got);
      gen = *got;
      ++published;
      // A new file with the same layout renamed over: readers see REPLACED and follow it.
      if (resize_every != 0 && published % resize_every == 0) {
        if (auto done = w_.resize(w_.layout()); !done) return "error " + done.error().message;
      }
    }
    return "ok " + std::to_string(published) + " " + std::to_string(gen);
  }

  SegmentWriter& w_;
  LineReader& lines_;
};

int run(const std::string& dir, SegmentLayout layout) {
  SystemClock clock;
  auto writer = SegmentWriter::open(dir, layout, clock);
  if (!writer) {
    std::cerr << "segment_writer_tool: " << writer.error().message << "\n";
    return 1;
  }
  LineReader lines;
  Tool tool(**writer, lines);
  std::string line;
  while (lines.next(line)) std::cout << tool.command(line) << std::endl;
  return 0;
}

}  // namespace
}  // namespace tw

int main(int argc, char** argv) {
  if (argc < 2 || argc % 2 != 0) {
    std::cerr << "usage: segment_writer_tool DIR [--slots N] [--capacity BYTES]\n";
    return 2;
  }
  tw::SegmentLayout layout{.slot_count = 8, .data_capacity = 4096};
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const auto value = static_cast<std::uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    if (opt == "--slots") {
      layout.slot_count = value;
    } else if (opt == "--capacity") {
      layout.data_capacity = value;
    } else {
      std::cerr << "segment_writer_tool: unknown option " << opt << "\n";
      return 2;
    }
  }
  return tw::run(argv[1], layout);
}
