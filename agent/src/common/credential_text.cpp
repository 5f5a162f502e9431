// credential_text.cpp -- see credential_text.hpp.
#include "tokenwell/agent/common/credential_text.hpp"

#include <string>

namespace tw {
namespace {

bool is_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_control_or_space(unsigned char c) { return c <= 0x20 || c == 0x7f; }

std::string hex_byte(unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[c >> 4] + kHex[c & 15];
}

// "character 12 (0x0d)": 1-based, as an editor counts.
std::string character(std::size_t index, unsigned char c) {
  return "character " + std::to_string(index + 1) + " (" + hex_byte(c) + ")";
}

}  // namespace

Result<void> check_bearer_token(std::string_view token) {
  if (token.empty()) return make_error("empty");
  std::size_t i = 0;
  for (; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') continue;
    break;
  }
  if (i == 0 && token[0] == '=') return make_error("starts with '='");
  for (std::size_t j = i; j < token.size(); ++j) {
    const auto c = static_cast<unsigned char>(token[j]);
    if (c != '=')
      return make_error(character(j, c) + " may not be in a bearer token (RFC 6750: letters, digits, "
                        "- . _ ~ + / and trailing =)");
  }
  return {};
}

Result<void> check_jwt_shape(std::string_view token) {
  std::size_t parts = 1, part_length = 0;
  for (std::size_t i = 0; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c == '.') {
      if (part_length == 0) return make_error("part " + std::to_string(parts) + " of the JWT is empty");
      ++parts;
      part_length = 0;
    } else if (is_alnum(c) || c == '-' || c == '_') {
      ++part_length;
    } else {
      return make_error(character(i, c) + " may not be in a JWT (three base64url parts joined by dots)");
    }
  }
  if (parts != 3) return make_error("a JWT has 3 parts, this has " + std::to_string(parts));
  if (part_length == 0) return make_error("part 3 of the JWT (the signature) is empty");
  return {};
}

Result<void> check_secret_text(std::string_view secret) {
  if (secret.empty()) return make_error("empty");
  for (std::size_t i = 0; i < secret.size(); ++i) {
    const auto c = static_cast<unsigned char>(secret[i]);
    if (is_control_or_space(c))
      return make_error(character(i, c) + " is a control character or whitespace, which a secret may not "
                        "contain (only one trailing newline is taken off)");
  }
  return {};
}

Result<void> check_username(std::string_view username) {
  if (username.size() > kMaxUsernameBytes)
    return make_error(std::to_string(username.size()) + " bytes long; a username is at most " +
                      std::to_string(kMaxUsernameBytes));
  for (std::size_t i = 0; i < username.size(); ++i) {
    const auto c = static_cast<unsigned char>(username[i]);
    if (is_control_or_space(c))
      return make_error(character(i, c) + " is a control character or whitespace, which a username may not contain");
  }
  return {};
}

}  // namespace tw
