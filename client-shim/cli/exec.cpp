// exec.cpp -- `tokenwell exec NAME -- CMD ARGS...`: replaces itself with CMD,
// the credential in its environment.
//
// TOKENWELL_USERNAME and TOKENWELL_TOKEN carry the credential. REDISCLI_AUTH
// is the token too: redis-cli reads that variable as the password only, and
// sends `AUTH <user> <password>` when given `--user`, so for an ACL user (an
// Entra object id) the command line must name the user, from the variable:
//
//   tokenwell exec redis -- sh -c 'exec redis-cli --user "$TOKENWELL_USERNAME" PING'
//
// execvp() rather than fork+wait: CMD gets our pid, signals reach it directly
// and its exit status (or death by a signal) is the status of `tokenwell exec`.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli.hpp"

namespace tw::cli {

int run_exec(const Context& ctx, Argv argv) {
  const Args args = Args::parse("exec", argv, {});
  if (!args.rest()) throw usage_error("exec: expected NAME -- CMD [ARGS...]");
  const std::string& name = args.name();
  std::vector<char*> command = *args.rest();
  if (command.empty()) throw usage_error("exec: missing CMD after '--'");
  command.push_back(nullptr);

  {
    const tw::Client client = open_client(ctx);
    const tw::Credential credential = read_credential(client, ctx, name);
    // setenv() would cut the value at a NUL and hand CMD a token that fails.
    if (credential.token.find('\0') != std::string::npos)
      throw usage_error("exec: credential " + quote(name) +
                        " contains a NUL byte and cannot be passed in the environment");
    if (::setenv("TOKENWELL_USERNAME", credential.username.c_str(), 1) != 0 ||
        ::setenv("TOKENWELL_TOKEN", credential.token.c_str(), 1) != 0 ||
        ::setenv("REDISCLI_AUTH", credential.token.c_str(), 1) != 0)
      throw Failure{kUnavailable, std::string("cannot set the environment: ") + std::strerror(errno)};
  }

  ::execvp(command.front(), command.data());
  const int err = errno;
  throw Failure{err == ENOENT ? kCommandNotFound : kCannotExecute,
                "exec: cannot run " + quote(command.front()) + ": " + std::strerror(err)};
}

}  // namespace tw::cli
