// jwt_sessions.cpp -- the JWT login pattern on a Redis Cluster, with tokenwell.
//
//   jwt_sessions --cluster HOST:PORT [--keyset sessions] [--credential redis]
//                [--ttl SECONDS] [--now UNIX_SECONDS] [COMMAND ARG]
//
//   login USER     issue a session token (JWT signed with the agent's current
//                  key) and store session:{sid} in Redis   -> "ok TOKEN"
//   request TOKEN  verify the signature locally (no network call) and check
//                  the session still exists               -> "ok USER SID"
//   logout TOKEN   revoke the session (DEL): the token is refused from now on
//   stats          "ok requests=N failed=N reauths=N" (failed: Redis errors)
//
// With a COMMAND it runs that one and exits (0 ok, 1 refused, 3 Redis error);
// without, it reads commands from stdin, one a line, and answers each with one
// line -- a long-lived process whose Redis connections stay open across
// credential rotations, like a real service. Refusals are "refused REASON".
// $TOKENWELL_DIR names the agent's runtime directory. --now replaces the
// clock (for signing and verifying), so expiry can be shown without waiting.
#include <hiredis/hiredis.h>
#include <sys/random.h>
#include <tokenwell/hiredis.h>
#include <tokenwell/jwt.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr const char* kIssuer = "jwt-sessions";
constexpr const char* kAudience = "jwt-sessions";

// Redis Cluster's key slot: CRC16-XMODEM of the key (or of its {hash tag})
// modulo 16384, https://redis.io/docs/reference/cluster-spec/.
unsigned key_slot(const std::string& key) {
  std::string_view k = key;
  if (auto open = k.find('{'); open != std::string_view::npos) {
    auto close = k.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) k = k.substr(open + 1, close - open - 1);
  }
  unsigned crc = 0;
  for (unsigned char ch : k) {
    crc ^= static_cast<unsigned>(ch) << 8;
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

struct RedisReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, RedisReplyFree>;

// A Redis Cluster client in its simplest honest form: one connection per
// master, a slot -> node table learnt from MOVED redirections. Every
// connection is AUTHed with the tokenwell credential and re-AUTHed when the
// agent publishes a new token -- all of them, before each command, so an idle
// connection is not dropped when its token expires. Not thread-safe.
class Cluster {
 public:
  Cluster(const tokenwell* tw, std::string credential, std::string seed)
      : tw_(tw), credential_(std::move(credential)) {
    slots_.fill(seed);
  }
  ~Cluster() {
    for (auto& [_, n] : nodes_)
      if (n->c) redisFree(n->c);
  }

  // Runs a single-key command on the node owning `key`, following MOVED.
  // nullopt with *error set when Redis could not be reached or refused.
  std::optional<Reply> run(const std::string& key, const std::vector<std::string>& argv, std::string* error) {
    const unsigned slot = key_slot(key);
    for (int redirects = 0; redirects < 5; ++redirects) {
      Node* n = node(slots_[slot], error);
      if (n == nullptr) return std::nullopt;
      if (!reauth_all(error)) return std::nullopt;
      std::vector<const char*> args;
      std::vector<size_t> lens;
      for (const auto& a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
      }
      Reply r(static_cast<redisReply*>(
          redisCommandArgv(n->c, static_cast<int>(args.size()), args.data(), lens.data())));
      if (!r) {
        *error = std::string("redis ") + slots_[slot] + ": " + n->c->errstr;
        drop(slots_[slot]);  // reconnect on the next command
        return std::nullopt;
      }
      if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str).starts_with("MOVED ")) {
        char addr[128];
        unsigned moved_slot = 0;
        if (std::sscanf(r->str, "MOVED %u %127s", &moved_slot, addr) != 2 || moved_slot >= slots_.size()) {
          *error = std::string("redis: unparsable redirection: ") + r->str;
          return std::nullopt;
        }
        slots_[moved_slot] = addr;
        continue;
      }
      if (r->type == REDIS_REPLY_ERROR) {
        *error = std::string("redis: ") + r->str;
        return std::nullopt;
      }
      return r;
    }
    *error = "redis: too many redirections for key " + key;
    return std::nullopt;
  }

  unsigned long reauths() const { return reauths_; }

 private:
  struct Node {
    redisContext* c = nullptr;
    tokenwell_hiredis auth{};
  };

  Node* node(const std::string& address, std::string* error) {
    auto& n = nodes_[address];
    if (n) return n.get();
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) {
      *error = "redis: bad node address '" + address + "' (expected HOST:PORT)";
      nodes_.erase(address);
      return nullptr;
    }
    auto fresh = std::make_unique<Node>();
    fresh->c = redisConnect(address.substr(0, colon).c_str(), std::atoi(address.c_str() + colon + 1));
    if (fresh->c == nullptr || fresh->c->err) {
      *error = "redis " + address + ": " + (fresh->c ? fresh->c->errstr : "out of memory");
      if (fresh->c) redisFree(fresh->c);
      nodes_.erase(address);
      return nullptr;
    }
    if (int rc = tokenwell_hiredis_init(&fresh->auth, tw_, credential_.c_str()); rc != TOKENWELL_OK) {
      *error = "credential '" + credential_ + "': " + tokenwell_hiredis_strerror(rc);
      redisFree(fresh->c);
      nodes_.erase(address);
      return nullptr;
    }
    n = std::move(fresh);
    return n.get();
  }

  void drop(const std::string& address) {
    auto it = nodes_.find(address);
    if (it == nodes_.end()) return;
    redisFree(it->second->c);
    nodes_.erase(it);
  }

  // A shared-memory generation check per connection; AUTH only after a rotation.
  bool reauth_all(std::string* error) {
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      Node& n = *it->second;
      const bool was_authenticated = n.auth.authenticated != 0;
      int reauthed = 0;
      const int rc = tokenwell_hiredis_check(&n.auth, n.c, &reauthed);
      if (rc == TOKENWELL_OK || (rc == TOKENWELL_ENOVALUE && was_authenticated)) {
        if (reauthed && was_authenticated) ++reauths_;
        ++it;
        continue;
      }
      *error = "redis " + it->first + ": AUTH: " + tokenwell_hiredis_strerror(rc) +
               (n.auth.error[0] ? std::string(" (") + n.auth.error + ")" : std::string());
      redisFree(n.c);
      nodes_.erase(it);
      return false;
    }
    return true;
  }

  const tokenwell* tw_;
  std::string credential_;
  std::array<std::string, 16384> slots_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
  unsigned long reauths_ = 0;
};

struct Options {
  std::string cluster, keyset = "sessions", credential = "redis";
  long ttl = 300;
  int64_t now = 0;  // 0: the real clock
};

// The outcome of one command: the line to print and the exit status.
struct Outcome {
  int status = 0;  // 0 ok, 1 refused, 2 usage, 3 Redis error
  std::string line;
};
Outcome ok(std::string text) { return {0, text.empty() ? "ok" : "ok " + text}; }
Outcome refused(std::string why) { return {1, "refused " + why}; }
Outcome redis_error(std::string why) { return {3, "error " + why}; }

class SessionService {
 public:
  SessionService(const tokenwell* tw, const Options& o) : tw_(tw), o_(o), redis_(tw, o.credential, o.cluster) {}

  Outcome handle(const std::string& command, const std::string& arg) {
    if (command == "login") return login(arg);
    if (command == "request") return request(arg);
    if (command == "logout") return logout(arg);
    if (command == "stats")
      return ok("requests=" + std::to_string(requests_) + " failed=" + std::to_string(failed_) +
                " reauths=" + std::to_string(redis_.reauths()));
    return {2, "error unknown command '" + command + "' (expected login, request, logout or stats)"};
  }

 private:
  int64_t now() const { return o_.now != 0 ? o_.now : static_cast<int64_t>(std::time(nullptr)); }

  static std::string session_key(const std::string& sid) { return "session:{" + sid + "}"; }

  Outcome login(const std::string& user) {
    if (user.empty() || user.size() > 64 ||
        user.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") !=
            std::string::npos)
      return {2, "error bad user name '" + user + "' (1-64 of A-Z a-z 0-9 . _ @ -)"};
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) return redis_error("getrandom failed");
    std::string sid;
    for (unsigned char b : raw) {
      sid += "0123456789abcdef"[b >> 4];
      sid += "0123456789abcdef"[b & 15];
    }
    const int64_t iat = now();
    const nlohmann::json claims = {{"sub", user}, {"sid", sid}, {"iss", kIssuer}, {"aud", kAudience},
                                   {"iat", iat}, {"exp", iat + o_.ttl}};
    char token[TOKENWELL_JWT_TOKEN_MAX];
    if (int rc = tokenwell_jwt_sign(tw_, o_.keyset.c_str(), claims.dump().c_str(), 0, token, sizeof token, nullptr);
        rc != TOKENWELL_OK)
      return redis_error("signing with keyset '" + o_.keyset + "': " + tokenwell_jwt_strerror(rc));
    // The session lives as long as its token; logout ends it sooner.
    auto stored = command(session_key(sid), {"SET", session_key(sid), user, "EX", std::to_string(o_.ttl)});
    if (!stored) return redis_error(error_);
    return ok(token);
  }

  // The verify path: the signature against the keyset's JWKS in shared
  // memory, then exp/iss/aud; no call to the agent or any IdP.
  std::optional<nlohmann::json> verify(const std::string& token, Outcome* refusal) {
    tokenwell_jwt_verify_options opts = {sizeof opts, kAudience, kIssuer, -1, o_.now};
    char claims[TOKENWELL_JWT_JSON_MAX];
    if (int rc = tokenwell_jwt_verify(tw_, o_.keyset.c_str(), token.c_str(), &opts, claims, sizeof claims, nullptr);
        rc != TOKENWELL_OK) {
      *refusal = refused(std::string("token: ") + tokenwell_jwt_strerror(rc));
      return std::nullopt;
    }
    auto j = nlohmann::json::parse(claims, nullptr, false);
    if (!j.is_object() || !j.contains("sub") || !j["sub"].is_string() || !j.contains("sid") ||
        !j["sid"].is_string()) {
      *refusal = refused("token: no sub or sid claim");
      return std::nullopt;
    }
    return j;
  }

  Outcome request(const std::string& token) {
    Outcome refusal;
    auto claims = verify(token, &refusal);
    if (!claims) return refusal;
    const auto sub = (*claims)["sub"].get<std::string>(), sid = (*claims)["sid"].get<std::string>();
    auto session = command(session_key(sid), {"GET", session_key(sid)});
    if (!session) return redis_error(error_);
    if ((*session)->type != REDIS_REPLY_STRING) return refused("session revoked or expired");
    if (std::string((*session)->str, (*session)->len) != sub) return refused("session belongs to another user");
    return ok(sub + " " + sid);
  }

  Outcome logout(const std::string& token) {
    Outcome refusal;
    auto claims = verify(token, &refusal);
    if (!claims) return refusal;
    const auto sid = (*claims)["sid"].get<std::string>();
    auto deleted = command(session_key(sid), {"DEL", session_key(sid)});
    if (!deleted) return redis_error(error_);
    if ((*deleted)->integer == 0) return refused("session revoked or expired");
    return ok("");
  }

  std::optional<Reply> command(const std::string& key, const std::vector<std::string>& argv) {
    ++requests_;
    auto r = redis_.run(key, argv, &error_);
    if (!r) ++failed_;
    return r;
  }

  const tokenwell* tw_;
  const Options& o_;
  Cluster redis_;
  std::string error_;
  unsigned long requests_ = 0, failed_ = 0;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "jwt_sessions: %s\n"
               "usage: jwt_sessions --cluster HOST:PORT [--keyset NAME] [--credential NAME] [--ttl SECONDS]\n"
               "                    [--now UNIX_SECONDS] [login USER | request TOKEN | logout TOKEN | stats]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int i = 1;
  for (; i < argc && std::string_view(argv[i]).starts_with("--"); i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return usage((flag + " needs a value").c_str());
    const std::string v = argv[i + 1];
    if (flag == "--cluster") o.cluster = v;
    else if (flag == "--keyset") o.keyset = v;
    else if (flag == "--credential") o.credential = v;
    else if (flag == "--ttl") o.ttl = std::atol(v.c_str());
    else if (flag == "--now") o.now = std::atoll(v.c_str());
    else return usage(("unknown option " + flag).c_str());
  }
  if (o.cluster.find(':') == std::string::npos) return usage("--cluster HOST:PORT is needed");
  if (o.ttl <= 0) return usage("--ttl must be a positive number of seconds");

  tokenwell* tw = nullptr;
  if (int rc = tokenwell_open(nullptr, &tw); rc != TOKENWELL_OK) {
    std::fprintf(stderr, "jwt_sessions: %s ($TOKENWELL_DIR)\n", tokenwell_strerror(rc));
    return 1;
  }
  int status = 0;
  {
    SessionService service(tw, o);
    if (i < argc) {
      const Outcome out = service.handle(argv[i], i + 1 < argc ? argv[i + 1] : "");
      std::printf("%s\n", out.line.c_str());
      status = out.status;
    } else {
      std::string line;
      while (std::getline(std::cin, line)) {
        const auto space = line.find(' ');
        const Outcome out =
            service.handle(line.substr(0, space), space == std::string::npos ? "" : line.substr(space + 1));
        std::printf("%s\n", out.line.c_str());
        std::fflush(stdout);
      }
    }
  }
  tokenwell_close(tw);
  return status;
}
