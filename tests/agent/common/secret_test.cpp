// Secret: its bytes live in pages left out of core dumps (MADV_DONTDUMP,
// "dd" in the mapping's VmFlags) and are wiped when it dies; moving and
// copying keep that true for every copy.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "tokenwell/agent/common/secret.hpp"

namespace tw {
namespace {

// The VmFlags of the mapping of this process that holds `address`.
std::string vm_flags_of(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-' && line.find(' ') != std::string::npos &&
        line.find(':') > line.find(' ')) {
      inside = at >= begin && at < end;
      continue;
    }
    if (inside && line.starts_with("VmFlags:")) return line;
  }
  return "(no mapping)";
}

bool left_out_of_dumps(const Secret& s) { return (vm_flags_of(s.reveal().data()) + " ").find(" dd ") != std::string::npos; }

TEST(Secret, BytesAreInPagesLeftOutOfCoreDumps) {
  const Secret s(std::string_view("client-secret-value"));
  ASSERT_EQ(s.reveal(), "client-secret-value");
  EXPECT_TRUE(left_out_of_dumps(s)) << vm_flags_of(s.reveal().data());
  const Secret copy = s;
  EXPECT_EQ(copy, s);
  EXPECT_TRUE(left_out_of_dumps(copy));
  Secret moved = Secret(std::string(100000, 'k'));
  EXPECT_EQ(moved.size(), 100000u);
  EXPECT_TRUE(left_out_of_dumps(moved));
}

TEST(Secret, TakingAStringWipesIt) {
  std::string source = "federated-token";
  const Secret s(std::move(source));
  EXPECT_EQ(s.reveal(), "federated-token");
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): checking the wipe
}

TEST(Secret, EmptyNeedsNoPages) {
  const Secret s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.reveal(), "");
  const Secret e(std::string_view(""));
  EXPECT_TRUE(e.empty());
}

}  // namespace
}  // namespace tw
