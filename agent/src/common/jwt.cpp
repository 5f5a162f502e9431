// jwt.cpp -- base64url and the JWT claims reader (untrusted input, fuzzed).
#include "tokenwell/agent/common/jwt.hpp"

#include <array>
#include <cmath>
#include <limits>

namespace tw {
namespace {

constexpr std::size_t kMaxTokenBytes = 1 << 20;
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encode(std::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(std::uint8_t(bytes[i])) << 16) |
                            (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) | std::uint8_t(bytes[i + 2]);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

const std::array<std::int8_t, 256>& url_decode_table() {
  static const auto table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kUrlAlphabet[i])] = static_cast<std::int8_t>(i);
    return t;
  }();
  return table;
}

// A NumericDate: a JSON number, seconds since the epoch (fraction dropped).
Result<std::optional<std::int64_t>> numeric_date(const nlohmann::json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::optional<std::int64_t>{};
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return make_error(std::string("claim '") + name + "' is out of range");
    return std::optional<std::int64_t>{it->get<std::int64_t>()};
  }
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 9.0e15) return make_error(std::string("claim '") + name + "' is out of range");
    return std::optional<std::int64_t>{static_cast<std::int64_t>(std::floor(d))};
  }
  return make_error(std::string("claim '") + name + "' must be a number, not " + it->type_name());
}

Result<nlohmann::json> decode_json_object(std::string_view part, const char* what) {
  auto bytes = base64url_decode(part);
  if (!bytes) return make_error(std::string(what) + " is not base64url");
  auto j = nlohmann::json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error(std::string(what) + " is not JSON");
  if (!j.is_object()) return make_error(std::string(what) + " is not a JSON object");
  return j;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) { return encode(bytes, kUrlAlphabet, false); }
std::string base64_encode(std::string_view bytes) { return encode(bytes, kStdAlphabet, true); }

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;  // no length decodes to that
  const auto& table = url_decode_table();
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    const int v = table[c];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::optional<std::string> JwtPayload::string_claim(std::string_view name) const {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty()) return std::nullopt;
  return s;
}

Result<JwtPayload> parse_jwt_payload(std::string_view compact) {
  if (compact.empty()) return make_error("token is empty");
  if (compact.size() > kMaxTokenBytes) return make_error("token is larger than 1 MiB");
  const auto dot1 = compact.find('.');
  if (dot1 == std::string_view::npos) return make_error("token is not a JWT (no '.')");
  const auto dot2 = compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return make_error("token is not a JWT (2 parts, expected 3)");
  if (compact.find('.', dot2 + 1) != std::string_view::npos)
    return make_error("token is not a signed JWT (more than 3 parts; encrypted tokens are not supported)");

  auto header = decode_json_object(compact.substr(0, dot1), "JWT header");
  if (!header) return header.error();
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return make_error("JWT header has no 'alg'");

  auto claims = decode_json_object(compact.substr(dot1 + 1, dot2 - dot1 - 1), "JWT payload");
  if (!claims) return claims.error();

  JwtPayload out;
  auto exp = numeric_date(*claims, "exp");
  if (!exp) return exp.error();
  auto nbf = numeric_date(*claims, "nbf");
  if (!nbf) return nbf.error();
  auto iat = numeric_date(*claims, "iat");
  if (!iat) return iat.error();
  out.exp = *exp;
  out.nbf = *nbf;
  out.iat = *iat;
  out.header = std::move(*header);
  out.claims = std::move(*claims);
  return out;
}

}  // namespace tw
