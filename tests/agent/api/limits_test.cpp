// What hostile, broken or slow clients get: 431/413/400 for requests that
// cannot be read, deadlines for clients that never finish (slowloris) or
// never start, a cap on connections -- and through all of it, a normal
// client keeps getting its answers.
#include "api_test_support.hpp"

namespace tw::testing {
namespace {

class LimitsTest : public SocketApiTest {
 protected:
  void SetUp() override { backend.publish("redis", "token-1"); }

  // Answers a GET of the credential; fails the test otherwise.
  void expect_served() {
    auto r = get("/v1/credentials/redis");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200);
  }
};

TEST_F(LimitsTest, OversizedHeadersAre431) {
  open(options());
  TestClient c = connect();
  auto r = c.request("GET", "/v1/credentials/redis", 5s, "X-Big: " + std::string(9000, 'a'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 431);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(c.wait_closed(5s));
  // The target alone can be too long, too.
  auto long_target = get("/v1/credentials/" + std::string(10'000, 'r'));
  ASSERT_TRUE(long_target);
  EXPECT_EQ(long_target->result_int(), 431);
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="431",path="other"})"), 2);
  expect_served();
}

TEST_F(LimitsTest, OversizedBodyIs413) {
  open(options());
  TestClient c = connect();
  // Over the socket's limit: the largest claims POST /v1/keysets/NAME/sign takes.
  const std::size_t size = kMaxSignClaimsBytes + 1;
  ASSERT_TRUE(c.send("POST /v1/keysets/k/sign HTTP/1.1\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n" +
                     std::string(size, 'b')));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 413);
  expect_served();
}

TEST_F(LimitsTest, MalformedRequestsAre400AndNothingBreaks) {
  open(options());
  const std::string garbage[] = {
      "GARBAGE\r\n\r\n",
      "GET /healthz HTTP/9.9\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      std::string("\x00\x01\x02\xff\r\n\r\n", 8),
      "GET\r\n\r\n",
  };
  for (const std::string& request : garbage) {
    TestClient c = connect();
    ASSERT_TRUE(c.send(request));
    auto r = c.read_reply();
    ASSERT_TRUE(r) << request;
    EXPECT_EQ(r->result_int(), 400) << request;
    EXPECT_TRUE(c.wait_closed(5s)) << request;
  }
  expect_served();
}

TEST_F(LimitsTest, SlowlorisIsCutOffAtTheHeaderTimeoutWhileOthersAreServed) {
  SocketApiOptions o = options();
  o.limits.header_timeout = 1s;
  open(o);
  TestClient slow = slowloris(socket_path());
  // The header deadline runs from its first byte (the idle one is 60 s).
  ASSERT_TRUE(eventually([&] { return time.armed_deadlines() == std::vector<std::chrono::nanoseconds>{1s}; }));
  for (int i = 0; i < 20; ++i) expect_served();  // time stands still: nobody waits on the slow one
  advance(999ms);
  EXPECT_FALSE(slow.wait_closed(0ms)) << "cut off before its header timeout";
  expect_served();
  advance(1ms);
  EXPECT_TRUE(slow.wait_closed(5s)) << "not cut off at its header timeout";
  expect_served();
}

TEST_F(LimitsTest, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  SocketApiOptions o = options();
  o.limits.idle_timeout = 1s;
  open(o);
  TestClient never_asks = connect();
  TestClient asked_once = connect();
  ASSERT_TRUE(asked_once.request("GET", "/healthz"));
  // Both wait for a request: one since it connected, one since its answer.
  ASSERT_TRUE(eventually([&] { return time.armed_deadlines() == std::vector<std::chrono::nanoseconds>{1s, 1s}; }));
  advance(999ms);
  EXPECT_FALSE(never_asks.wait_closed(0ms));
  EXPECT_FALSE(asked_once.wait_closed(0ms));
  advance(1ms);
  EXPECT_TRUE(never_asks.wait_closed(5s));
  EXPECT_TRUE(asked_once.wait_closed(5s));
}

TEST_F(LimitsTest, ConnectionsBeyondTheMaximumAreClosedAtOnce) {
  SocketApiOptions o = options();
  o.limits.max_connections = 8;
  open(o);
  std::vector<TestClient> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().request("GET", "/healthz")) << i;  // accepted and served
  }
  TestClient ninth = connect();
  ASSERT_TRUE(ninth.connected());  // the kernel's backlog took it...
  EXPECT_TRUE(ninth.wait_closed(2s));  // ...the server closed it at once
  EXPECT_EQ(metric("tokenwell_socket_connections_refused_total"), 1);
  EXPECT_EQ(metric("tokenwell_socket_connections"), 8);
  EXPECT_NE(log.text().find("warn max_connections reached; new connections are closed at once "
                            "listener=socket API max_connections=8 suppressed=0"),
            std::string::npos)
      << log.text();

  clients.front().close();  // a slot frees up
  ASSERT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == 7; }));
  auto r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  // The others were never disturbed.
  EXPECT_EQ(clients.back().request("GET", "/healthz")->result_int(), 200);
}

TEST_F(LimitsTest, AThousandIdleConnectionsAndSlowlorisClientsDoNotStallAReader) {
  constexpr int kIdle = 1000;
  constexpr int kSlow = 4;
  ASSERT_TRUE(ensure_open_files(2 * kIdle + 256)) << "cannot raise RLIMIT_NOFILE";
  SocketApiOptions o = options();
  o.limits.header_timeout = 1s;
  o.limits.idle_timeout = 60s;
  open(o);

  std::vector<TestClient> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(connect());
    ASSERT_TRUE(idle.back().connected()) << i;
  }
  ASSERT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == kIdle; }, 10s));

  std::vector<TestClient> slow;
  for (int i = 0; i < kSlow; ++i) slow.push_back(slowloris(socket_path()));
  ASSERT_TRUE(eventually([&] { return time.armed_deadlines().front() == 1s; }));
  // While they dribble (time stands still), the reader is answered: a reader
  // queued behind a slow client would wait for that client's header timeout.
  TestClient reader = connect();
  for (int i = 0; i < 20; ++i) {
    auto r = reader.request("GET", "/v1/credentials/redis");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->result_int(), 200);
  }
  advance(1s);
  for (TestClient& c : slow) EXPECT_TRUE(c.wait_closed(5s)) << "cut off at the 1 s header timeout";
  // The idle ones are all still there (their timeout is the idle one).
  ASSERT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == kIdle + 1; }));
}

}  // namespace
}  // namespace tw::testing
