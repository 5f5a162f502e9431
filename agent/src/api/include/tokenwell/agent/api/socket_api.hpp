// socket_api.hpp -- the agent's HTTP/1.1 API on the Unix socket
// `$runtime_dir/agent.sock` (DESIGN.md, "Unix socket API"):
//
//   GET  /v1/credentials                          entries, no secrets
//   GET  /v1/credentials/NAME[?after=GEN&wait=S]  a credential (long-poll)
//   GET  /v1/keysets/NAME/jwks                    public JWKS
//   POST /v1/keysets/NAME/refresh                 202, 429 or 404
//   GET  /healthz   /readyz
//
// Every caller is authorized by SO_PEERCRED against `allow` when its
// connection is accepted: others get a fixed 403 at once, their request
// unread, and hold no slot (counted, logged with
// uid/gid/pid; each request is checked again, as a reload may narrow
// `allow`). One uid holds at most limits.max_connections_per_uid connections
// (0: a quarter of max_connections, at least 16). With `after`, a credential request is
// held until a generation newer than `after` is published or `wait` seconds
// pass (default 30, at most 300), then answered with the current value: the
// client compares generations, as with Consul's blocking queries.
//
// Bodies are JSON:
//   list        [{"name","kind","username","state","expires_at","generation","source"}]
//   credential  {"name","username","token","expires_at","generation"}   (`get --json`)
//   refresh     202 {"status":"accepted","name"}, 429 adds Retry-After
//   readyz      {"ready": bool, "reasons": [{"name","reason"}]}
//   errors      {"error": "...", "name"?}: 400 bad query, 403, 404 unknown name
//               or path, 405 (+ Allow), 413, 431, 503 "no valid value"
// Only the credential body holds a secret (and says Cache-Control: no-store).
//
//   auto api = SocketApi::open(io, {.path = runtime_dir / "agent.sock"}, backend, metrics, time);
//   if (!api) return fail(api.error());
//   ... after each publish:  (*api)->notify_published();
//   ... on SIGTERM:          (*api)->stop([&] { /* all answered */ });
//
// Thread-safety: open(), the destructor and the backend run on the
// io_context's thread (or while it is not running); notify_published() and
// stop() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "tokenwell/agent/api/backend.hpp"
#include "tokenwell/agent/api/http_limits.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/timer.hpp"

namespace boost::asio {
class io_context;
}

namespace tw {

// The config's `allow`: a caller is let in when its uid is in `uids`, or its
// gid or one of its supplementary groups is in `gids` -- the same test the
// kernel applies to the segment file, whose owner and group `allow` sets
// (config/access.hpp).
struct SocketAllowList {
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;

  // The default: the agent's own uid and gid.
  static SocketAllowList own_ids();
  bool permits(uid_t uid, gid_t gid, const std::vector<gid_t>& groups = {}) const;
};

// The largest claims JSON POST /v1/keysets/NAME/sign takes (413 beyond): a
// signed token is at most TOKENWELL_JWT_TOKEN_MAX (16 KiB), whose claims,
// base64url-encoded, are 3/4 of that at most.
inline constexpr std::size_t kMaxSignClaimsBytes = 12 * 1024;

struct SocketApiOptions {
  std::filesystem::path path;  // $runtime_dir/agent.sock
  SocketAllowList allow = SocketAllowList::own_ids();
  HttpLimits limits = {.max_body_bytes = kMaxSignClaimsBytes};
  // A long-poll without `wait` waits this long; a longer `wait` is cut to
  // max_wait so a forgotten client does not hold a connection for ever.
  std::chrono::seconds default_wait{30};
  std::chrono::seconds max_wait{300};
};

class SocketApi {
 public:
  // Binds `options.path` (replacing a stale socket file left by a previous
  // run; refusing anything else that is there), makes it mode 0666 --
  // authorization is SO_PEERCRED's job, so other users' processes can
  // connect and get a clean 403 -- and starts accepting. `backend`,
  // `metrics` and `time` (every deadline's timer) must outlive the SocketApi.
  // Denied callers (uid, gid, pid; at most a line a second), the connection
  // cap reached and accept() failing are logged (common/log.hpp).
  static Result<std::unique_ptr<SocketApi>> open(boost::asio::io_context& io,
                                                 SocketApiOptions options, ApiBackend& backend,
                                                 Metrics& metrics, TimeSource& time);
  // Closes every connection at once and removes the socket file; prefer stop().
  ~SocketApi();
  SocketApi(const SocketApi&) = delete;
  SocketApi& operator=(const SocketApi&) = delete;

  // A reload changed `allow`: requests read from now on are checked against
  // it. On the io_context's thread.
  void set_allow(SocketAllowList allow);

  // Something was published: held long-polls look again.
  void notify_published();

  // Graceful stop: removes the socket file and stops accepting, answers
  // held long-polls with the current value, lets requests in flight finish
  // within limits.stop_grace, then calls `on_stopped` on the io_context.
  void stop(std::function<void()> on_stopped = {});

  const std::filesystem::path& path() const;

 private:
  struct Impl;
  explicit SocketApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tw
