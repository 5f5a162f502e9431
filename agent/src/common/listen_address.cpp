// listen_address.cpp -- see listen_address.hpp.
#include "tokenwell/agent/common/listen_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "tokenwell/agent/common/json_object.hpp"

namespace tw {

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const auto expected = [&] {
    return make_error("expected \"host:port\" like \"0.0.0.0:9464\", got \"" + printable(text) + "\"");
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return expected();
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr v6{};
    if (host.empty() || ::inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1)
      return make_error("\"" + printable(text) + "\": not an IPv6 address in the brackets");
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return expected();
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return expected();
  // Digits only from here; from_chars reports what does not fit.
  std::uint32_t number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc() || end != port.data() + port.size() || number > 65535)
    return make_error("port out of range (" + printable(port, 40) + ")");
  if (!text.starts_with('[')) {
    in_addr v4{};
    if (::inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1)
      return make_error("\"" + printable(text) + "\": the host must be an IPv4 address, or IPv6 in brackets "
                        "(\"[::]:9464\")");
  }
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(number)};
}

}  // namespace tw
