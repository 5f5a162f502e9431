// socket_client.hpp -- one HTTP/1.1 request to the agent's socket API
// (DIR/agent.sock), for the commands that ask the agent rather than read the
// segment: `tokenwell status` (GET /v1/credentials) and `tokenwell jwt sign`
// when the segment holds no private key (POST /v1/keysets/NAME/sign).
//
//   SocketAnswer a = socket_request(ctx.dir + "/agent.sock", "POST", "/v1/keysets/s/sign", claims);
//   if (a.status == 200) ...; else a.error_text();
//
// Every wait is bounded (5 s) so a stuck agent cannot hang a probe; an agent
// that cannot be reached, or answers something that is not HTTP, throws
// SocketError. Single-threaded, like the CLI.
#pragma once

#include <string>
#include <string_view>

namespace tw::cli {

struct SocketError {
  std::string message;
};

struct SocketAnswer {
  int status = 0;
  std::string body;
  // The agent's error bodies are {"error": "..."}: that text (bounded), or "".
  std::string error_text() const;
};

SocketAnswer socket_request(const std::string& socket_path, std::string_view method, std::string_view target,
                            std::string_view body = {});

// A GET whose answer must be 200: its body, else SocketError ("HTTP 503: ...").
std::string socket_get(const std::string& socket_path, std::string_view target);

}  // namespace tw::cli
