// quote.hpp -- how a message names something taken from a request: quoted,
// cut short at a UTF-8 character boundary (messages go into JSON and logs).
//
//   "annotation tokenwell.io/containers names " + quote(name) + ", which ..."
#pragma once

#include <string>
#include <string_view>

namespace tw::injector {

inline std::string quote(std::string_view s, std::size_t max_bytes = 80) {
  if (s.size() <= max_bytes) return "'" + std::string(s) + "'";
  std::size_t cut = max_bytes;
  // Back off over UTF-8 continuation bytes (10xxxxxx) to a character start.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(s.substr(0, cut)) + "...'";
}

}  // namespace tw::injector
