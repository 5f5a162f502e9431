// entry_runner.cpp -- see entry_runner.hpp.
#include "tokenwell/agent/refresh/entry_runner.hpp"

namespace tw {
namespace {

bool base64url_or_dot(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// A JWT's header is base64url of `{"`: it starts with "eyJ". Anything of that
// shape long enough to be one goes, whatever it is.
constexpr std::size_t kShortestJwtShape = 16;

}  // namespace

std::string status_error_text(std::string_view message) {
  std::string redacted;
  for (std::size_t i = 0; i < message.size();) {
    const bool boundary = i == 0 || !base64url_or_dot(message[i - 1]);
    if (boundary && message.substr(i, 3) == "eyJ") {
      std::size_t end = i;
      while (end < message.size() && base64url_or_dot(message[end])) ++end;
      if (end - i >= kShortestJwtShape) {
        redacted += "[redacted]";
        i = end;
        continue;
      }
    }
    redacted += message[i++];
  }

  std::string out;
  for (const char ch : redacted) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += ch;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() <= kStatusErrorBytes) return out;
  std::size_t cut = kStatusErrorBytes - 3;
  // Back to the first byte of a UTF-8 sequence, so the text stays valid.
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out + "...";
}

}  // namespace tw
