// http_limits.hpp -- the bounds every connection of the agent's HTTP
// listeners (the Unix socket and the TCP health listener) lives within, so
// that a slow, hostile or forgotten client never stalls the others nor grows
// the agent's memory.
//
//   HttpLimits limits;                             // production defaults
//   limits.header_timeout = std::chrono::seconds(1);  // a test's slowloris
//
// A plain value type.
#pragma once

#include <chrono>
#include <cstddef>

namespace tw {

struct HttpLimits {
  // A request line plus headers beyond this is answered 431.
  std::size_t max_header_bytes = 8 * 1024;
  // A body beyond this is answered 413 (only POST /v1/keysets/NAME/sign
  // reads one: SocketApiOptions raises it to kMaxSignClaimsBytes).
  std::size_t max_body_bytes = 1024;
  // From a request's first byte until it is read in full; a client that
  // dribbles its headers (slowloris) is disconnected when it runs out.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // How long a connection may sit without starting a request: a new one
  // before its first request, a kept-alive one between requests.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // Writing one response; a client that stops reading is disconnected.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(10)};
  // Open connections; beyond it a new connection is closed at once, so file
  // descriptors and memory stay bounded whatever clients do.
  std::size_t max_connections = 4096;
  // Unix sockets: open connections of one peer uid (0: no cap); beyond it
  // that uid's new connection is closed at once, so one caller cannot take
  // every slot from the others.
  std::size_t max_connections_per_uid = 0;
  // At max_connections, close the connection that has sat idle (between
  // requests, or before its first) longest to make room for the new one,
  // instead of refusing the new one: a flood of idle connections cannot
  // starve a probe. Only when none is idle is the new one refused.
  bool shed_idle_when_full = false;
  // stop(): how long requests already being read or written may take to
  // finish before their connections are closed anyway.
  std::chrono::milliseconds stop_grace{std::chrono::seconds(5)};
};

}  // namespace tw
