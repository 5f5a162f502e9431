// child_process.hpp -- a real child process for integration tests: stdout and
// stderr appended to files, waited for with a pidfd and a bound, killed with
// SIGKILL if a test leaves it running.
//
//   tw::test::Child agent({TOKENWELL_AGENT, "--config", cfg}, dir / "out", dir / "err",
//                         {.extra_env = {"AZURE_CLIENT_ID=..."}});
//   agent.kill(SIGTERM);
//   EXPECT_EQ(agent.wait_exit(10000), 0);
//
// `.as` runs the child as another user (the test must be root): its groups,
// gid and uid are set before exec, so the kernel checks it like any process
// of that user -- file permissions and SO_PEERCRED alike.
//
//   tw::test::Child reader({TOKENWELL_CLI, "get", "redis"}, out, err,
//                          {.as = tw::test::Identity{4001, 4001, {4100}}});
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace tw::test {

// A user to run a child as: uid, (primary) gid and supplementary groups.
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

struct ChildOptions {
  bool clean_env = false;               // only PATH=/usr/bin:/bin, plus extra_env
  std::vector<std::string> extra_env;   // "NAME=value", added (or overriding)
  std::optional<Identity> as;           // run as this user (needs root); exit 126 if that fails
};

class Child {
 public:
  Child(const std::vector<std::string>& args, const std::filesystem::path& out,
        const std::filesystem::path& err, ChildOptions options = {}) {
    // Everything the child needs is built before fork: after it, only
    // async-signal-safe calls.
    std::vector<std::string> env;
    if (options.clean_env) {
      env.push_back("PATH=/usr/bin:/bin");
    } else {
      for (char** e = environ; *e; ++e) env.push_back(*e);
    }
    for (const auto& kv : options.extra_env) {
      const auto key = kv.substr(0, kv.find('=') + 1);
      std::erase_if(env, [&](const std::string& e) { return e.rfind(key, 0) == 0; });
      env.push_back(kv);
    }
    std::vector<char*> argv, envp;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(o, 1);
      dup2(e, 2);
      if (options.as) {
        const Identity& id = *options.as;
        if (setgroups(id.groups.size(), id.groups.data()) != 0 || setgid(id.gid) != 0 ||
            setuid(id.uid) != 0)
          _exit(126);
      }
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  }
  ~Child() {
    if (running()) {
      kill(SIGKILL);
      wait_exit(10000);
    }
    if (pidfd_ >= 0) close(pidfd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return status_ < 0; }
  void kill(int sig) { ::kill(pid_, sig); }
  // Exit code (or 128 + signal), or -1 if still running after timeout_ms.
  int wait_exit(int timeout_ms) {
    if (!running()) return status_;
    pollfd p{pidfd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return -1;
    int st = 0;
    waitpid(pid_, &st, 0);
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int status_ = -1;
};

}  // namespace tw::test
