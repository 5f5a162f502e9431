// main.cpp -- the `tokenwell` command: global options, dispatch, help.
//
// Every subcommand is a row of kCommands and a run_*() in its own file. A row
// without a function is a command of the contract that is not built yet;
// adding one is a new file and a changed row.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli.hpp"

namespace tw::cli {
namespace {

constexpr std::string_view kHelp = R"(usage: tokenwell [--dir DIR] COMMAND [ARGS...]

Reads the credentials tokenwell-agent publishes in DIR/segment.

commands:
  get NAME [--json] [--field token|username]
      Print the token (or the --field) and a newline. --json prints
      {"name","username","token","expires_at","generation"}, expires_at in
      unix seconds (0: does not expire).
  wait NAME [--after GEN] [--timeout SECONDS]
      Block until NAME has a generation newer than GEN and print it. Without
      --after, GEN is the generation when the command starts (so it waits for
      the next rotation); before the agent has created the segment or NAME,
      any generation counts. SECONDS may have a fraction; default: no limit.
  list [--json]
      Every credential and keyset: kind, state (valid, expired, pending),
      expiry and generation. Never a secret.
  status [--json] [--watch]
      How every credential and keyset is doing, from the agent's socket
      (DIR/agent.sock): state (ok, failing, expired, pending), time left,
      last refresh, last error, generation. Never a secret. --watch redraws
      every second until Ctrl-C; --json prints one object (per second with
      --watch). Without an agent, what DIR/segment holds, and exit 5.
  exec NAME -- CMD [ARGS...]
      Run CMD with TOKENWELL_USERNAME, TOKENWELL_TOKEN and REDISCLI_AUTH (the
      token; redis-cli takes it as the password, so pass the ACL user):
        tokenwell exec redis -- sh -c 'exec redis-cli --user "$TOKENWELL_USERNAME" PING'
  jwt sign KEYSET --claims JSON [--ttl DURATION]
      Sign the claims (a JSON object) with KEYSET's active signing key and
      print the compact JWS. iat and exp (now + DURATION, default 5m; "90s",
      "5m", "1h" or seconds) are added unless the claims have them.
  jwt verify KEYSET TOKEN|- [--aud A] [--iss I]
      Verify TOKEN with KEYSET's keys and print its claims JSON; exit 1 with
      the reason on stderr if it is invalid. "-" reads the token from
      standard input (a command line is visible in /proc/PID/cmdline). exp is required; nbf and iat
      are honoured with 60 s leeway; --aud/--iss must match when given.
  jwks KEYSET
      Print KEYSET's public JWKS (RFC 7517 {"keys":[...]}).

options (anywhere before "--"):
  --dir DIR    runtime directory (else $TOKENWELL_DIR, else /run/tokenwell)
  --help       this text
  --version    versions of tokenwell and libtokenwell

exit status:
  0  ok
  1  invalid (jwt verify); standard output could not be written
  2  usage error
  3  unknown name
  4  no valid value: not fetched yet or expired (status: any entry);
     wait: --timeout passed with nothing newer (3 if NAME never appeared,
     5 if the segment never did)
  5  segment or agent unavailable: no segment, unreadable, corrupt, or
     written by a newer incompatible agent; status: the agent does not
     answer; jwt sign/verify: libtokenwell-jwt (or OpenSSL's libcrypto)
     cannot be loaded
  exec: the status of CMD; 126 if CMD cannot run, 127 if it is not found
)";

constexpr std::string_view kDefaultDir = "/run/tokenwell";

struct Command {
  std::string_view name;
  int (*run)(const Context&, Argv);  // nullptr: not available yet
};

constexpr Command kCommands[] = {
    {"get", run_get},
    {"wait", run_wait},
    {"list", run_list},
    {"status", run_status},
    {"exec", run_exec},
    {"jwt", run_jwt},
    {"jwks", run_jwks},
};

// The command line with the global options taken out. They may appear
// anywhere before "--"; what follows "--" belongs to exec's command.
struct Invocation {
  std::optional<std::string> dir;
  bool help = false;
  bool version = false;
  std::vector<char*> args;  // COMMAND and its arguments
};

Invocation take_global_options(int argc, char** argv) {
  Invocation inv;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      inv.args.insert(inv.args.end(), argv + i, argv + argc);
      break;
    }
    if (arg == "--help" || arg == "-h") {
      inv.help = true;
    } else if (arg == "--version") {
      inv.version = true;
    } else if (arg == "--dir") {
      if (i + 1 == argc) throw usage_error("option --dir needs a value");
      inv.dir = argv[++i];
    } else if (arg.starts_with("--dir=")) {
      inv.dir = std::string(arg.substr(6));
    } else {
      inv.args.push_back(argv[i]);
    }
  }
  return inv;
}

Context context_for(const Invocation& inv) {
  std::string dir;
  if (inv.dir) {
    if (inv.dir->empty()) throw usage_error("option --dir needs a directory");
    dir = *inv.dir;
  } else if (const char* env = std::getenv("TOKENWELL_DIR"); env != nullptr && *env != '\0') {
    dir = env;
  } else {
    dir = kDefaultDir;
  }
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();  // messages show dir/segment
  return {std::move(dir)};
}

int run(int argc, char** argv) {
  const Invocation inv = take_global_options(argc, argv);
  if (inv.help) {
    write_stdout(kHelp);
    return kOk;
  }
  if (inv.version) {
    write_stdout(std::string("tokenwell ") + TOKENWELL_VERSION_STRING + " (libtokenwell " +
                 tokenwell_version() + ")\n");
    return kOk;
  }
  if (inv.args.empty()) throw usage_error("missing COMMAND");
  const std::string_view name = inv.args.front();
  for (const Command& command : kCommands) {
    if (command.name != name) continue;
    if (command.run == nullptr)
      throw usage_error(std::string(name) + ": not available yet in this version of tokenwell");
    return command.run(context_for(inv), Argv(inv.args).subspan(1));
  }
  throw usage_error("unknown command " + quote(name));
}

}  // namespace
}  // namespace tw::cli

int main(int argc, char** argv) {
  using namespace tw::cli;
  try {
    return run(argc, argv);
  } catch (const Failure& failure) {
    std::fprintf(stderr, "tokenwell: %s%s\n", failure.message.c_str(),
                 failure.code == kUsage ? " (see tokenwell --help)" : "");
    return failure.code;
  } catch (const std::bad_alloc&) {
    std::fputs("tokenwell: out of memory\n", stderr);
    return kUnavailable;
  }
}
