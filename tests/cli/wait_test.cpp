// `tokenwell wait`: returns the first newer generation as soon as it is
// published (also while the agent has not created the segment yet), and
// reports a --timeout with the exit code that says what was missing.
#include <sys/syscall.h>

#include <filesystem>

#include "cli/cli_test_util.hpp"

namespace tw::test {
namespace {

using Wait = CliTest;

// The CLI blocks on the segment's futex, or in poll() while it waits for the
// segment to be created.
bool waiting_on_futex(const Process& p) { return blocked_in(p.pid(), {SYS_futex}); }
bool waiting_for_segment(const Process& p) {
#ifdef SYS_poll
  return blocked_in(p.pid(), {SYS_poll, SYS_ppoll});
#else
  return blocked_in(p.pid(), {SYS_ppoll});
#endif
}

TEST_F(Wait, AfterReturnsTheGenerationPublishedNext) {
  const std::uint64_t first = publish("redis", credential("oid-1", "token-1"));
  Process p(cli_args({"wait", "redis", "--after", std::to_string(first)}));
  const std::uint64_t second = publish("redis", credential("oid-1", "token-2"));
  const Outcome o = p.finish();
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, std::to_string(second) + "\n");
}

TEST_F(Wait, AfterAnOlderGenerationReturnsAtOnce) {
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell({"wait", "redis", "--after", "0"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, std::to_string(gen) + "\n");
}

TEST_F(Wait, WithoutAfterWaitsForTheNextRotation) {
  publish("redis", credential("oid-1", "token-1"));
  Process p(cli_args({"wait", "redis"}));
  ASSERT_TRUE(waiting_on_futex(p)) << "the current generation does not end the wait";
  const std::uint64_t next = publish("redis", credential("oid-1", "token-2"));
  const Outcome o = p.finish();
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, std::to_string(next) + "\n");
}

TEST_F(Wait, ForANameTheAgentHasNotPublishedYet) {
  publish("other", credential("oid-1", "token-1"));
  Process p(cli_args({"wait", "redis"}));
  ASSERT_TRUE(waiting_on_futex(p));
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1"));
  const Outcome o = p.finish();
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, std::to_string(gen) + "\n");
}

TEST_F(Wait, WhileTheAgentHasNotCreatedTheSegment) {
  Process p(cli_args({"wait", "redis", "--timeout", "60"}));
  ASSERT_TRUE(waiting_for_segment(p));
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1"));
  const Outcome o = p.finish();
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, std::to_string(gen) + "\n");
}

TEST_F(Wait, WhileTheRuntimeDirectoryDoesNotExistYet) {
  const auto runtime = dir.path() / "run";
  Process p({TOKENWELL_CLI, "--dir", runtime.string(), "wait", "redis", "--timeout", "60"});
  ASSERT_TRUE(waiting_for_segment(p));
  std::filesystem::create_directory(runtime);
  auto w = SegmentWriter::open(runtime, {4, 1024}, clock);
  ASSERT_TRUE(w.ok());
  const auto gen = (*w)->publish("redis", credential("oid-1", "token-1"));
  ASSERT_TRUE(gen.ok());
  const Outcome o = p.finish();
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, std::to_string(*gen) + "\n");
}

TEST_F(Wait, TimeoutWithNothingNewerIs4) {
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell({"wait", "redis", "--timeout", "0.2"});
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: timed out after 0.2 s waiting for a generation of 'redis' newer than " +
                       std::to_string(gen) + "\n");
}

TEST_F(Wait, TimeoutZeroOnlyLooks) {
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1"));
  EXPECT_EQ(tokenwell({"wait", "redis", "--timeout", "0"}).exit_code, 4);
  EXPECT_EQ(tokenwell({"wait", "redis", "--timeout", "0", "--after", std::to_string(gen - 1)}).out,
            std::to_string(gen) + "\n");
}

TEST_F(Wait, TimeoutForANameThatNeverAppearedIs3) {
  publish("other", credential("oid-1", "token-1"));
  const Outcome o = tokenwell({"wait", "redis", "--timeout", "0.1"});
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.err, "tokenwell: no credential or keyset named 'redis' in " + segment_path() +
                       "; timed out after 0.1 s\n");
}

TEST_F(Wait, TimeoutWithoutASegmentIs5) {
  const Outcome o = tokenwell({"wait", "redis", "--timeout", "0.1"});
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_EQ(o.err, "tokenwell: no segment at " + segment_path() +
                       " (is tokenwell-agent running?); timed out after 0.1 s\n");
}

TEST_F(Wait, CorruptSegmentFailsAtOnceEvenWithoutTimeout) {
  std::ofstream(segment_path()) << std::string(4096, 'x');
  const Outcome o = tokenwell({"wait", "redis"});
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_NE(o.err.find("is not a valid tokenwell segment"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace tw::test
