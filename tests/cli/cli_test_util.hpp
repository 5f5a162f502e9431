// cli_test_util.hpp -- runs the real `tokenwell` binary against a real
// segment in a temporary directory, for the CLI tests.
//
//   TEST_F(CliTest, Example) {
//     publish("redis", credential("oid-1", "token-1"));
//     Outcome o = tokenwell({"get", "redis"});  // --dir is added
//     EXPECT_EQ(o.out, "token-1\n");
//   }
//
// Nothing here sleeps: a child is read until EOF with poll() under a generous
// bound, and a test that must act while the CLI blocks waits until
// /proc/PID/syscall shows it blocked.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/test_util.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"

extern char** environ;

namespace tw::test {

// Bound on anything that should finish at once: only a broken CLI hits it.
inline constexpr std::chrono::seconds kBound{30};

inline std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Outcome {
  int exit_code = -1;  // -1 when ended by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

// Variables to set in a child (nullopt: unset), over a copy of ours.
using Env = std::vector<std::pair<std::string, std::optional<std::string>>>;

// A child process with stdout and stderr on pipes and stdin on /dev/null
// (or the file `stdin_path`).
class Process {
 public:
  Process(const std::vector<std::string>& argv, const Env& env = {},
          const std::string& stdin_path = "/dev/null") {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const std::vector<std::string> vars = environment(env);
    std::vector<char*> envp;
    for (const auto& v : vars) envp.push_back(const_cast<char*>(v.c_str()));
    envp.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    fds_[0] = out[0];
    fds_[1] = err[0];
    if (rc != 0) {
      pid_ = -1;
      ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << std::strerror(rc);
    }
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap();
    }
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // Reads stdout until it contains `marker` (true), EOF or kBound (false).
  bool read_stdout_until(std::string_view marker) {
    const auto deadline = std::chrono::steady_clock::now() + kBound;
    while (outcome_.out.find(marker) == std::string::npos) {
      if (fds_[0] < 0 || !read_some(deadline, /*only_stdout=*/true)) return false;
    }
    return true;
  }

  // Reads both pipes to EOF and reaps the child. A child still running
  // after kBound is killed and fails the test.
  Outcome finish() {
    const auto deadline = std::chrono::steady_clock::now() + kBound;
    while (fds_[0] >= 0 || fds_[1] >= 0) {
      if (!read_some(deadline, false)) {
        ADD_FAILURE() << "child still running after " << kBound.count() << " s; killed";
        ::kill(pid_, SIGKILL);
        break;
      }
    }
    reap();
    return outcome_;
  }

 private:
  static std::vector<std::string> environment(const Env& env) {
    std::vector<std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view var = *e;
      const std::string_view key = var.substr(0, var.find('='));
      // The tests choose the directory; an outer TOKENWELL_DIR must not leak in.
      bool replaced = key == "TOKENWELL_DIR";
      for (const auto& [k, v] : env) replaced = replaced || key == k;
      if (!replaced) vars.emplace_back(var);
    }
    for (const auto& [k, v] : env)
      if (v) vars.push_back(k + "=" + *v);
    return vars;
  }

  // One poll round; false when the deadline passed.
  bool read_some(std::chrono::steady_clock::time_point deadline, bool only_stdout) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p[2] = {{fds_[0], POLLIN, 0}, {only_stdout ? -1 : fds_[1], POLLIN, 0}};
    if (::poll(p, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) return false;
    std::string* sinks[2] = {&outcome_.out, &outcome_.err};
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || p[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds_[i], buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds_[i]);
        fds_[i] = -1;
      }
    }
    return true;
  }

  void reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (WIFEXITED(status)) outcome_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) outcome_.signal = WTERMSIG(status);
  }

  pid_t pid_ = -1;
  int fds_[2] = {-1, -1};
  Outcome outcome_;
};

// True once `pid` is blocked in one of `syscalls` (/proc/PID/syscall); false
// if it ends first or kBound passes. Lets a test act only once the CLI is
// really waiting, instead of sleeping and hoping it is.
inline bool blocked_in(pid_t pid, std::initializer_list<long> syscalls) {
  const std::string proc = "/proc/" + std::to_string(pid);
  const auto deadline = std::chrono::steady_clock::now() + kBound;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream stat(proc + "/stat");
    std::string pid_field, comm, state;
    if (!(stat >> pid_field >> comm >> state) || state == "Z") return false;
    std::ifstream syscall(proc + "/syscall");
    long nr = -1;
    if (syscall >> nr)
      for (long s : syscalls)
        if (nr == s) return true;
    sched_yield();
  }
  return false;
}

// A fresh runtime directory, a writer on it (opened on first publish) and
// the CLI pointed at it with --dir.
class CliTest : public ::testing::Test {
 protected:
  TempDir dir;
  SystemClock clock;

  std::string segment_path() const { return (dir.path() / "segment").string(); }

  SegmentWriter& writer() {
    if (!writer_) {
      auto w = SegmentWriter::open(dir.path(), {8, 1024}, clock);
      if (!w) throw std::runtime_error("SegmentWriter::open: " + w.error().message);
      writer_ = std::move(*w);
    }
    return *writer_;
  }

  std::uint64_t publish(std::string_view name, const SlotValue& value) {
    auto gen = writer().publish(name, value);
    EXPECT_TRUE(gen.ok()) << (gen.ok() ? "" : gen.error().message);
    return gen.ok() ? *gen : 0;
  }

  static SlotValue credential(std::string_view username, std::string_view token,
                              std::int64_t expires_at = now_s() + 3600) {
    SlotValue v;
    v.username = username;
    v.secret = token;
    v.expires_at = expires_at;
    return v;
  }

  // argv for the CLI with --dir first.
  std::vector<std::string> cli_args(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {TOKENWELL_CLI, "--dir", dir.path().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  Outcome tokenwell(const std::vector<std::string>& args, const Env& env = {}) {
    return Process(cli_args(args), env).finish();
  }

 private:
  std::unique_ptr<SegmentWriter> writer_;
};

}  // namespace tw::test
