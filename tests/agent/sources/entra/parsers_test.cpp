// parsers_test.cpp -- form encoding, base64url, JWT claims, token responses,
// OAuth2 errors, Retry-After and the checks a token passes before publishing.
#include <gtest/gtest.h>

#include "entra_test_support.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/sources/entra/token_response.hpp"
#include "tokenwell/agent/sources/entra/token_response.hpp"

namespace tw {
namespace {

using nlohmann::json;
using test::make_jwt;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1'700'000'000;

// ---- form and URL encoding

TEST(FormEncoding, KeepsUnreservedAndEscapesEverythingElse) {
  EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percent_encode("https://redis.azure.com/.default"), "https%3A%2F%2Fredis.azure.com%2F.default");
  EXPECT_EQ(percent_encode("a b+c&d=e%"), "a%20b%2Bc%26d%3De%25");
  EXPECT_EQ(percent_encode(std::string("\x00\xff", 2)), "%00%FF");
}

TEST(FormEncoding, JoinsFieldsInOrder) {
  const Secret body = form_encode({{"grant_type", "client_credentials"},
                                   {"client_secret", "p@ss&word="},
                                   {"scope", "https://redis.azure.com/.default"}});
  EXPECT_EQ(body.reveal(),
            "grant_type=client_credentials&client_secret=p%40ss%26word%3D&scope=https%3A%2F%2Fredis.azure.com%2F.default");
  EXPECT_EQ(form_encode(std::vector<FormField>{}).reveal(), "");
}

TEST(FormEncoding, RedactUrlDropsQueryFragmentAndUserinfo) {
  EXPECT_EQ(redact_url("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x"),
            "http://169.254.169.254/metadata/identity/oauth2/token");
  EXPECT_EQ(redact_url("https://user:secret@idp.example/token#frag"), "https://idp.example/token");
  EXPECT_EQ(redact_url("https://idp.example/a@b"), "https://idp.example/a@b");
}

// ---- base64url and JWT claims

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    const auto text = base64url_encode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(base64url_decode(text), bytes);
    bytes.push_back(static_cast<char>(i * 37));
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
}

TEST(Base64Url, RejectsPaddingAndForeignCharacters) {
  EXPECT_FALSE(base64url_decode("YQ=="));
  EXPECT_FALSE(base64url_decode("a+b/"));
  EXPECT_FALSE(base64url_decode("abcde"));  // 4n+1 characters decode to nothing
  EXPECT_TRUE(base64url_decode(""));
}

TEST(JwtPayload, ReadsClaimsAndTimes) {
  auto p = parse_jwt_payload(make_jwt({{"oid", "abc"}, {"exp", kNow}, {"nbf", kNow - 5}, {"iat", 1.5e9}}));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->exp, kNow);
  EXPECT_EQ(p->nbf, kNow - 5);
  EXPECT_EQ(p->iat, 1'500'000'000);
  EXPECT_EQ(p->string_claim("oid"), "abc");
  EXPECT_FALSE(p->string_claim("missing"));
  EXPECT_EQ(p->header["alg"], "RS256");
}

TEST(JwtPayload, SaysWhatIsWrongWithoutEchoingTheToken) {
  struct Case {
    std::string token;
    std::string error;
  };
  const std::string header = base64url_encode(R"({"alg":"RS256"})");
  const std::vector<Case> cases = {
      {"", "token is empty"},
      {"opaque-secret-value", "not a JWT (no '.')"},
      {"a.b", "2 parts"},
      {"a.b.c.d.e", "encrypted tokens are not supported"},
      {"!!!." + base64url_encode("{}") + ".s", "JWT header is not base64url"},
      {base64url_encode("[1]") + "." + base64url_encode("{}") + ".s", "JWT header is not a JSON object"},
      {base64url_encode("{}") + "." + base64url_encode("{}") + ".s", "JWT header has no 'alg'"},
      {header + ".###.s", "JWT payload is not base64url"},
      {header + "." + base64url_encode("{not json") + ".s", "JWT payload is not JSON"},
      {header + "." + base64url_encode(R"({"exp":"soon"})") + ".s", "claim 'exp' must be a number, not string"},
      {header + "." + base64url_encode(R"({"nbf":true})") + ".s", "claim 'nbf' must be a number"},
      {header + "." + base64url_encode(R"({"exp":1e300})") + ".s", "claim 'exp' is out of range"},
      {header + "." + base64url_encode(R"({"exp":18446744073709551615})") + ".s", "claim 'exp' is out of range"},
  };
  for (const auto& c : cases) {
    auto p = parse_jwt_payload(c.token);
    ASSERT_FALSE(p) << c.token;
    EXPECT_NE(p.error().message.find(c.error), std::string::npos) << p.error().message;
    if (c.token.size() > 8) {
      EXPECT_EQ(p.error().message.find(c.token), std::string::npos);
    }
  }
}

// ---- token responses

std::string token_body(const json& fields) { return fields.dump(); }

TEST(TokenResponse, ParsesEntraV2Response) {
  const auto jwt = make_jwt({{"exp", kNow + 3599}});
  auto r = parse_token_response(token_body(
      {{"token_type", "Bearer"}, {"expires_in", 3599}, {"ext_expires_in", 3599}, {"access_token", jwt}}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->access_token.reveal(), jwt);
  EXPECT_EQ(r->expires_in, 3599);
  EXPECT_EQ(r->ext_expires_in, 3599);
  EXPECT_FALSE(r->expires_on);
  EXPECT_FALSE(r->refresh_in);
}

TEST(TokenResponse, ParsesImdsStringsAndRefreshIn) {
  auto r = parse_token_response(token_body({{"access_token", "x.y.z"},
                                            {"expires_in", "86399"},
                                            {"expires_on", "1700086399"},
                                            {"not_before", "1700000000"},
                                            {"resource", "https://redis.azure.com"},
                                            {"token_type", "bearer"},
                                            {"refresh_in", 43200}}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->expires_in, 86399);
  EXPECT_EQ(r->expires_on, 1'700'086'399);
  EXPECT_EQ(r->refresh_in, 43200);
  EXPECT_EQ(r->token_type, "Bearer");
}

TEST(TokenResponse, AppServiceHasOnlyExpiresOn) {
  auto r = parse_token_response(
      token_body({{"access_token", "x.y.z"}, {"expires_on", "1700003600"}, {"token_type", "Bearer"}}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->expires_in);
  EXPECT_EQ(r->expires_on, 1'700'003'600);
}

TEST(TokenResponse, RefusesMissingFieldsAndWrongTypes) {
  const json good = {{"token_type", "Bearer"}, {"expires_in", 3599}, {"access_token", "SECRET.TOKEN.VALUE"}};
  auto with = [&](const char* key, json value) {
    json j = good;
    if (value.is_discarded()) {
      j.erase(key);
    } else {
      j[key] = std::move(value);
    }
    return j.dump();
  };
  const json absent = json(json::value_t::discarded);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {"[]", "not a JSON object"},
      {"{\"access_token\": \"a\", ", "not JSON"},
      {with("access_token", absent), "access_token: missing"},
      {with("access_token", 42), "access_token: expected a string, got number"},
      {with("access_token", ""), "access_token: empty"},
      {with("token_type", absent), "token_type: missing"},
      {with("token_type", "mac"), "token_type: expected Bearer, got 'mac'"},
      {with("token_type", json::array()), "token_type: expected a string"},
      {with("expires_in", absent), "expires_in: missing"},
      {with("expires_in", true), "expires_in: expected a number, got boolean"},
      {with("expires_in", "3599s"), "expires_in: expected decimal digits"},
      {with("expires_in", -1), "expires_in: out of range"},
      {with("expires_in", 35.5), "expires_in: expected a whole number"},
      {with("expires_in", 1e30), "expires_in: expected a whole number"},
      {with("expires_in", json::object()), "expires_in: expected a number, got object"},
      {with("refresh_in", "soon"), "refresh_in: expected decimal digits"},
  };
  for (const auto& [body, error] : cases) {
    auto r = parse_token_response(body);
    ASSERT_FALSE(r) << body;
    EXPECT_NE(r.error().message.find(error), std::string::npos) << body << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.find("SECRET"), std::string::npos);
  }
}

// ---- OAuth2 errors

TEST(TokenError, DescribesEntraErrorsOnOneLine) {
  const std::string body = R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t\r\nCorrelation ID: c","error_codes":[7000215]})";
  auto e = parse_token_error(body);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->error, "invalid_client");
  EXPECT_EQ(e->error_codes, std::vector<std::int64_t>{7000215});
  EXPECT_EQ(describe_error_response(401, body),
            "HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided. Trace ID: t Correlation ID: c");
}

TEST(TokenError, NeverEchoesANonOAuthBody) {
  EXPECT_EQ(describe_error_response(502, "<html>client_secret=hunter2</html>"),
            "HTTP 502 (no OAuth2 error in a 34-byte body)");
  EXPECT_EQ(describe_error_response(400, R"({"statusCode":400,"message":"Unable to load the identity"})"),
            "HTTP 400: Unable to load the identity");
}

TEST(TokenError, RedactsSecretsAnIdpEchoes) {
  const std::string body = R"({"error":"invalid_request","error_description":"bad value 'hunter2-secret' for client_secret"})";
  const std::string text = describe_error_response(400, body, {"hunter2-secret"});
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("[redacted]"), std::string::npos);
}

TEST(TokenError, CapsLongDescriptions) {
  const std::string body = json{{"error", "x"}, {"error_description", std::string(5000, 'a')}}.dump();
  EXPECT_LE(describe_error_response(400, body).size(), std::string("HTTP 400 x: ").size() + kMaxDescriptionBytes);
}

// An IdP that echoes the form-encoded request in a long description: the
// error code and the AADSTS number stay, no form of the secret does, the
// description is cut to kMaxDescriptionBytes after scrubbing.
TEST(TokenError, AnEchoedRequestIsScrubbedThenCut) {
  const std::string secret = "Zq8~Kd3.Vn5_Xw2-Lp7 Mr4";
  const std::string form(form_encode({{"grant_type", "client_credentials"}, {"client_secret", secret}}).reveal());
  const std::string echoed = "Invalid client secret provided. Request: " + form + " " + std::string(400, '.') +
                             " Again: " + form;
  const std::string body = json{{"error", "invalid_client"}, {"error_description", echoed},
                                {"error_codes", {7000215}}}.dump();
  const std::string text = describe_error_response(401, body, {secret});
  EXPECT_TRUE(text.starts_with("HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided.")) << text;
  EXPECT_EQ(text.find("Zq8"), std::string::npos) << text;
  EXPECT_EQ(text.find("Zq8~Kd3"), std::string::npos) << text;
  EXPECT_NE(text.find("[redacted]"), std::string::npos) << text;
  EXPECT_LE(text.size(), std::string("HTTP 401 invalid_client: AADSTS7000215: ").size() + kMaxDescriptionBytes);
  // Cut by the IdP inside the secret: the piece it kept goes too.
  const std::string cut = json{{"error", "invalid_client"}, {"error_description", "Request: " + form.substr(0, form.size() - 6)}}.dump();
  EXPECT_EQ(describe_error_response(401, cut, {secret}),
            "HTTP 401 invalid_client: Request: grant_type=client_credentials&client_secret=[redacted]");
}

// ---- Retry-After

TEST(RetryAfter, DeltaSeconds) {
  const Clock::time_point now{std::chrono::seconds(kNow)};
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
  EXPECT_EQ(parse_retry_after("999999999999", now), 86400s);  // capped
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("1.5", now));
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("soon", now));
}

TEST(RetryAfter, HttpDatesInAllThreeFormats) {
  // 2023-11-14T22:13:20Z is kNow; each date below is 90 s later.
  const Clock::time_point now{std::chrono::seconds(kNow)};
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:14:50 GMT", now), 90s);
  EXPECT_EQ(parse_retry_after("Tuesday, 14-Nov-23 22:14:50 GMT", now), 90s);
  EXPECT_EQ(parse_retry_after("Tue Nov 14 22:14:50 2023", now), 90s);
  EXPECT_EQ(parse_retry_after("Wed Nov  1 00:00:00 2023", now), 0s);  // past: now
  EXPECT_FALSE(parse_retry_after("Tue, 14 Nov 2023 22:14:50 UTC", now));
  EXPECT_FALSE(parse_retry_after("Tue, 14 Foo 2023 22:14:50 GMT", now));
  EXPECT_FALSE(parse_retry_after("Tue, 34 Nov 2023 22:14:50 GMT", now));
}

// ---- validation before publishing

TokenResponse response_for(const json& claims, std::int64_t expires_in = 3600) {
  TokenResponse r;
  r.access_token = Secret(make_jwt(claims));
  r.token_type = "Bearer";
  r.expires_in = expires_in;
  return r;
}

TEST(ValidateToken, GoodTokenBecomesACredential) {
  auto c = validate_token_response(response_for({{"oid", "object-id"}, {"exp", kNow + 3600}}), {}, kNow);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->username, "object-id");
  EXPECT_EQ(c->issued_at, kNow);
  EXPECT_EQ(c->expires_at, kNow + 3600);
  EXPECT_FALSE(c->refresh_in);
}

TEST(ValidateToken, ExpiresAtIsTheEarlierOfExpAndExpiresIn) {
  auto c = validate_token_response(response_for({{"oid", "o"}, {"exp", kNow + 3500}}, 3600), {}, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->expires_at, kNow + 3500);
}

TEST(ValidateToken, UsernameFromAnyClaimOrALiteral) {
  auto by_claim = validate_token_response(response_for({{"sub", "subject"}, {"exp", kNow + 60}}, 60),
                                          {.claim = "sub"}, kNow);
  ASSERT_TRUE(by_claim);
  EXPECT_EQ(by_claim->username, "subject");
  auto literal = validate_token_response(response_for({{"exp", kNow + 60}}, 60), {.claim = "", .value = "default"},
                                         kNow);
  ASSERT_TRUE(literal);
  EXPECT_EQ(literal->username, "default");
  auto missing = validate_token_response(response_for({{"exp", kNow + 60}, {"oid", 7}}, 60), {}, kNow);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "access_token: no string claim 'oid' for the username");
}

TEST(ValidateToken, RefusesExpiredInconsistentOrUnparseableTokens) {
  struct Case {
    TokenResponse response;
    std::string error;
  };
  std::vector<Case> cases;
  cases.push_back({response_for({{"oid", "o"}, {"exp", kNow - 1}}), "access_token: expired at"});
  cases.push_back({response_for({{"oid", "o"}}), "access_token: no exp claim"});
  cases.push_back({response_for({{"oid", "o"}, {"exp", kNow + 7200}}, 3600), "disagrees with expires_in"});
  cases.push_back({response_for({{"oid", "o"}, {"exp", kNow + 3600}}, 0), "expires_in: token already expired"});
  cases.push_back({response_for({{"oid", "o"}, {"exp", kNow + 3600}, {"nbf", kNow + 3000}}), "not valid before"});
  TokenResponse opaque;
  opaque.access_token = Secret("opaque-secret-token");
  opaque.expires_in = 3600;
  cases.push_back({std::move(opaque), "access_token: token is not a JWT"});
  for (auto& c : cases) {
    auto r = validate_token_response(std::move(c.response), {}, kNow);
    ASSERT_FALSE(r) << c.error;
    EXPECT_NE(r.error().message.find(c.error), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("opaque-secret"), std::string::npos);
  }
}

// Whatever is published goes into a Redis AUTH as is: an access token with
// a CR, LF or space could inject a command, so only RFC 6750 b64token
// characters in a JWT's three base64url parts are published.
TEST(ValidateToken, RefusesCharactersABearerTokenCannotHave) {
  const std::string jwt = make_jwt({{"oid", "o"}, {"exp", kNow + 3600}});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {jwt + "\r\nAUTH x", "access_token: character " + std::to_string(jwt.size() + 1) + " (0x0d) may not be in a bearer token"},
      {jwt + " x", "access_token: character " + std::to_string(jwt.size() + 1) + " (0x20) may not be in a bearer token"},
      {"\n" + jwt, "access_token: character 1 (0x0a) may not be in a bearer token"},
      {jwt + "==", "may not be in a JWT"},
      {jwt + "+", "may not be in a JWT"},
  };
  for (const auto& [token, error] : cases) {
    TokenResponse r;
    r.access_token = Secret(token);
    r.expires_in = 3600;
    auto c = validate_token_response(std::move(r), {}, kNow);
    ASSERT_FALSE(c) << error;
    EXPECT_NE(c.error().message.find(error), std::string::npos) << c.error().message;
    EXPECT_EQ(c.error().message.find("AUTH"), std::string::npos) << "the token is never quoted";
  }
}

// A username cut short fails every AUTH: refuse it with a clear error.
TEST(ValidateToken, RefusesAUsernameClaimThatDoesNotFitOrHasControlCharacters) {
  auto long_oid = validate_token_response(response_for({{"oid", std::string(300, 'a')}, {"exp", kNow + 60}}, 60), {}, kNow);
  ASSERT_FALSE(long_oid);
  EXPECT_EQ(long_oid.error().message, "access_token: claim 'oid' for the username: 300 bytes long; a username is at most 256");
  auto fits = validate_token_response(response_for({{"oid", std::string(256, 'a')}, {"exp", kNow + 60}}, 60), {}, kNow);
  ASSERT_TRUE(fits) << fits.error().message;
  EXPECT_EQ(fits->username, std::string(256, 'a'));
  auto newline = validate_token_response(response_for({{"oid", "a\r\nAUTH x"}, {"exp", kNow + 60}}, 60), {}, kNow);
  ASSERT_FALSE(newline);
  EXPECT_EQ(newline.error().message, "access_token: claim 'oid' for the username: character 2 (0x0d) is a control "
                                     "character or whitespace, which a username may not contain");
}

TEST(ValidateToken, ToleranceIsConfigurable) {
  auto r = validate_token_response(response_for({{"oid", "o"}, {"exp", kNow + 3700}}), {}, kNow,
                                   {.expiry_tolerance = 60s});
  ASSERT_FALSE(r);
  auto ok = validate_token_response(response_for({{"oid", "o"}, {"exp", kNow + 3700}}), {}, kNow);
  ASSERT_TRUE(ok);
}

TEST(ValidateToken, KeepsASaneRefreshIn) {
  auto r = response_for({{"oid", "o"}, {"exp", kNow + 86400}}, 86400);
  r.refresh_in = 43200;
  auto c = validate_token_response(std::move(r), {}, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->refresh_in, 43200);
  auto late = response_for({{"oid", "o"}, {"exp", kNow + 3600}}, 3600);
  late.refresh_in = 7200;  // after expiry: meaningless, dropped
  auto d = validate_token_response(std::move(late), {}, kNow);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->refresh_in);
}

TEST(ValidateToken, ExpiresOnWhenThereIsNoExpiresIn) {
  TokenResponse r;
  r.access_token = Secret(make_jwt({{"oid", "o"}, {"exp", kNow + 600}}));
  r.expires_on = kNow + 600;
  auto c = validate_token_response(std::move(r), {}, kNow);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->expires_at, kNow + 600);
}

}  // namespace
}  // namespace tw
