// The socket API's routing and query rules, and `listen` addresses, as pure
// functions (the integration tests drive the same rules over real sockets).
#include <gtest/gtest.h>

#include "socket_routes.hpp"
#include "tokenwell/agent/api/health_listener.hpp"

namespace tw::api {
namespace {

TEST(SocketRouteTest, MatchesEveryRouteAndItsName) {
  EXPECT_EQ(match_socket_route("/v1/credentials").route, SocketRoute::credentials);
  const RouteMatch c = match_socket_route("/v1/credentials/redis?after=3&wait=10");
  EXPECT_EQ(c.route, SocketRoute::credential);
  EXPECT_EQ(c.name, "redis");
  EXPECT_EQ(c.query, "after=3&wait=10");
  const RouteMatch j = match_socket_route("/v1/keysets/entra-keys/jwks");
  EXPECT_EQ(j.route, SocketRoute::jwks);
  EXPECT_EQ(j.name, "entra-keys");
  EXPECT_EQ(match_socket_route("/v1/keysets/k/refresh").route, SocketRoute::keyset_refresh);
  EXPECT_EQ(match_socket_route("/healthz").route, SocketRoute::healthz);
  EXPECT_EQ(match_socket_route("/readyz").route, SocketRoute::readyz);
}

TEST(SocketRouteTest, AnythingElseIsUnknown) {
  for (const char* target : {"/", "/v1", "/v1/credentials/", "/v1/credentials/a/b",
                             "/v1/keysets/k", "/v1/keysets//jwks", "/v1/keysets/k/jwks/x",
                             "/metrics", "http://host/healthz", "/healthz/"})
    EXPECT_EQ(match_socket_route(target).route, SocketRoute::unknown) << target;
}

TEST(SocketRouteTest, LabelsAreTemplatesNeverRawPaths) {
  EXPECT_EQ(route_label(match_socket_route("/v1/credentials/redis").route),
            "/v1/credentials/{name}");
  EXPECT_EQ(route_label(match_socket_route("/v1/keysets/k/jwks").route), "/v1/keysets/{name}/jwks");
  EXPECT_EQ(route_label(match_socket_route("/v1/keysets/k/refresh").route),
            "/v1/keysets/{name}/refresh");
  EXPECT_EQ(route_label(match_socket_route("/no/such/path").route), "other");
}

TEST(LongPollQueryTest, AcceptsAfterAndWait) {
  auto q = parse_long_poll_query("after=18446744073709551615&wait=30");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->after, 18446744073709551615ull);
  EXPECT_EQ(q->wait_seconds, 30u);
  auto empty = parse_long_poll_query("");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->after);
  auto only_after = parse_long_poll_query("after=0");
  ASSERT_TRUE(only_after);
  EXPECT_EQ(only_after->after, 0u);
  EXPECT_FALSE(only_after->wait_seconds);
}

TEST(LongPollQueryTest, RejectsWhatItDoesNotUnderstand) {
  for (const char* query : {"after=", "after=-1", "after=+1", "after=1x", "after=0x10",
                            "after=18446744073709551616", "after", "after=1&after=2",
                            "wait=5", "after=1&wait=1.5", "after=1&since=2", "after=1&",
                            "after%3D1"})
    EXPECT_FALSE(parse_long_poll_query(query)) << query;
}

TEST(ListenAddressTest, ParsesIpv4AndBracketedIpv6) {
  auto a = parse_listen_address("0.0.0.0:9464");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 9464);
  auto b = parse_listen_address("[::1]:0");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
}

TEST(ListenAddressTest, RejectsNamesBadPortsAndUnbracketedIpv6) {
  for (const char* text : {"", "9464", ":9464", "localhost:9464", "0.0.0.0", "0.0.0.0:",
                           "0.0.0.0:65536", "0.0.0.0:-1", "0.0.0.0:80x", "::1:9464", "[::1]",
                           "[::1]9464", "[]:9464", "[127.0.0.1]:80"})
    EXPECT_FALSE(parse_listen_address(text)) << text;
  EXPECT_NE(parse_listen_address("localhost:1").error().message.find("localhost:1"),
            std::string::npos);
}

}  // namespace
}  // namespace tw::api
