// cli.hpp -- what the `tokenwell` subcommands share: exit codes, the Failure
// they throw, the runtime directory, option parsing and segment access with
// error messages that say what is wrong.
//
//   int run_get(const Context& ctx, Argv argv) {
//     static constexpr OptionSpec kOptions[] = {{"--json", false}};
//     const Args args = Args::parse("get", argv, kOptions);
//     const tw::Client client = open_client(ctx);
//     tw::Credential c = read_credential(client, ctx, args.name());
//     ...
//   }
//
// Commands report every failure by throwing Failure; main() prints it as one
// line on stderr and exits with its code. Messages name entries and paths,
// never a secret. Single-threaded, like the CLI.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenwell/tokenwell.hpp"

namespace tw::cli {

// The CLI's contract (DESIGN.md, "`tokenwell` CLI"). Never renumber.
enum ExitCode : int {
  kOk = 0,
  kInvalid = 1,      // jwt verify: invalid token; also: stdout not writable
  kUsage = 2,        // bad arguments, or a command not available yet
  kUnknownName = 3,  // no entry of that name
  kNoValue = 4,      // not fetched yet, expired; `wait` timed out
  kUnavailable = 5,  // no segment, corrupt, incompatible, agent unavailable
  // `exec` only, as env(1) and POSIX shells report them:
  kCannotExecute = 126,
  kCommandNotFound = 127,
};

struct Failure {
  ExitCode code;
  std::string message;
};

inline Failure usage_error(std::string message) { return {kUsage, std::move(message)}; }

// The arguments of one subcommand, after its name (global options removed).
using Argv = std::span<char* const>;

// Where the segment is: --dir, else $TOKENWELL_DIR, else /run/tokenwell.
struct Context {
  std::string dir;
  std::string segment_path() const { return dir + "/segment"; }
};

struct OptionSpec {
  std::string_view name;  // "--json"
  bool takes_value;
};

// Options and positionals of one subcommand. Options may come before or
// after positionals, as `--opt VALUE` or `--opt=VALUE`; `--` ends options and
// everything after it is kept verbatim (exec's command line).
class Args {
 public:
  static Args parse(std::string_view command, Argv argv, std::span<const OptionSpec> options);

  bool has(std::string_view option) const;
  std::optional<std::string> value(std::string_view option) const;
  // The single positional NAME; a usage Failure if absent or not alone.
  const std::string& name() const;
  // The positionals, after expect_positionals() checked their count.
  const std::vector<std::string>& positionals() const { return positionals_; }
  // A usage Failure unless there are exactly `count` positionals.
  void expect_positionals(std::size_t count, std::string_view what) const;
  // What followed `--`, or nullopt when there was no `--`.
  const std::optional<std::vector<char*>>& rest() const { return rest_; }

 private:
  std::string command_;
  std::vector<std::string> positionals_;
  std::vector<std::pair<std::string, std::string>> options_;  // last one wins
  std::optional<std::vector<char*>> rest_;
};

// Strict numbers for option values; usage Failures name the option.
std::uint64_t parse_generation(std::string_view option, std::string_view text);
std::chrono::milliseconds parse_seconds(std::string_view option, std::string_view text);

// A name as it may appear in a one-line message: quoted, control bytes shown
// as '?', so a hostile argument cannot forge more lines.
std::string quote(std::string_view name);
// Unix seconds as 2024-05-01T10:00:00Z; "never" for 0.
std::string format_expiry(std::int64_t unix_seconds);
// "credential" / "keyset", "valid" / "expired" / "pending" ("unknown" for a
// kind or state added by a newer agent): the words of `list` and `status`.
std::string_view kind_name(tw::EntryKind kind);
std::string_view state_name(tw::EntryState state);
// Rows as columns two spaces apart, each row one line (the first is the header).
std::string aligned_table(const std::vector<std::vector<std::string>>& rows);

// The exit code for a TOKENWELL_* code. Every code is mapped deliberately.
ExitCode exit_code_for(int tokenwell_code);

// The Failure for a failed call about entry `name` ("" for open and list).
Failure segment_failure(const Context& ctx, int tokenwell_code, std::string_view name = {});

tw::Client open_client(const Context& ctx);
// The current value of credential `name`; a Failure explaining why not.
tw::Credential read_credential(const tw::Client& client, const Context& ctx,
                               std::string_view name);

// Writes all of `text` to stdout and flushes; a kInvalid Failure if it cannot.
void write_stdout(std::string_view text);

// The subcommands (one file each).
int run_get(const Context& ctx, Argv argv);
int run_wait(const Context& ctx, Argv argv);
int run_list(const Context& ctx, Argv argv);
int run_status(const Context& ctx, Argv argv);
int run_exec(const Context& ctx, Argv argv);
int run_jwt(const Context& ctx, Argv argv);   // jwt sign | jwt verify
int run_jwks(const Context& ctx, Argv argv);

}  // namespace tw::cli
