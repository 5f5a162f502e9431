// jwks_keyset.cpp -- see jwks_keyset.hpp.
#include "tokenwell/agent/keysets/jwks_keyset.hpp"

#include <algorithm>
#include <array>
#include <cmath>


namespace tw {
namespace {

using std::chrono::milliseconds;

std::variant<HttpResponse, JwksFetchError> get(HttpClient& http, const std::string& url,
                                               milliseconds timeout, const char* what, const Clock& clock) {
  auto r = http.send({.method = HttpMethod::get,
                      .url = url,
                      .headers = {{"Accept", "application/json"}},
                      .timeout = timeout});
  if (!r) return JwksFetchError{std::string(what) + ": " + r.error().message, 0};
  if (r->status != 200) {
    JwksFetchError e{std::string(what) + ": " + redact_url(url) + " answered HTTP " + std::to_string(r->status),
                     r->status, std::nullopt};
    if (r->status == 429 || r->status == 503)
      if (auto value = r->header("retry-after")) e.retry_after = parse_retry_after(*value, clock.now());
    return e;
  }
  return std::move(*r);
}

}  // namespace

std::variant<FetchedJwks, JwksFetchError> JwksFetcher::fetch() {
  std::string uri = config_.jwks_uri;
  if (uri.empty()) {
    std::string base = config_.issuer;
    while (base.ends_with('/')) base.pop_back();
    auto d = get(http_, base + "/.well-known/openid-configuration", config_.timeout, "discovery", clock_);
    if (auto* e = std::get_if<JwksFetchError>(&d)) return *e;
    auto found = parse_discovery(std::get<HttpResponse>(d).body.reveal(), config_.issuer);
    if (!found) return JwksFetchError{found.error().message, 200};
    uri = *found;
  }
  auto r = get(http_, uri, config_.timeout, "jwks", clock_);
  if (auto* e = std::get_if<JwksFetchError>(&r)) return *e;
  const auto& response = std::get<HttpResponse>(r);
  auto doc = parse_jwks(response.body.reveal());
  if (!doc) return JwksFetchError{doc.error().message + " at " + redact_url(uri), 200};
  FetchedJwks out;
  std::vector<nlohmann::json> keys;
  for (const auto& k : doc->keys) keys.push_back(k.public_jwk);
  out.jwks = jwks_json(keys);
  out.keys = keys.size();
  out.skipped = std::move(doc->skipped);
  if (auto cc = response.header("cache-control")) out.max_age = cache_control_max_age(*cc);
  return out;
}

JwksRefreshState::JwksRefreshState(JwksKeysetConfig config, RandomSource& random)
    : config_(std::move(config)), random_(random) {}

milliseconds JwksRefreshState::refresh_interval(std::optional<std::chrono::seconds> max_age) const {
  const milliseconds wanted = max_age ? milliseconds(*max_age) : config_.refresh_default;
  return std::clamp(wanted, config_.refresh_min, config_.refresh_max);
}

JwksRefreshState::Step JwksRefreshState::on_result(std::variant<FetchedJwks, JwksFetchError> result,
                                                   TimePoint now) {
  Step step;
  if (auto* ok = std::get_if<FetchedJwks>(&result)) {
    failures_ = 0;
    last_error_.reset();
    step.publish = !current_ || current_->jwks != ok->jwks;
    step.next_attempt = now + refresh_interval(ok->max_age);
    current_ = std::move(*ok);
    return step;
  }
  ++failures_;
  last_error_ = std::get<JwksFetchError>(result);
  std::array<unsigned char, 4> bytes{};
  random_.fill(bytes);
  const double sample =
      static_cast<double>((std::uint32_t(bytes[0]) << 24) | (std::uint32_t(bytes[1]) << 16) |
                          (std::uint32_t(bytes[2]) << 8) | bytes[3]) /
      4294967295.0;
  RefreshSettings backoff;
  backoff.retry_min = config_.retry_min;
  backoff.retry_max = config_.retry_max;
  step.next_attempt = now + retry_delay(backoff, failures_, last_error_->retry_after, sample);
  return step;
}

RefetchReply JwksRefreshState::on_demand(TimePoint now) const {
  if (!last_fetch_ || now >= *last_fetch_ + config_.cooldown) return {true, std::chrono::seconds(0)};
  const auto wait = *last_fetch_ + config_.cooldown - now;
  return {false, std::chrono::ceil<std::chrono::seconds>(wait)};
}

}  // namespace tw
