// percent_encoding.hpp -- RFC 3986 percent-encoding, the one encoder: the
// HTTP client's form and query values, and the redaction of the same bytes
// as other encoders write them (lower-case hex, '+' for a space).
//
//   std::string out;
//   append_percent_encoded(out, "a b/c");                          // a%20b%2Fc
//   append_percent_encoded(out, "a b/c", {.lower_hex = true, .plus_for_space = true});  // a+b%2fc
#pragma once

#include <string>
#include <string_view>

namespace tw {

struct PercentEncoding {
  bool lower_hex = false;       // %2f instead of %2F
  bool plus_for_space = false;  // '+' instead of %20 (HTML forms)
};

// Appends `text` with every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX.
void append_percent_encoded(std::string& out, std::string_view text, PercentEncoding style = {});

}  // namespace tw
