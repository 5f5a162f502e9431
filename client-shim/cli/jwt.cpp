// jwt.cpp -- `tokenwell jwt sign`, `tokenwell jwt verify` and `tokenwell jwks`
// over libtokenwell-jwt (tokenwell/jwt.h, loaded on first use: jwt_library.hpp)
// and the keysets in the segment; `jwt sign` asks the agent's socket when the
// segment holds no private key for the keyset. `jwks` reads the segment only.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "jwt_library.hpp"
#include "socket_client.hpp"

namespace tw::cli {
namespace {

// "90s", "5m", "1h", "2d" or plain seconds; positive, at most a year.
std::int64_t parse_ttl(std::string_view text) {
  const auto bad = [&] {
    return usage_error("--ttl: expected a duration like 90s, 5m, 1h or seconds, got " + quote(text));
  };
  if (text.empty()) throw bad();
  std::int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.remove_suffix(1); break;
    case 'm': unit = 60; digits.remove_suffix(1); break;
    case 'h': unit = 3600; digits.remove_suffix(1); break;
    case 'd': unit = 86400; digits.remove_suffix(1); break;
    default: break;
  }
  if (digits.empty() || digits.size() > 9) throw bad();
  std::int64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') throw bad();
    value = value * 10 + (c - '0');
  }
  const std::int64_t seconds = value * unit;
  if (seconds <= 0 || seconds > TOKENWELL_JWT_TTL_MAX) throw bad();
  return seconds;
}

// The name argument checked as the library would.
void check_name(std::string_view command, const std::string& name) {
  if (name.empty() || name.size() > TOKENWELL_NAME_MAX)
    throw usage_error(std::string(command) + ": invalid name " + quote(name) + " (1 to " +
                      std::to_string(TOKENWELL_NAME_MAX) + " bytes)");
}

// Why keyset `name` cannot be used, when the library said ENOTFOUND or
// ENOVALUE: a credential by that name, never fetched, or expired.
Failure keyset_failure(const tw::Client& client, const Context& ctx, int rc,
                       std::string_view name) {
  const std::string entry = quote(name) + " in " + ctx.segment_path();
  if (rc == TOKENWELL_ENOTFOUND) {
    const auto info = client.stat(name);
    if (info && info->kind == tw::EntryKind::credential)
      return {kUnknownName, entry + " is a credential, not a keyset"};
    return {kUnknownName, "no keyset named " + entry};
  }
  if (rc == TOKENWELL_ENOVALUE) {
    const auto info = client.stat(name);
    if (info && info->state == tw::EntryState::expired)
      return {kNoValue, "keyset " + entry + " expired at " + format_expiry(info->expires_at) +
                            " and the agent has not refreshed it"};
    return {kNoValue, "keyset " + entry + " has no value yet (the agent has not fetched it)"};
  }
  return segment_failure(ctx, rc, name);
}

bool is_segment_code(int rc) { return rc > TOKENWELL_OK && rc < TOKENWELL_JWT_EMALFORMED; }

// Calls fn(buf, size, &len) with a buffer grown until the result fits.
template <typename F>
int call_growing(std::string& out, F&& fn) {
  std::size_t size = 4096;
  for (int attempt = 0; attempt < 4; ++attempt) {
    out.assign(size, '\0');
    std::size_t len = 0;
    const int rc = fn(out.data(), out.size(), &len);
    if (rc == TOKENWELL_OK) {
      out.resize(len);
      return rc;
    }
    if (rc != TOKENWELL_ETOOSMALL) return rc;
    size = len + 1;
  }
  return TOKENWELL_ETOOSMALL;
}

// The segment holds no private key for `name` (DESIGN.md: only with
// "private_in_segment": true): the agent signs, over DIR/agent.sock, with
// the same key and rules. Its answers map onto the CLI's exit codes.
std::string sign_through_agent(const Context& ctx, const std::string& name, const std::string& claims,
                               std::int64_t ttl) {
  const std::string socket = ctx.dir + "/agent.sock";
  SocketAnswer a;
  try {
    // The segment has a keyset of this name: [A-Za-z0-9._-], nothing to encode.
    a = socket_request(socket, "POST", "/v1/keysets/" + name + "/sign?ttl=" + std::to_string(ttl), claims);
  } catch (const SocketError& e) {
    throw Failure{kUnavailable, "keyset " + quote(name) + " in " + ctx.segment_path() +
                                    " has no private key in the segment, and the agent does not answer at " +
                                    quote(socket) + " (" + e.message + ")"};
  }
  const std::string why = a.error_text();
  switch (a.status) {
    case 200: {
      const nlohmann::json body = nlohmann::json::parse(a.body, nullptr, false);
      if (body.is_object() && body.contains("token") && body["token"].is_string()) return body["token"].get<std::string>();
      throw Failure{kUnavailable, "the agent's answer at " + quote(socket) + " has no token"};
    }
    case 400: throw usage_error("jwt sign: " + why);
    case 404: throw Failure{kUnknownName, "no keyset named " + quote(name) + " (the agent at " + quote(socket) + ")"};
    case 409: throw Failure{kNoValue, "keyset " + quote(name) + " has no signing key (verify only)"};
    case 503: throw Failure{kNoValue, "keyset " + quote(name) + " has no value yet"};
    default:
      throw Failure{kUnavailable, "the agent at " + quote(socket) + " refused to sign: HTTP " +
                                      std::to_string(a.status) + (why.empty() ? "" : ": " + quote(why))};
  }
}

int run_sign(const Context& ctx, const Args& args) {
  args.expect_positionals(1, "KEYSET");
  const std::string& name = args.positionals().front();
  check_name("jwt sign", name);
  const auto claims = args.value("--claims");
  if (!claims) throw usage_error("jwt sign: --claims JSON is required (e.g. --claims '{\"sub\":\"alice\"}')");
  const std::int64_t ttl = args.has("--ttl") ? parse_ttl(*args.value("--ttl")) : TOKENWELL_JWT_TTL_DEFAULT;

  const JwtLibrary& jwt = jwt_library("jwt sign");
  const tw::Client client = open_client(ctx);
  std::string token;
  const int rc = call_growing(token, [&](char* buf, std::size_t size, std::size_t* len) {
    return jwt.sign(client.native_handle(), name.c_str(), claims->c_str(), ttl, buf,
                              size, len);
  });
  switch (rc) {
    case TOKENWELL_OK:
      write_stdout(token + '\n');
      return kOk;
    case TOKENWELL_JWT_EJSON:
    case TOKENWELL_JWT_EDUPLICATE:
    case TOKENWELL_JWT_ETOOLARGE:
      throw usage_error("jwt sign: --claims: " + std::string(jwt.strerror(rc)));
    case TOKENWELL_JWT_ENO_SIGNING_KEY:
      write_stdout(sign_through_agent(ctx, name, *claims, ttl) + '\n');
      return kOk;
    default:
      if (is_segment_code(rc)) throw keyset_failure(client, ctx, rc, name);
      // A signing key the library cannot use: the agent published junk.
      throw Failure{kNoValue, "keyset " + quote(name) + " in " + ctx.segment_path() +
                                  ": cannot sign: " + jwt.strerror(rc)};
  }
}

// The token given as "-": read from standard input, so it is not in
// /proc/PID/cmdline for every user to see. One trailing newline (LF or CR LF)
// is dropped; more than the library's limit is refused unread.
std::string read_token_from_stdin() {
  std::string token;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw usage_error(std::string("jwt verify: cannot read the token from standard input: ") +
                        std::strerror(errno));
    }
    token.append(buf, static_cast<std::size_t>(n));
    if (token.size() > TOKENWELL_JWT_TOKEN_MAX + 2)
      throw Failure{kInvalid, "invalid token: " + std::string(jwt_library("jwt verify").strerror(TOKENWELL_JWT_ETOOLARGE))};
  }
  if (!token.empty() && token.back() == '\n') token.pop_back();
  if (!token.empty() && token.back() == '\r') token.pop_back();
  return token;
}

int run_verify(const Context& ctx, const Args& args) {
  args.expect_positionals(2, "KEYSET TOKEN");
  const std::string& name = args.positionals()[0];
  const std::string token =
      args.positionals()[1] == "-" ? read_token_from_stdin() : args.positionals()[1];
  check_name("jwt verify", name);
  const auto audience = args.value("--aud");
  const auto issuer = args.value("--iss");
  tokenwell_jwt_verify_options opts = {sizeof opts, audience ? audience->c_str() : nullptr,
                                       issuer ? issuer->c_str() : nullptr, -1, 0};

  const JwtLibrary& jwt = jwt_library("jwt verify");
  const tw::Client client = open_client(ctx);
  std::string claims;
  const int rc = call_growing(claims, [&](char* buf, std::size_t size, std::size_t* len) {
    return jwt.verify(client.native_handle(), name.c_str(), token.c_str(), &opts, buf,
                                size, len);
  });
  if (rc == TOKENWELL_OK) {
    write_stdout(claims + '\n');
    return kOk;
  }
  if (is_segment_code(rc)) throw keyset_failure(client, ctx, rc, name);
  // The reason only: never the token, which may be someone's credential.
  throw Failure{kInvalid, "invalid token: " + std::string(jwt.strerror(rc))};
}

}  // namespace

int run_jwt(const Context& ctx, Argv argv) {
  if (argv.empty()) throw usage_error("jwt: missing sign or verify");
  const std::string_view sub = argv.front();
  if (sub == "sign") {
    static constexpr OptionSpec kOptions[] = {{"--claims", true}, {"--ttl", true}};
    return run_sign(ctx, Args::parse("jwt sign", argv.subspan(1), kOptions));
  }
  if (sub == "verify") {
    static constexpr OptionSpec kOptions[] = {{"--aud", true}, {"--iss", true}};
    return run_verify(ctx, Args::parse("jwt verify", argv.subspan(1), kOptions));
  }
  throw usage_error("jwt: unknown subcommand " + quote(sub) + " (sign or verify)");
}

int run_jwks(const Context& ctx, Argv argv) {
  const Args args = Args::parse("jwks", argv, {});
  const std::string& name = args.name();
  const tw::Client client = open_client(ctx);
  const auto info = client.stat(name);
  if (info && info->kind != tw::EntryKind::keyset)
    throw Failure{kUnknownName, quote(name) + " in " + ctx.segment_path() +
                                    " is a credential, not a keyset"};
  auto jwks = client.read_public(name);
  if (!jwks) throw keyset_failure(client, ctx, jwks.code(), name);
  write_stdout(jwks->data + '\n');
  return kOk;
}

}  // namespace tw::cli
