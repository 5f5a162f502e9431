// percent_encoding.cpp -- see percent_encoding.hpp.
#include "tokenwell/agent/common/percent_encoding.hpp"

namespace tw {

void append_percent_encoded(std::string& out, std::string_view text, PercentEncoding style) {
  const char* hex = style.lower_hex ? "0123456789abcdef" : "0123456789ABCDEF";
  for (unsigned char c : text) {
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ' && style.plus_for_space) {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
}

}  // namespace tw
