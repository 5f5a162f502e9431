// listen_address.hpp -- the config's `listen` value, parsed once for both
// the config's validation and the TCP listener that binds it:
// "0.0.0.0:9464", "127.0.0.1:0", "[::]:9464", "[::1]:0". Hosts are IP
// literals (no name lookups at start-up); port 0 picks a free one.
//
//   auto a = parse_listen_address("0.0.0.0:9464");   // {host "0.0.0.0", port 9464}
//   parse_listen_address("127.0.0.1:99999").error().message
//       == "port out of range (99999)"
//
// Errors quote at most a few dozen characters of the text. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tokenwell/agent/common/result.hpp"

namespace tw {

struct ListenAddress {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace tw
