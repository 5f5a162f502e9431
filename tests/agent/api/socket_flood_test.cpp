// Floods of the Unix socket from another uid (a child process that becomes
// it): a uid not in `allow` is refused when its connection is accepted, so
// it holds no slot and few descriptors; an allowed uid holds at most its
// per-uid share. Meanwhile the agent's own uid keeps getting its answers.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>

#include "api_test_support.hpp"

namespace tw::testing {
namespace {

constexpr uid_t kNobody = 65534;
constexpr int kFloodSize = 3000;
constexpr std::size_t kMaxConnections = 1024;  // a quarter of it, 256, is one uid's share
// Refused peers' sockets the server keeps until their clients have read the
// 403 (HttpServer::kMaxRefusals); the flooder never sends, so they stay.
constexpr std::size_t kMaxRefusals = 64;

std::size_t open_descriptors() {
  const std::filesystem::directory_iterator fds("/proc/self/fd");
  return static_cast<std::size_t>(std::distance(begin(fds), end(fds)));
}

// A child process that becomes `uid` (and gid), opens `count` connections to
// the socket, sends nothing on them, and holds them until the Flood is
// destroyed. Async-signal-safe calls only after fork (the test has threads).
class Flood {
 public:
  Flood(const std::filesystem::path& socket, uid_t uid, int count) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socket.string();
    std::copy(path.begin(), path.end(), addr.sun_path);
    int report[2];
    int hold[2];
    if (::pipe2(report, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(report[0]);
      ::close(hold[1]);
      const rlimit files{static_cast<rlim_t>(count) + 64, static_cast<rlim_t>(count) + 64};
      if (::setrlimit(RLIMIT_NOFILE, &files) != 0 || ::setgroups(0, nullptr) != 0 ||
          ::setgid(uid) != 0 || ::setuid(uid) != 0)
        ::_exit(10);
      // A connect() waits for room in the listen backlog at most this long.
      const timeval backlog_wait{1, 0};
      std::int32_t connected = 0;
      for (int i = 0; i < count; ++i) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) break;
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &backlog_wait, sizeof backlog_wait);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
          ++connected;
        else
          ::close(fd);
      }
      if (::write(report[1], &connected, sizeof connected) != sizeof connected) ::_exit(11);
      char byte;
      (void)!::read(hold[0], &byte, 1);  // EOF: the parent lets go
      ::_exit(0);
    }
    ::close(report[1]);
    ::close(hold[0]);
    report_ = report[0];
    hold_ = hold[1];
  }

  Flood(const Flood&) = delete;
  Flood& operator=(const Flood&) = delete;
  ~Flood() {
    if (hold_ >= 0) ::close(hold_);
    if (report_ >= 0) ::close(report_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }

  bool started() const { return pid_ > 0; }

  // Whether every connection has been made (or tried).
  bool done() {
    pollfd p{report_, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

  // The connections made, once done (-1: the child failed or took over 15 s).
  int connected() {
    pollfd p{report_, POLLIN, 0};
    std::int32_t n = -1;
    if (::poll(&p, 1, 15'000) != 1 || ::read(report_, &n, sizeof n) != sizeof n) return -1;
    return n;
  }

 private:
  pid_t pid_ = -1;
  int report_ = -1;
  int hold_ = -1;
};

class SocketFloodTest : public SocketApiTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another uid (CI runs tests as root)";
    // Room for what the code before the accept-time check held: every slot.
    ASSERT_TRUE(ensure_open_files(2 * kMaxConnections + 256)) << "cannot raise RLIMIT_NOFILE";
    backend.publish("redis", "eyJ0eXAi.s3cret-token-value.sig");
  }

  // Asks for the credential as the agent's own uid (root) while `flood`
  // runs and a few times after; every answer must be a 200. Returns the
  // most descriptors the process (the agent's side) had open meanwhile.
  std::size_t ask_throughout(Flood& flood) {
    std::size_t most = open_descriptors();
    int during = 0;
    const auto ask = [&](const char* when, int i) {
      const auto r = get("/v1/credentials/redis");
      if (!r) {
        ADD_FAILURE() << "request " << i << " " << when << " the flood got no answer";
        return false;
      }
      EXPECT_EQ(r->result_int(), 200) << "request " << i << " " << when << " the flood";
      most = std::max(most, open_descriptors());
      return r->result_int() == 200;
    };
    while (!flood.done())
      if (!ask("during", during++)) return most;
    for (int i = 0; i < 20; ++i)
      if (!ask("after", i)) return most;
    std::cout << "[          ] " << during << " answers during the flood\n";
    return most;
  }

  // Opens the API with `o` (and kMaxConnections), then floods it with
  // kFloodSize connections as nobody while asking throughout; the flood
  // stays open until the test ends.
  void flood_while_asking(SocketApiOptions o) {
    o.limits.max_connections = kMaxConnections;
    open(o);
    baseline_ = open_descriptors();
    flood_.emplace(socket_path(), kNobody, kFloodSize);
    ASSERT_TRUE(flood_->started());
    most_ = ask_throughout(*flood_);
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(flood_->connected(), kFloodSize);
  }

  std::optional<Flood> flood_;
  std::size_t baseline_ = 0;  // descriptors open before the flood
  std::size_t most_ = 0;      // the most open while it ran
};

TEST_F(SocketFloodTest, ARefusedUidsFloodHoldsNoSlotsAndAllowedCallersKeepTheirAnswers) {
  ASSERT_NO_FATAL_FAILURE(flood_while_asking(options()));

  // No refused connection took a slot; the flood, still held open by its
  // sender, costs the agent at most the refusals it keeps for a moment.
  EXPECT_LE(most_, baseline_ + kMaxRefusals + 8) << "baseline " << baseline_;
  EXPECT_LE(open_descriptors(), baseline_ + kMaxRefusals + 8);
  // Those are closed within a second, though their sender never sends.
  advance(1s);
  EXPECT_TRUE(eventually([&] { return open_descriptors() <= baseline_ + 2; }))
      << open_descriptors() << " open, baseline " << baseline_;
  // Every one was counted as a 403 answered before any request was read.
  EXPECT_TRUE(eventually([&] { return metric("tokenwell_socket_denied_total") == kFloodSize; }))
      << metrics.scrape();
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="403",path="other"})"), kFloodSize);
  EXPECT_EQ(metric("tokenwell_socket_connections_refused_total"), 0);
  EXPECT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == 0; }));
  // Logged at most once a second, naming who.
  const std::string lines = log.text();
  EXPECT_NE(lines.find("warn caller denied: uid and gid not in allow listener=socket API uid=65534"),
            std::string::npos)
      << lines;
  EXPECT_LT(std::count(lines.begin(), lines.end(), '\n'), 10) << lines;
}

TEST_F(SocketFloodTest, OneAllowedUidCannotTakeTheSlotsOfAnother) {
  SocketApiOptions o = options();
  o.allow = {.uids = {0, kNobody}, .gids = {}};
  ASSERT_NO_FATAL_FAILURE(flood_while_asking(o));

  // nobody holds its share, 256 idle connections; the rest were closed at once.
  constexpr std::size_t kShare = kMaxConnections / 4;
  EXPECT_TRUE(eventually([&] {
    return metric("tokenwell_socket_connections_refused_total") == kFloodSize - kShare;
  })) << metrics.scrape();
  EXPECT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == kShare; }));
  EXPECT_LE(most_, baseline_ + kShare + 8) << "baseline " << baseline_;
  EXPECT_NE(log.text().find("warn a uid has max_connections_per_uid open; its new connections are "
                            "closed at once listener=socket API uid=65534 "
                            "max_connections_per_uid=256 suppressed=0"),
            std::string::npos)
      << log.text();
}

}  // namespace
}  // namespace tw::testing
