// The Unix socket API over a real socket: every endpoint and status code,
// authorization by SO_PEERCRED (a child process as nobody), the socket
// file's life cycle and a graceful stop.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "api_test_support.hpp"

namespace tw::testing {
namespace {

using nlohmann::json;
namespace http = boost::beast::http;

const std::string kToken = "eyJ0eXAi.s3cret-token-value.sig";
constexpr uid_t kNobody = 65534;

class SocketEndpointsTest : public SocketApiTest {
 protected:
  void SetUp() override {
    backend.publish("redis", kToken, 1'700'003'600, "0a1b-oid");
    backend.add_pending("later");
    backend.add_keyset("keys", R"({"keys":[{"kty":"EC","kid":"k1"}]})");
    backend.add_keyset("unfetched", std::nullopt);
    open(options());
  }
};

json body_json(const Reply& r) { return json::parse(r.body()); }

TEST_F(SocketEndpointsTest, ListsEveryEntryWithoutSecrets) {
  backend.set_refresh_status("redis", 1'700'000'000, "HTTP 503 from the token endpoint", 2, 1'700'000'030);
  auto r = get("/v1/credentials");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ((*r)[http::field::content_type], "application/json");
  const json list = body_json(*r);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0], json::parse(R"({"name":"keys","kind":"keyset","username":"","state":"valid",
      "expires_at":0,"generation":1,"source":"jwks","last_refresh":0,"last_error":"",
      "consecutive_failures":0,"next_attempt":0})"));
  EXPECT_EQ(list[1]["name"], "later");
  EXPECT_EQ(list[1]["state"], "pending");
  EXPECT_EQ(list[2], json::parse(R"({"name":"redis","kind":"credential","username":"0a1b-oid",
      "state":"valid","expires_at":1700003600,"generation":1,"source":"entra","last_refresh":1700000000,
      "last_error":"HTTP 503 from the token endpoint","consecutive_failures":2,"next_attempt":1700000030})"));
  EXPECT_EQ(r->body().find("s3cret"), std::string::npos);
}

TEST_F(SocketEndpointsTest, CredentialHasTheFieldsOfGetJson) {
  auto r = get("/v1/credentials/redis");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(body_json(*r), json::parse(R"({"name":"redis","username":"0a1b-oid",
      "token":"eyJ0eXAi.s3cret-token-value.sig","expires_at":1700003600,"generation":1})"));
  EXPECT_EQ((*r)[http::field::cache_control], "no-store");
}

TEST_F(SocketEndpointsTest, UnknownCredentialIs404) {
  auto r = get("/v1/credentials/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 404);
  EXPECT_EQ(body_json(*r), json::parse(R"({"error":"unknown name","name":"nope"})"));
  // A keyset is not a credential, and a name outside [A-Za-z0-9._-] is not echoed.
  EXPECT_EQ(get("/v1/credentials/keys")->result_int(), 404);
  auto odd = get("/v1/credentials/%3Cscript%3E");
  EXPECT_EQ(odd->result_int(), 404);
  EXPECT_EQ(body_json(*odd), json::parse(R"({"error":"unknown name"})"));
}

TEST_F(SocketEndpointsTest, CredentialWithoutValidValueIs503) {
  auto pending = get("/v1/credentials/later");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->result_int(), 503);
  EXPECT_EQ(body_json(*pending), json::parse(R"({"error":"no valid value","name":"later"})"));
  backend.expire("redis");
  auto expired = get("/v1/credentials/redis");
  EXPECT_EQ(expired->result_int(), 503);
  EXPECT_EQ(expired->body().find("s3cret"), std::string::npos);
}

TEST_F(SocketEndpointsTest, JwksIsServedAsPublished) {
  auto r = get("/v1/keysets/keys/jwks");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), R"({"keys":[{"kty":"EC","kid":"k1"}]})");
  EXPECT_EQ((*r)[http::field::content_type], "application/json");
  EXPECT_EQ(get("/v1/keysets/unfetched/jwks")->result_int(), 503);
  EXPECT_EQ(get("/v1/keysets/nope/jwks")->result_int(), 404);
  EXPECT_EQ(get("/v1/keysets/redis/jwks")->result_int(), 404);  // a credential
}

TEST_F(SocketEndpointsTest, KeysetRefreshIsAcceptedRateLimitedOrUnknown) {
  auto accepted = get("/v1/keysets/keys/refresh", "POST");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->result_int(), 202);
  EXPECT_EQ(body_json(*accepted), json::parse(R"({"status":"accepted","name":"keys"})"));

  backend.set_refresh_reply({.answer = ApiBackend::RefreshAnswer::rate_limited,
                             .retry_after = std::chrono::seconds(30)});
  auto limited = get("/v1/keysets/keys/refresh", "POST");
  EXPECT_EQ(limited->result_int(), 429);
  EXPECT_EQ((*limited)[http::field::retry_after], "30");
  EXPECT_EQ(body_json(*limited)["retry_after"], 30);

  EXPECT_EQ(get("/v1/keysets/nope/refresh", "POST")->result_int(), 404);
}

TEST_F(SocketEndpointsTest, KeysetSignTakesClaimsAndTtlAndAnswersEachCase) {
  const auto post = [&](std::string_view target, std::string_view body) {
    TestClient c = TestClient::unix_socket(socket_path());
    c.send("POST " + std::string(target) + " HTTP/1.1\r\nHost: tokenwell\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + std::string(body));
    return c.read_reply();
  };
  backend.set_sign_reply(ApiBackend::SignAnswer::signed_token, "aGVhZA.Y2xhaW1z.c2ln");
  auto ok = post("/v1/keysets/keys/sign?ttl=60", R"({"sub":"alice"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result_int(), 200);
  EXPECT_EQ(body_json(*ok), json::parse(R"({"token":"aGVhZA.Y2xhaW1z.c2ln"})"));
  EXPECT_EQ((*ok)[http::field::cache_control], "no-store");
  EXPECT_EQ(backend.last_sign_request(), std::make_pair(std::string(R"({"sub":"alice"})"), std::int64_t{60}));
  ASSERT_TRUE(post("/v1/keysets/keys/sign", "{}"));
  EXPECT_EQ(backend.last_sign_request().second, 300);  // the CLI's --ttl default

  for (const char* query : {"?ttl=0", "?ttl=31622401", "?ttl=x", "?ttl=", "?wait=1", "?ttl=5&ttl=6"}) {
    auto r = post(std::string("/v1/keysets/keys/sign") + query, "{}");
    ASSERT_TRUE(r) << query;
    EXPECT_EQ(r->result_int(), 400) << query;
    EXPECT_TRUE(body_json(*r)["error"].get<std::string>().starts_with("bad query: ")) << query;
  }
  auto empty = post("/v1/keysets/keys/sign", "");
  EXPECT_EQ(empty->result_int(), 400);
  EXPECT_TRUE(body_json(*empty)["error"].get<std::string>().starts_with("claims: "));

  backend.set_sign_reply(ApiBackend::SignAnswer::bad_claims, "claims: not a JSON object");
  auto bad = post("/v1/keysets/keys/sign", "[1]");
  EXPECT_EQ(bad->result_int(), 400);
  EXPECT_EQ(body_json(*bad)["error"], "claims: not a JSON object");
  backend.set_sign_reply(ApiBackend::SignAnswer::no_signing_key, "keyset has no signing key (verify only)");
  EXPECT_EQ(post("/v1/keysets/keys/sign", "{}")->result_int(), 409);
  backend.set_sign_reply(ApiBackend::SignAnswer::no_value, "");
  auto pending = post("/v1/keysets/keys/sign", "{}");
  EXPECT_EQ(pending->result_int(), 503);
  EXPECT_EQ(body_json(*pending)["error"], "no valid value");
  EXPECT_EQ(post("/v1/keysets/nope/sign", "{}")->result_int(), 404);
  EXPECT_EQ(post("/v1/keysets/redis/sign", "{}")->result_int(), 404);  // a credential
  EXPECT_EQ(post("/v1/keysets/keys/sign", std::string(kMaxSignClaimsBytes + 1, ' '))->result_int(), 413);
  EXPECT_EQ(get("/v1/keysets/keys/sign")->result_int(), 405);

  // One bounded label for every keyset name.
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="404",path="/v1/keysets/{name}/sign"})"), 2);
  EXPECT_EQ(metrics.scrape().find("/v1/keysets/nope"), std::string::npos);
}

TEST_F(SocketEndpointsTest, WrongMethodIs405WithAllow) {
  auto get_refresh = get("/v1/keysets/keys/refresh");
  ASSERT_TRUE(get_refresh);
  EXPECT_EQ(get_refresh->result_int(), 405);
  EXPECT_EQ((*get_refresh)[http::field::allow], "POST");
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD"}) {
    auto r = get("/v1/credentials/redis", method);
    ASSERT_TRUE(r) << method;
    EXPECT_EQ(r->result_int(), 405) << method;
    EXPECT_EQ((*r)[http::field::allow], "GET");
  }
  EXPECT_EQ(get("/v1/credentials", "POST")->result_int(), 405);
  EXPECT_EQ(get("/readyz", "DELETE")->result_int(), 405);
}

TEST_F(SocketEndpointsTest, UnknownPathIs404) {
  for (const char* target : {"/", "/v2/credentials", "/v1/credentials/", "/v1/credentials/a/b",
                             "/metrics", "/v1/keysets/keys"}) {
    auto r = get(target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->result_int(), 404) << target;
    EXPECT_EQ(body_json(*r), json::parse(R"({"error":"not found"})"));
  }
}

TEST_F(SocketEndpointsTest, BadQueryIs400) {
  for (const char* target :
       {"/v1/credentials/redis?after=abc", "/v1/credentials/redis?wait=5",
        "/v1/credentials/redis?after=1&after=2", "/v1/credentials/redis?token=1",
        "/v1/credentials/redis?after=-1", "/v1/credentials?after=1", "/healthz?x=1"}) {
    auto r = get(target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->result_int(), 400) << target;
    EXPECT_TRUE(body_json(*r)["error"].get<std::string>().starts_with("bad query")) << r->body();
  }
}

TEST_F(SocketEndpointsTest, HealthzAndReadyz) {
  auto health = get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->result_int(), 200);
  EXPECT_EQ(health->body(), "ok\n");
  auto ready = get("/readyz");
  EXPECT_EQ(ready->result_int(), 200);
  EXPECT_EQ(body_json(*ready), json::parse(R"({"ready":true,"reasons":[]})"));

  backend.set_readiness({.ready = false,
                         .reasons = {{"later", "no valid value yet"}, {"keys", "expired"}}});
  auto not_ready = get("/readyz");
  EXPECT_EQ(not_ready->result_int(), 503);
  EXPECT_EQ(body_json(*not_ready), json::parse(R"({"ready":false,"reasons":[
      {"name":"later","reason":"no valid value yet"},{"name":"keys","reason":"expired"}]})"));
}

TEST_F(SocketEndpointsTest, KeepAliveServesManyRequestsOnOneConnection) {
  TestClient c = connect();
  for (int i = 0; i < 50; ++i) {
    auto r = c.request("GET", i % 2 ? "/healthz" : "/v1/credentials/redis");
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_TRUE(r->keep_alive());
  }
}

TEST_F(SocketEndpointsTest, Http10AndConnectionCloseEndTheConnection) {
  TestClient old = connect();
  ASSERT_TRUE(old.send("GET /healthz HTTP/1.0\r\n\r\n"));
  auto r = old.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_TRUE(old.wait_closed(5s));

  TestClient closing = connect();
  auto r2 = closing.request("GET", "/healthz", 5s, "Connection: close");
  ASSERT_TRUE(r2);
  EXPECT_FALSE(r2->keep_alive());
  EXPECT_TRUE(closing.wait_closed(5s));
}

TEST_F(SocketEndpointsTest, PipelinedRequestsAreAnsweredInOrder) {
  TestClient c = connect();
  ASSERT_TRUE(c.send("GET /v1/credentials/nope HTTP/1.1\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\n\r\n"
                     "GET /v1/credentials/redis HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(c.read_reply()->result_int(), 404);
  EXPECT_EQ(c.read_reply()->body(), "ok\n");
  EXPECT_EQ(c.read_reply()->result_int(), 200);
}

TEST_F(SocketEndpointsTest, RequestsAreCountedByRouteTemplateNeverByRawPath) {
  get("/v1/credentials/redis");
  get("/v1/credentials/redis");
  get("/v1/credentials/nope");
  get("/no/such/thing");
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="200",path="/v1/credentials/{name}"})"),
            2);
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="404",path="/v1/credentials/{name}"})"),
            1);
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="404",path="other"})"), 1);
  const std::string scrape = metrics.scrape();
  EXPECT_EQ(scrape.find("/v1/credentials/redis"), std::string::npos);
  EXPECT_EQ(scrape.find("/no/such"), std::string::npos);
}

TEST_F(SocketEndpointsTest, NoAnswerButTheCredentialsCarriesTheToken) {
  const char* targets[][2] = {{"GET", "/v1/credentials"},       {"GET", "/v1/credentials/nope"},
                              {"GET", "/v1/keysets/keys/jwks"}, {"POST", "/v1/keysets/keys/refresh"},
                              {"GET", "/healthz"},              {"GET", "/readyz"},
                              {"GET", "/v1/credentials/redis?after=x"},
                              {"POST", "/v1/credentials/redis"}};
  for (const auto& [method, target] : targets) {
    auto r = get(target, method);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->body().find("s3cret"), std::string::npos) << target;
    for (const auto& field : *r)
      EXPECT_EQ(std::string(field.value()).find("s3cret"), std::string::npos) << target;
  }
  get("/v1/credentials/redis");
  EXPECT_EQ(metrics.scrape().find("s3cret"), std::string::npos);
}

TEST_F(SocketEndpointsTest, ABackendThatThrowsGets500AndEverythingElseGoesOn) {
  backend.throw_on_readiness();
  auto r = get("/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 500);
  EXPECT_EQ(body_json(*r), json::parse(R"({"error":"internal error"})"));
  EXPECT_EQ(get("/v1/credentials/redis")->result_int(), 200);
}

// --- authorization

// What a child process that became `uid`/`gid` received for `request` on the
// socket: raw bytes, gathered with async-signal-safe calls only (the parent
// has threads), or an error mark.
std::string request_as(const std::filesystem::path& socket, uid_t uid, gid_t gid,
                       const std::string& request) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket.string();
  std::copy(path.begin(), path.end(), addr.sun_path);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return "pipe failed";

  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(10);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
      ::_exit(11);
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size()))
      ::_exit(12);
    char buf[4096];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) ::_exit(13);
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) ::_exit(0);  // the server closed: everything was received
      if (::write(out[1], buf, static_cast<std::size_t>(n)) != n) ::_exit(14);
    }
  }
  ::close(out[1]);
  std::string received;
  char buf[4096];
  for (;;) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    received.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "child failed with status " + std::to_string(status);
  return received;
}

const std::string kGetRedis = "GET /v1/credentials/redis HTTP/1.1\r\nConnection: close\r\n\r\n";

class AuthorizationTest : public SocketEndpointsTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
    SocketEndpointsTest::SetUp();
  }
};

TEST_F(AuthorizationTest, SocketFileIsOpenToAllSoOtherUsersGetA403) {
  struct stat st{};
  ASSERT_EQ(::stat(socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);

  auto r = parse_reply(request_as(socket_path(), kNobody, kNobody, kGetRedis));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 403);
  EXPECT_EQ(json::parse(r->body()), json::parse(R"({"error":"forbidden"})"));
  EXPECT_EQ(metric("tokenwell_socket_denied_total"), 1);
  // Refused when its connection was accepted, before its request was read.
  EXPECT_EQ(metric(R"(tokenwell_socket_requests_total{code="403",path="other"})"), 1);
  // Logged with who asked, and nothing of what was asked.
  const std::string lines = log.text();
  EXPECT_NE(lines.find("warn caller denied: uid and gid not in allow listener=socket API "
                       "uid=65534 gid=65534 pid="),
            std::string::npos)
      << lines;
  EXPECT_EQ(lines.find("redis"), std::string::npos) << lines;
  EXPECT_EQ(lines.find("s3cret"), std::string::npos) << lines;

  // The agent's own uid still gets its answer.
  EXPECT_EQ(get("/v1/credentials/redis")->result_int(), 200);
}

TEST_F(AuthorizationTest, DenialsAreLinesOfTheAgentsJsonLog) {
  // Not a text line of the listener's own: the agent's log, in its format.
  ASSERT_EQ(parse_reply(request_as(socket_path(), kNobody, kNobody, kGetRedis))->result_int(), 403);
  const auto lines = log.json_lines();
  ASSERT_EQ(lines.size(), 1u);
  const auto j = json::parse(lines.front());
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "caller denied: uid and gid not in allow");
  EXPECT_EQ(j["listener"], "socket API");
  EXPECT_EQ(j["uid"], 65534);
  EXPECT_TRUE(j.contains("ts"));
}

TEST_F(AuthorizationTest, EveryEndpointIsDenied) {
  for (const char* target : {"/healthz", "/readyz", "/v1/credentials", "/v1/keysets/keys/jwks"}) {
    auto r = parse_reply(request_as(socket_path(), kNobody, kNobody,
                                    std::string("GET ") + target +
                                        " HTTP/1.1\r\nConnection: close\r\n\r\n"));
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->result_int(), 403) << target;
  }
  EXPECT_EQ(metric("tokenwell_socket_denied_total"), 4);
}

TEST_F(AuthorizationTest, AllowListedUidOrGidIsLetIn) {
  SocketApiOptions by_uid = options();
  by_uid.allow = {.uids = {kNobody}, .gids = {}};
  open(by_uid);
  auto r = parse_reply(request_as(socket_path(), kNobody, kNobody, kGetRedis));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(json::parse(r->body())["token"], kToken);
  // uid 0 is no longer in the list.
  EXPECT_EQ(get("/healthz")->result_int(), 403);

  SocketApiOptions by_gid = options();
  by_gid.allow = {.uids = {}, .gids = {kNobody}};
  open(by_gid);
  EXPECT_EQ(parse_reply(request_as(socket_path(), 4242, kNobody, kGetRedis))->result_int(), 200);
  EXPECT_EQ(parse_reply(request_as(socket_path(), kNobody, 4242, kGetRedis))->result_int(), 403);
}

// --- the socket file and stopping

class SocketFileTest : public SocketApiTest {};

TEST_F(SocketFileTest, ReplacesAStaleSocketFromAPreviousRun) {
  {  // A socket bound and abandoned without unlink, as by a killed agent.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = socket_path().string();
    std::copy(p.begin(), p.end(), addr.sun_path);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  open(options());
  EXPECT_EQ(get("/healthz")->result_int(), 200);
}

TEST_F(SocketFileTest, RefusesToReplaceAnythingButASocket) {
  std::ofstream(socket_path()) << "not a socket";
  auto r = loop.run([&] { return SocketApi::open(loop.io, options(), backend, metrics, time); });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a socket"), std::string::npos) << r.error().message;
  EXPECT_TRUE(std::filesystem::is_regular_file(socket_path()));
}

TEST_F(SocketFileTest, RefusesASocketAnotherProcessServesOn) {
  open(options());
  auto second = loop.run([&] { return SocketApi::open(loop.io, options(), backend, metrics, time); });
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("another process"), std::string::npos);
  EXPECT_EQ(get("/healthz")->result_int(), 200);
}

TEST_F(SocketFileTest, RefusesAPathTooLongForAUnixSocket) {
  SocketApiOptions o = options();
  o.path = dir.path() / std::string(120, 'x');
  auto r = loop.run([&] { return SocketApi::open(loop.io, o, backend, metrics, time); });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("bytes long"), std::string::npos);
}

TEST_F(SocketFileTest, StopRemovesTheSocketAndReportsWhenDone) {
  open(options());
  std::promise<void> stopped;
  api->stop([&] { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(std::filesystem::exists(socket_path()));
  EXPECT_FALSE(connect().connected());
}

TEST_F(SocketFileTest, StopLetsARequestInFlightFinishThenCloses) {
  backend.publish("redis", kToken);
  open(options());
  TestClient idle = connect();
  TestClient busy = connect();
  ASSERT_TRUE(busy.send("GET /v1/credentials/redis HTTP/1.1\r\n"));  // headers not finished
  ASSERT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == 2; }));

  std::promise<void> stopped;
  auto done = stopped.get_future();
  api->stop([&] { stopped.set_value(); });
  EXPECT_TRUE(idle.wait_closed(5s));  // nothing in flight: closed at once
  advance(0ms);
  EXPECT_NE(done.wait_for(0ms), std::future_status::ready);

  ASSERT_TRUE(busy.send("\r\n"));
  auto r = busy.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(busy.wait_closed(5s));
  EXPECT_EQ(done.wait_for(5s), std::future_status::ready);
}

TEST_F(SocketFileTest, StopClosesWhatIsStillInFlightAfterTheGrace) {
  SocketApiOptions o = options();
  o.limits.stop_grace = 300ms;
  open(o);
  TestClient stuck = connect();
  ASSERT_TRUE(stuck.send("GET /healthz HTTP/1.1\r\n"));  // and never more
  ASSERT_TRUE(eventually([&] { return metric("tokenwell_socket_connections") == 1; }));
  std::promise<void> stopped;
  auto done = stopped.get_future();
  api->stop([&] { stopped.set_value(); });
  advance(299ms);
  EXPECT_NE(done.wait_for(0ms), std::future_status::ready) << "stopped before the grace was over";
  EXPECT_FALSE(stuck.wait_closed(0ms));
  advance(1ms);
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(stuck.wait_closed(1s));
}

}  // namespace
}  // namespace tw::testing
