// status.cpp -- `tokenwell status [--json] [--watch]`: how every credential
// and keyset is doing, from the agent's socket API (`GET /v1/credentials` on
// DIR/agent.sock): state, time left, last refresh, last error, generation.
// Never a secret: the listing has none, and the CLI prints only its fields.
//
// When the agent does not answer but DIR/segment is readable, the segment's
// view is shown (state, expiry, publication time, generation) with a note on
// stderr, and the exit status is 5.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "socket_client.hpp"

namespace tw::cli {
namespace {

using nlohmann::json;

struct Entry {
  std::string name;
  std::string kind;
  std::string state;  // ok, failing, expired, pending (segment only: valid)
  std::string source;
  std::int64_t expires_at = 0;
  std::int64_t last_refresh = 0;
  std::string last_error;
  std::uint64_t consecutive_failures = 0;
  std::int64_t next_attempt = 0;
  std::uint64_t generation = 0;
  bool has_value() const { return state == "ok" || state == "failing" || state == "valid"; }
};

struct Snapshot {
  bool agent_reachable = false;
  std::string agent_error;  // why not, when not
  std::vector<Entry> entries;
};

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string string_field(const json& o, const char* key) {
  return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
}
template <typename T>
T number_field(const json& o, const char* key) {
  return o.contains(key) && o[key].is_number() ? o[key].get<T>() : T{};
}

std::vector<Entry> parse_listing(const std::string& body) {
  const json list = json::parse(body, nullptr, false);
  if (!list.is_array()) throw SocketError{"the listing is not a JSON array"};
  std::vector<Entry> out;
  for (const json& o : list) {
    if (!o.is_object()) continue;
    Entry e;
    e.name = string_field(o, "name");
    e.kind = string_field(o, "kind");
    e.source = string_field(o, "source");
    e.expires_at = number_field<std::int64_t>(o, "expires_at");
    e.generation = number_field<std::uint64_t>(o, "generation");
    e.last_refresh = number_field<std::int64_t>(o, "last_refresh");
    e.last_error = string_field(o, "last_error");
    e.consecutive_failures = number_field<std::uint64_t>(o, "consecutive_failures");
    e.next_attempt = number_field<std::int64_t>(o, "next_attempt");
    const std::string state = string_field(o, "state");
    e.state = state == "valid" ? (e.consecutive_failures > 0 ? "failing" : "ok") : state;
    out.push_back(std::move(e));
  }
  return out;
}

// ---- the segment, when the agent does not answer ----------------------------

std::vector<Entry> from_segment(const Context& ctx) {
  const tw::Client client = open_client(ctx);
  auto names = client.list();
  if (!names) throw segment_failure(ctx, names.code());
  std::vector<Entry> out;
  for (const std::string& name : *names) {
    auto info = client.stat(name);
    if (info.code() == TOKENWELL_ENOTFOUND) continue;
    if (!info) throw segment_failure(ctx, info.code(), name);
    Entry e;
    e.name = name;
    e.kind = kind_name(info->kind);
    e.state = state_name(info->state);
    e.expires_at = info->expires_at;
    e.generation = info->generation;
    if (info->state != tw::EntryState::pending) e.last_refresh = info->updated_ms / 1000;
    out.push_back(std::move(e));
  }
  return out;
}

Snapshot take_snapshot(const Context& ctx) {
  Snapshot s;
  try {
    s.entries = parse_listing(socket_get(ctx.dir + "/agent.sock", "/v1/credentials"));
    s.agent_reachable = true;
  } catch (const SocketError& e) {
    s.agent_error = "agent not reachable at " + quote(ctx.dir + "/agent.sock") + " (" + e.message + ")";
    // The segment's view; a Failure (exit 5) when there is none either.
    try {
      s.entries = from_segment(ctx);
    } catch (const Failure& f) {
      throw Failure{kUnavailable, s.agent_error + "; " + f.message};
    }
  }
  std::sort(s.entries.begin(), s.entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return s;
}

// ---- output -----------------------------------------------------------------

// 3m12s, 2h05m, 3d04h: two units at most.
std::string duration_text(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  char text[32];
  if (seconds < 60) std::snprintf(text, sizeof text, "%llds", static_cast<long long>(seconds));
  else if (seconds < 3600)
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  else if (seconds < 86400)
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  else
    std::snprintf(text, sizeof text, "%lldd%02lldh", static_cast<long long>(seconds / 86400),
                  static_cast<long long>(seconds % 86400 / 3600));
  return text;
}

// A field as one table cell: control bytes shown as '?' (no forged lines).
std::string cell(std::string_view text) {
  const std::string quoted = quote(text);
  return quoted.substr(1, quoted.size() - 2);
}

std::string time_left(const Entry& e, std::int64_t now) {
  if (e.kind != "credential" || !e.has_value()) return "-";
  if (e.expires_at == 0) return "never";
  return duration_text(e.expires_at - now);
}

std::string table(const Snapshot& s, std::int64_t now) {
  using Cells = std::vector<std::string>;
  std::vector<Cells> lines = {{"NAME", "KIND", "STATE", "TIME LEFT", "LAST REFRESH", "LAST ERROR", "GENERATION"}};
  for (const Entry& e : s.entries)
    lines.push_back({cell(e.name), e.kind, e.state, time_left(e, now),
                     e.last_refresh == 0 ? "-" : duration_text(now - e.last_refresh) + " ago",
                     e.last_error.empty() ? "-" : cell(e.last_error),
                     std::to_string(e.generation)});
  return aligned_table(lines);
}

std::string json_text(const Snapshot& s, std::int64_t now) {
  auto entries = nlohmann::ordered_json::array();
  for (const Entry& e : s.entries) {
    nlohmann::ordered_json o = {{"name", e.name},
                                {"kind", e.kind},
                                {"state", e.state},
                                {"expires_at", e.expires_at},
                                {"time_left", e.kind == "credential" && e.has_value() && e.expires_at != 0
                                                  ? nlohmann::ordered_json(std::max<std::int64_t>(0, e.expires_at - now))
                                                  : nlohmann::ordered_json(nullptr)},
                                {"last_refresh", e.last_refresh},
                                {"generation", e.generation}};
    if (s.agent_reachable) {
      o["source"] = e.source;
      o["last_error"] = e.last_error;
      o["consecutive_failures"] = e.consecutive_failures;
      o["next_attempt"] = e.next_attempt;
    }
    entries.push_back(std::move(o));
  }
  nlohmann::ordered_json doc = {{"agent_reachable", s.agent_reachable}};
  if (!s.agent_reachable) doc["agent_error"] = s.agent_error;
  doc["time"] = now;
  doc["entries"] = std::move(entries);
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

// 5: the agent did not answer; 4: an entry has no valid value; else 0.
ExitCode exit_code_of(const Snapshot& s) {
  if (!s.agent_reachable) return kUnavailable;
  for (const Entry& e : s.entries)
    if (!e.has_value()) return kNoValue;
  return kOk;
}

// ---- --watch ----------------------------------------------------------------

volatile sig_atomic_t g_interrupted = 0;
void on_interrupt(int) { g_interrupted = 1; }

}  // namespace

int run_status(const Context& ctx, Argv argv) {
  static constexpr OptionSpec kOptions[] = {{"--json", false}, {"--watch", false}};
  const Args args = Args::parse("status", argv, kOptions);
  args.expect_positionals(0, "");
  const bool as_json = args.has("--json");

  const auto render = [&](const Snapshot& s) {
    const std::int64_t now = now_unix();
    return as_json ? json_text(s, now) : table(s, now);
  };

  if (!args.has("--watch")) {
    const Snapshot s = take_snapshot(ctx);
    if (!s.agent_reachable)
      std::fprintf(stderr, "tokenwell: %s; showing what %s holds\n", s.agent_error.c_str(),
                   quote(ctx.segment_path()).c_str());
    write_stdout(render(s));
    return exit_code_of(s);
  }

  // A person watching (kubectl exec -it): redraw in place on a terminal,
  // plain blocks one after another otherwise. Ctrl-C ends it with 0.
  struct sigaction sa{};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  bool first = true;
  while (!g_interrupted) {
    std::string frame;
    try {
      const Snapshot s = take_snapshot(ctx);
      frame = render(s);
      if (!s.agent_reachable && !as_json) frame = s.agent_error + "; showing the segment\n" + frame;
    } catch (const Failure& f) {
      frame = as_json ? nlohmann::json{{"agent_reachable", false}, {"agent_error", f.message}}.dump() + "\n"
                      : f.message + "\n";
    }
    if (terminal) frame = "\x1b[H\x1b[2J" + frame;
    else if (!first && !as_json) frame = "\n" + frame;
    write_stdout(frame);
    first = false;
    timespec one_second{1, 0};
    ::nanosleep(&one_second, nullptr);  // a signal cuts it short
  }
  return kOk;
}

}  // namespace tw::cli
