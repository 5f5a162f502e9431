// get.cpp -- `tokenwell get NAME [--json] [--field token|username]`.
#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace tw::cli {

int run_get(const Context& ctx, Argv argv) {
  static constexpr OptionSpec kOptions[] = {{"--json", false}, {"--field", true}};
  const Args args = Args::parse("get", argv, kOptions);
  const std::string& name = args.name();
  const auto field = args.value("--field").value_or("token");
  if (field != "token" && field != "username")
    throw usage_error("get: --field takes token or username, not " + quote(field));
  if (args.has("--json") && args.has("--field"))
    throw usage_error("get: --json prints every field; use it without --field");

  const tw::Client client = open_client(ctx);
  const tw::Credential credential = read_credential(client, ctx, name);

  if (!args.has("--json")) {
    write_stdout((field == "token" ? credential.token : credential.username) + '\n');
    return kOk;
  }
  const nlohmann::ordered_json json = {{"name", name},
                                       {"username", credential.username},
                                       {"token", credential.token},
                                       {"expires_at", credential.expires_at},
                                       {"generation", credential.generation}};
  std::string text;
  try {
    text = json.dump();
  } catch (const nlohmann::json::type_error&) {
    // JSON has no way to carry arbitrary bytes (a `file` source may hold
    // any); replacing them would print a token that does not work.
    throw usage_error("get: credential " + quote(name) +
                      " is not valid UTF-8 and cannot be printed as JSON; use --field");
  }
  write_stdout(text + '\n');
  return kOk;
}

}  // namespace tw::cli
