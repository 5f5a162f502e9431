// After tokenwell_open(), reading makes no system call: strace records
// nothing between the probe's two marker writes around 10,000 reads.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_util.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"

namespace tw {
namespace {

TEST(SegmentReadPath, MakesNoSystemCallAfterOpen) {
  test::TempDir dir;
  SystemClock clock;
  auto w = SegmentWriter::open(dir.path(), {4, 4096}, clock);
  ASSERT_TRUE(w.ok());
  SlotValue v;
  v.username = "oid";
  const std::string token(2048, 't');
  v.secret = token;
  v.expires_at = clock.unix_seconds() + 3600;
  ASSERT_TRUE((*w)->publish("redis", v).ok());

  const auto trace = dir.path() / "strace.out";
  const std::string cmd = "strace -f -qq -o " + trace.string() + " " + TOKENWELL_READ_PROBE +
                          " " + dir.path().string() + " redis 10000 > /dev/null";
  int st = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "strace or the probe failed: " << cmd;

  std::ifstream in(trace);
  std::vector<std::string> between;
  bool inside = false, saw_begin = false, saw_end = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("write(1, \"BEGIN") != std::string::npos) {
      inside = saw_begin = true;
      continue;
    }
    if (line.find("write(1, \"END") != std::string::npos) {
      saw_end = true;
      break;
    }
    if (inside) between.push_back(line);
  }
  ASSERT_TRUE(saw_begin && saw_end) << "markers not traced; is strace working?";
  std::ostringstream calls;
  for (const auto& l : between) calls << l << "\n";
  EXPECT_TRUE(between.empty()) << "system calls during reads:\n" << calls.str();
}

}  // namespace
}  // namespace tw
