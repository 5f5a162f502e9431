// wait.cpp -- `tokenwell wait NAME [--after GEN] [--timeout SECONDS]`.
//
// Prints the first generation of NAME newer than GEN. Without --after, GEN is
// the generation current when the command starts, so it waits for the next
// rotation; while there is no segment or no such entry yet, any generation
// counts, so an init container can run `tokenwell wait redis` before the agent
// has started. The wait itself is the futex in the segment: no polling.
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "cli.hpp"

namespace tw::cli {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// When waiting ends: a point in time, or never.
class Deadline {
 public:
  explicit Deadline(std::optional<milliseconds> timeout) {
    if (timeout) at_ = SteadyClock::now() + *timeout;
  }
  bool passed() const { return at_ && SteadyClock::now() >= *at_; }
  // Time left (never negative), or nullopt for no deadline.
  std::optional<milliseconds> remaining() const {
    if (!at_) return std::nullopt;
    return std::max(milliseconds(0),
                    std::chrono::ceil<milliseconds>(*at_ - SteadyClock::now()));
  }

 private:
  std::optional<SteadyClock::time_point> at_;
};

// Wakes up when a file appears in a directory. The agent creates the segment
// by renaming a complete file into place, so such an event is when it may
// become readable. Waits are capped anyway: a directory that does not exist
// yet cannot be watched, and a cap bounds any event we could not see.
class DirectoryWatch {
 public:
  explicit DirectoryWatch(std::string dir)
      : dir_(std::move(dir)), fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    watching_ = add();
  }
  ~DirectoryWatch() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirectoryWatch(const DirectoryWatch&) = delete;
  DirectoryWatch& operator=(const DirectoryWatch&) = delete;

  void wait(milliseconds limit) {
    if (!watching_) {
      watching_ = add();
      if (watching_) return;  // added only now, it may have missed the file: look again
    }
    static constexpr milliseconds kCap(1000);
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, watching_ ? 1 : 0, static_cast<int>(std::min(limit, kCap).count()));
    char events[4096];
    while (watching_ && ::read(fd_, events, sizeof events) > 0) {
    }
  }

 private:
  bool add() {
    return fd_ >= 0 &&
           inotify_add_watch(fd_, dir_.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) >= 0;
  }
  std::string dir_;
  int fd_;
  bool watching_ = false;
};

struct OpenedSegment {
  tw::Client client;
  bool existed_at_start;
};

// Opens the segment, waiting until the deadline for the agent to create it.
// Only a missing file is worth waiting for: one that is there but unreadable,
// corrupt or from a newer agent will not mend itself.
OpenedSegment open_when_created(const Context& ctx, const Deadline& deadline,
                                const std::string& timeout_text) {
  DirectoryWatch watch(ctx.dir);  // before the first look, so no creation is missed
  bool existed_at_start = true;
  for (;;) {
    auto client = tw::Client::open(ctx.dir);
    if (client) return {std::move(client).value(), existed_at_start};
    if (client.code() != TOKENWELL_EUNAVAILABLE) throw segment_failure(ctx, client.code());
    struct stat st;
    if (::lstat(ctx.segment_path().c_str(), &st) == 0) {
      // Created since open() looked, or there but unreadable: one more try tells.
      auto again = tw::Client::open(ctx.dir);
      if (again) return {std::move(again).value(), existed_at_start};
      throw segment_failure(ctx, again.code());
    }
    if (deadline.passed()) {
      Failure f = segment_failure(ctx, client.code());
      f.message += "; timed out after " + timeout_text + " s";
      throw f;
    }
    watch.wait(deadline.remaining().value_or(milliseconds::max()));
    existed_at_start = false;
  }
}

// The generation to wait beyond when --after is not given.
std::uint64_t current_generation(const tw::Client& client, const Context& ctx,
                                 std::string_view name) {
  const auto info = client.stat(name);
  if (info) return info->generation;  // valid, expired or pending alike
  if (info.code() == TOKENWELL_ENOTFOUND) return 0;
  throw segment_failure(ctx, info.code(), name);
}

// Why nothing arrived in time: the name never appeared (3), or it exists
// and was not republished (4).
Failure timed_out(const tw::Client& client, const Context& ctx, std::string_view name,
                  std::uint64_t after, const std::string& timeout_text) {
  const std::string suffix = "timed out after " + timeout_text + " s";
  if (client.stat(name).code() == TOKENWELL_ENOTFOUND) {
    Failure f = segment_failure(ctx, TOKENWELL_ENOTFOUND, name);
    f.message += "; " + suffix;
    return f;
  }
  return {kNoValue, suffix + " waiting for a generation of " + quote(name) + " newer than " +
                        std::to_string(after)};
}

}  // namespace

int run_wait(const Context& ctx, Argv argv) {
  static constexpr OptionSpec kOptions[] = {{"--after", true}, {"--timeout", true}};
  const Args args = Args::parse("wait", argv, kOptions);
  const std::string& name = args.name();
  const auto after_text = args.value("--after");
  const auto timeout_text = args.value("--timeout");
  std::optional<std::uint64_t> after;
  if (after_text) after = parse_generation("--after", *after_text);
  std::optional<milliseconds> timeout;
  if (timeout_text) timeout = parse_seconds("--timeout", *timeout_text);

  const Deadline deadline(timeout);
  auto [client, existed_at_start] = open_when_created(ctx, deadline, timeout_text.value_or(""));
  if (!after) after = existed_at_start ? current_generation(client, ctx, name) : 0;

  const auto generation = client.wait(name, *after, deadline.remaining());
  if (generation) {
    write_stdout(std::to_string(*generation) + '\n');
    return kOk;
  }
  if (generation.code() == TOKENWELL_ETIMEOUT)
    throw timed_out(client, ctx, name, *after, timeout_text.value_or(""));
  throw segment_failure(ctx, generation.code(), name);
}

}  // namespace tw::cli
