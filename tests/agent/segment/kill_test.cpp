// A writer killed with SIGKILL in the middle of a publish: readers keep
// reading an intact value at once and never hang, and the next writer adopts
// the segment, repairs the torn copy and continues the generations.
//
// Deterministic: the writer runs in a child process with a write hook that
// stops it exactly at the chosen point of the latch protocol, tells the parent
// over a pipe, and waits to be killed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "support/test_util.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

SlotValue value(std::string_view token, std::string_view user) {
  SlotValue v;
  v.username = user;
  v.secret = token;
  v.expires_at = 4'000'000'000;
  return v;
}

struct Read {
  int rc;
  std::string token;
  std::string user;
  std::uint64_t generation;
};

Read read_now(tokenwell* tw) {
  char buf[8192], user[TOKENWELL_USERNAME_MAX + 1];
  size_t len = 0;
  std::uint64_t gen = 0;
  int rc = tokenwell_read(tw, "redis", buf, sizeof buf, &len, user, sizeof user, nullptr, &gen);
  return {rc, rc == TOKENWELL_OK ? std::string(buf, len) : "", rc == TOKENWELL_OK ? user : "",
          gen};
}

// Starts a writer child that publishes `first`, then starts publishing
// `second` and freezes at `phase`. Returns its pid once it is frozen there.
pid_t start_frozen_writer(const std::filesystem::path& dir, WritePhase phase,
                          const std::string& first, const std::string& second) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    SystemClock clock;
    auto w = SegmentWriter::open(dir, {4, 8192}, clock);
    if (!w.ok() || !(*w)->publish("redis", value(first, "user-first")).ok()) _exit(2);
    (*w)->set_write_hook([&](WritePhase at) {
      if (at != phase) return;
      char c = 'x';
      if (write(p[1], &c, 1) != 1) _exit(3);
      for (;;) pause();  // until SIGKILL
    });
    (void)(*w)->publish("redis", value(second, "user-second"));
    _exit(4);  // the hook never returns
  }
  close(p[1]);
  char c;
  ssize_t n = read(p[0], &c, 1);
  close(p[0]);
  return n == 1 ? pid : -1;
}

void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
}

class WriterKilled : public ::testing::TestWithParam<WritePhase> {};

TEST_P(WriterKilled, ReadersKeepAnIntactValueAndNextWriterRepairs) {
  test::TempDir dir;
  const std::string first(3000, 'A'), second(5000 / 2, 'B');
  pid_t pid = start_frozen_writer(dir.path(), GetParam(), first, second);
  ASSERT_GT(pid, 0);

  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_OK);
  // Frozen in copy 0: readers use copy 1, the old value. Frozen in copy 1:
  // readers use copy 0, already the whole new value.
  const bool in_first = GetParam() == WritePhase::first_copy_half_written;
  const std::string& expect = in_first ? first : second;
  const std::string expect_user = in_first ? "user-first" : "user-second";
  Read before_kill = read_now(tw);
  ASSERT_EQ(before_kill.rc, TOKENWELL_OK) << tokenwell_strerror(before_kill.rc);
  EXPECT_EQ(before_kill.token, expect);
  EXPECT_EQ(before_kill.user, expect_user);

  kill_and_reap(pid);
  for (int i = 0; i < 1000; ++i) {  // many reads, none torn, none busy
    Read r = read_now(tw);
    ASSERT_EQ(r.rc, TOKENWELL_OK);
    ASSERT_EQ(r.token, expect);
  }

  // A new writer adopts the segment; its next publish must not expose the
  // copy the dead writer left half-written.
  SystemClock clock;
  auto w = SegmentWriter::open(dir.path(), {4, 8192}, clock);
  ASSERT_TRUE(w.ok()) << w.error().message;
  Read adopted = read_now(tw);
  ASSERT_EQ(adopted.rc, TOKENWELL_OK);
  EXPECT_EQ(adopted.token, expect);
  // Freeze the new writer's publish right after it flips readers to copy 1,
  // which the adoption must have repaired.
  bool checked = false;
  (*w)->set_write_hook([&](WritePhase at) {
    if (at != WritePhase::first_copy_half_written) return;
    Read mid = read_now(tw);
    EXPECT_EQ(mid.rc, TOKENWELL_OK);
    EXPECT_EQ(mid.token, expect) << "adoption left a torn copy behind";
    checked = true;
  });
  auto gen = (*w)->publish("redis", value("third", "user-third"));
  ASSERT_TRUE(gen.ok());
  EXPECT_TRUE(checked);
  Read after = read_now(tw);
  ASSERT_EQ(after.rc, TOKENWELL_OK);
  EXPECT_EQ(after.token, "third");
  EXPECT_GT(after.generation, before_kill.generation);
  tokenwell_close(tw);
}

INSTANTIATE_TEST_SUITE_P(AtEachHalf, WriterKilled,
                         ::testing::Values(WritePhase::first_copy_half_written,
                                           WritePhase::second_copy_half_written),
                         [](const ::testing::TestParamInfo<WritePhase>& p) {
                           return p.param == WritePhase::first_copy_half_written
                                      ? std::string("InFirstCopy")
                                      : std::string("InSecondCopy");
                         });

}  // namespace
}  // namespace tw
