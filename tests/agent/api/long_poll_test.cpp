// Long-polls on GET /v1/credentials/NAME?after=GEN&wait=S: held while the
// generation is not newer than `after`, answered as soon as a newer one is
// notified, or at the wait bound with whatever is current.
#include <nlohmann/json.hpp>

#include "api_test_support.hpp"

namespace tw::testing {
namespace {

using nlohmann::json;

class LongPollTest : public SocketApiTest {
 protected:
  void SetUp() override {
    backend.publish("redis", "token-1");
    SocketApiOptions o = options();
    o.max_wait = std::chrono::seconds(10);
    o.default_wait = std::chrono::seconds(1);
    open(o);
  }

  // Sends a long-poll and returns once the server has looked at it (and,
  // finding nothing newer, holds it).
  TestClient hold(const std::string& target, unsigned lookups_before = 0) {
    TestClient c = connect();
    EXPECT_TRUE(c.send("GET " + target + " HTTP/1.1\r\n\r\n"));
    EXPECT_TRUE(backend.wait_for_lookups("redis", lookups_before + 1, 5s));
    return c;
  }

  static std::uint64_t generation(const Reply& r) {
    return json::parse(r.body())["generation"].get<std::uint64_t>();
  }
};

TEST_F(LongPollTest, WithoutAfterOrWithAnOlderGenerationAnswersAtOnce) {
  backend.publish("redis", "token-2");
  auto plain = get("/v1/credentials/redis");
  ASSERT_TRUE(plain);
  EXPECT_EQ(generation(*plain), 2u);
  auto older = get("/v1/credentials/redis?after=1&wait=60");
  ASSERT_TRUE(older);
  EXPECT_EQ(older->result_int(), 200);
  EXPECT_EQ(generation(*older), 2u);
  auto zero_wait = get("/v1/credentials/redis?after=2&wait=0");
  EXPECT_EQ(generation(*zero_wait), 2u);
}

TEST_F(LongPollTest, WakesAsSoonAsANewerGenerationIsNotified) {
  TestClient c = hold("/v1/credentials/redis?after=1&wait=10");
  backend.publish("redis", "token-2");
  api->notify_published();
  auto r = c.read_reply(15s);  // the 10 s bound never passes: time stands still
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(generation(*r), 2u);
  EXPECT_EQ(json::parse(r->body())["token"], "token-2");
  // The connection is kept alive for the next poll.
  auto next = c.request("GET", "/v1/credentials/redis?after=2&wait=0");
  ASSERT_TRUE(next);
  EXPECT_EQ(generation(*next), 2u);
}

TEST_F(LongPollTest, AnswersTheCurrentValueAtTheWaitBound) {
  TestClient c = hold("/v1/credentials/redis?after=1&wait=1");
  advance(999ms);
  EXPECT_FALSE(c.read_reply(0ms)) << "answered before the wait bound";
  advance(1ms);
  auto r = c.read_reply(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(generation(*r), 1u);  // not newer: the client compares
}

TEST_F(LongPollTest, NotifyWithoutANewerGenerationKeepsWaiting) {
  TestClient c = hold("/v1/credentials/redis?after=1&wait=1");
  backend.publish("other", "x");
  api->notify_published();
  ASSERT_TRUE(backend.wait_for_lookups("redis", 2, 5s));  // it looked again...
  advance(0ms);
  EXPECT_FALSE(c.read_reply(0ms));                         // ...and kept waiting
  advance(1s);
  auto r = c.read_reply(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(generation(*r), 1u);
}

TEST_F(LongPollTest, WaitDefaultsAndIsCapped) {
  SocketApiOptions o = options();
  o.default_wait = std::chrono::seconds(1);
  o.max_wait = std::chrono::seconds(2);
  open(o);
  const std::pair<const char*, std::chrono::milliseconds> cases[] = {
      {"/v1/credentials/redis?after=1", 1s},                 // the default
      {"/v1/credentials/redis?after=1&wait=100000000", 2s},  // the cap
  };
  unsigned lookups = 0;
  for (const auto& [target, bound] : cases) {
    TestClient c = hold(target, lookups);
    lookups += 2;  // the look when it arrived, and the one that answers it at the bound
    advance(bound - 1ms);
    EXPECT_FALSE(c.read_reply(0ms)) << target << ": answered before " << bound.count() << " ms";
    advance(1ms);
    auto r = c.read_reply(5s);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->result_int(), 200);
  }
}

TEST_F(LongPollTest, PendingCredentialIsHeldUntilItsFirstValue) {
  backend.remove("redis");
  backend.add_pending("redis");
  TestClient c = hold("/v1/credentials/redis?after=0&wait=10");
  backend.publish("redis", "first");
  api->notify_published();
  auto r = c.read_reply(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(json::parse(r->body())["token"], "first");
}

TEST_F(LongPollTest, StillNoValidValueAtTheBoundIs503) {
  backend.expire("redis");
  TestClient c = hold("/v1/credentials/redis?after=0&wait=1");
  advance(1s);
  auto r = c.read_reply(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503);
}

TEST_F(LongPollTest, UnknownOrRemovedNameIs404) {
  auto unknown = get("/v1/credentials/nope?after=0&wait=10");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->result_int(), 404);

  TestClient c = hold("/v1/credentials/redis?after=1&wait=10");
  backend.remove("redis");  // a reload dropped it
  api->notify_published();
  auto r = c.read_reply(15s);  // time stands still: not the wait bound
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 404);
}

TEST_F(LongPollTest, OneNotifyWakesEveryWaiter) {
  constexpr unsigned kWaiters = 100;
  std::vector<TestClient> clients;
  for (unsigned i = 0; i < kWaiters; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().send("GET /v1/credentials/redis?after=1&wait=10 HTTP/1.1\r\n\r\n"));
  }
  ASSERT_TRUE(backend.wait_for_lookups("redis", kWaiters, 5s));
  backend.publish("redis", "token-2");
  api->notify_published();
  for (TestClient& c : clients) {
    auto r = c.read_reply(15s);  // time stands still: woken, not timed out
    ASSERT_TRUE(r);
    EXPECT_EQ(generation(*r), 2u);
  }
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="200",path="/v1/credentials/{name}"})"),
            kWaiters);
}

TEST_F(LongPollTest, StopAnswersHeldPollsAtOnce) {
  TestClient c = hold("/v1/credentials/redis?after=1&wait=10");
  std::promise<void> stopped;
  api->stop([&] { stopped.set_value(); });
  auto r = c.read_reply(15s);  // time stands still: not the wait bound
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(generation(*r), 1u);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_EQ(stopped.get_future().wait_for(5s), std::future_status::ready);
}

TEST_F(LongPollTest, AClientThatHangsUpIsForgottenBeforeTheBound) {
  TestClient c = hold("/v1/credentials/redis?after=1&wait=10");
  ASSERT_EQ(metric("tokenwell_socket_connections"), 1);
  c.close();
  // Time stands still, so this is the hang-up noticed, not the 10 s bound.
  EXPECT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == 0; }, 5s));
}

}  // namespace
}  // namespace tw::testing
