// The default ApiLog: one text line on stderr per event.
#include <gtest/gtest.h>

#include "tokenwell/agent/api/api_log.hpp"

namespace tw {
namespace {

TEST(ApiLogTest, DefaultWritesOneTextLineToStderr) {
  const ApiLogField fields[] = {{"listener", std::string_view("socket API")}, {"uid", 1000}};
  ::testing::internal::CaptureStderr();
  log_api_to_stderr(ApiLogLevel::warn, "caller denied", fields);
  log_api_to_stderr(ApiLogLevel::error, "a request handler threw", {});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "tokenwell-agent: warn: caller denied listener=socket API uid=1000\n"
            "tokenwell-agent: error: a request handler threw\n");
}

}  // namespace
}  // namespace tw
