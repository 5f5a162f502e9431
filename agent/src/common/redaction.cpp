// redaction.cpp -- see redaction.hpp.
#include "tokenwell/agent/common/redaction.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/percent_encoding.hpp"
#include "tokenwell/jose/jose.hpp"

namespace tw {
namespace {

// Longer text is cut to this before scrubbing: an excerpt is far shorter, and
// a secret straddling the cut is caught as a piece at the end.
constexpr std::size_t kMaxScrubbedBytes = 64 * 1024;

// A JWT's header is base64url of `{"`: it starts with "eyJ". Anything of that
// shape long enough to be one goes, whatever it is.
constexpr std::size_t kShortestJwtShape = 16;

bool base64url_or_dot(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// As the agent's form encoder writes it (http/curl_http_client.cpp), and the
// variants other encoders produce of the same bytes.
std::string percent_encoded(std::string_view text, bool lower_hex, bool plus_for_space) {
  std::string out;
  append_percent_encoded(out, text, {.lower_hex = lower_hex, .plus_for_space = plus_for_space});
  return out;
}

// Unpadded: a padded form starts with it.
std::string base64(std::string_view bytes, bool url) {
  if (url) return jose::base64url_encode(bytes);
  std::string out = jose::base64_encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// The characters of base64(secret) that depend on the secret alone when it
// starts `offset` bytes (0..2) into a longer encoded blob (a Basic header).
std::string base64_inside(std::string_view secret, std::size_t offset, bool url) {
  const std::string encoded = base64(std::string(offset, '\0') + std::string(secret), url);
  const std::size_t first = (8 * offset + 5) / 6;
  const std::size_t last = 8 * (offset + secret.size()) / 6;
  return last > first ? encoded.substr(first, last - first) : std::string();
}

// How long a prefix of `form` text[at..] starts with.
std::size_t common_prefix(std::string_view text, std::size_t at, std::string_view form) {
  std::size_t n = 0;
  while (n < form.size() && at + n < text.size() && text[at + n] == form[n]) ++n;
  return n;
}

}  // namespace

std::vector<std::string> secret_forms(std::string_view secret) {
  std::vector<std::string> forms;
  if (secret.size() < kShortestSecret) return forms;
  const auto add = [&](std::string f) {
    if (f.size() >= kShortestSecret && std::find(forms.begin(), forms.end(), f) == forms.end())
      forms.push_back(std::move(f));
  };
  add(std::string(secret));
  add(percent_encoded(secret, false, false));
  add(percent_encoded(secret, true, false));
  add(percent_encoded(secret, false, true));
  add(percent_encoded(secret, true, true));
  for (bool url : {false, true}) {
    const std::string alone = base64(secret, url);
    add(alone + std::string((4 - alone.size() % 4) % 4, '='));
    add(alone);
    for (std::size_t offset = 0; offset < 3; ++offset) add(base64_inside(secret, offset, url));
  }
  const std::string quoted = nlohmann::json(std::string(secret)).dump(-1, ' ', false,
                                                                       nlohmann::json::error_handler_t::replace);
  add(quoted.substr(1, quoted.size() - 2));
  const std::string ascii = nlohmann::json(std::string(secret)).dump(-1, ' ', /*ensure_ascii=*/true,
                                                                      nlohmann::json::error_handler_t::replace);
  add(ascii.substr(1, ascii.size() - 2));
  std::string slashes;  // JSON may escape '/' too
  for (char c : quoted.substr(1, quoted.size() - 2)) {
    if (c == '/') slashes += '\\';
    slashes += c;
  }
  add(slashes);
  return forms;
}

std::string scrub_secrets(std::string_view text, const std::vector<std::string_view>& secrets) {
  text = text.substr(0, kMaxScrubbedBytes);
  std::vector<std::string> forms;
  for (auto s : secrets) {
    for (auto& f : secret_forms(s)) forms.push_back(std::move(f));
  }
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    // The longest form (or piece of one) that starts here.
    std::size_t hit = 0;
    for (const auto& f : forms) {
      const std::size_t n = common_prefix(text, i, f);
      const bool whole = n == f.size();
      const bool piece = n >= kShortestSecretPiece;
      const bool cut_at_end = n >= kShortestSecret && i + n == text.size();
      if ((whole || piece || cut_at_end) && n > hit) hit = n;
    }
    const bool boundary = i == 0 || !base64url_or_dot(text[i - 1]);
    if (hit == 0 && boundary && text.substr(i, 3) == "eyJ") {
      std::size_t end = i;
      while (end < text.size() && base64url_or_dot(text[end])) ++end;
      if (end - i >= kShortestJwtShape) hit = end - i;
    }
    if (hit > 0) {
      out += kRedacted;
      i += hit;
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::string scrubbed_excerpt(std::string_view text, std::size_t max_bytes, const std::vector<std::string_view>& secrets) {
  const std::string scrubbed = scrub_secrets(text, secrets);
  std::string out;
  for (const char ch : scrubbed) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() <= max_bytes) return out;
  std::size_t cut = max_bytes > 3 ? max_bytes - 3 : 0;
  // Back to the first byte of a UTF-8 sequence, so the text stays valid.
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  // Scrubbed again: a secret's start left at the cut end goes too.
  out = scrub_secrets(out, secrets);
  return out + "...";
}

}  // namespace tw
