// wait.cpp -- `tokenwell wait NAME [--after GEN] [--timeout SECONDS]`.
//
// Prints the first generation of NAME newer than GEN. Without --after, GEN is
// the generation current when the command starts, so it waits for the next
// rotation; while there is no segment or no such entry yet, any generation
// counts, so an init container can run `tokenwell wait redis` before the agent
// has started. The wait itself is the library's (tokenwell_wait() on a
// TOKENWELL_OPEN_MISSING_OK handle): the futex in the segment, and inotify
// on the directory until the segment exists. No polling.
#include <optional>

#include "cli.hpp"

namespace tw::cli {
namespace {

using std::chrono::milliseconds;

// Opens the segment even before the agent has created it: the library then
// waits for the file too. Only a missing file is worth waiting for: one that
// is there but unreadable, corrupt or from a newer agent fails at once.
tw::Client open_for_wait(const Context& ctx) {
  auto client = tw::Client::open(ctx.dir, TOKENWELL_OPEN_MISSING_OK);
  if (!client) throw segment_failure(ctx, client.code());
  return std::move(client).value();
}

// The generation to wait beyond when --after is not given: the current one,
// or 0 (any) while there is no segment or no such entry yet.
std::uint64_t current_generation(const tw::Client& client, const Context& ctx,
                                 std::string_view name) {
  const auto info = client.stat(name);
  if (info) return info->generation;  // valid, expired or pending alike
  if (info.code() == TOKENWELL_ENOTFOUND || info.code() == TOKENWELL_EUNAVAILABLE) return 0;
  throw segment_failure(ctx, info.code(), name);
}

// Why nothing arrived in time: the segment never appeared (5), the name
// never did (3), or it exists and was not republished (4).
Failure timed_out(const tw::Client& client, const Context& ctx, std::string_view name,
                  std::uint64_t after, const std::string& timeout_text) {
  const std::string suffix = "timed out after " + timeout_text + " s";
  const int missing = client.stat(name).code();
  if (missing == TOKENWELL_ENOTFOUND || missing == TOKENWELL_EUNAVAILABLE) {
    Failure f = segment_failure(ctx, missing, name);
    f.message += "; " + suffix;
    return f;
  }
  return {kNoValue, suffix + " waiting for a generation of " + quote(name) + " newer than " +
                        std::to_string(after)};
}

}  // namespace

int run_wait(const Context& ctx, Argv argv) {
  static constexpr OptionSpec kOptions[] = {{"--after", true}, {"--timeout", true}};
  const Args args = Args::parse("wait", argv, kOptions);
  const std::string& name = args.name();
  const auto after_text = args.value("--after");
  const auto timeout_text = args.value("--timeout");
  std::optional<std::uint64_t> after;
  if (after_text) after = parse_generation("--after", *after_text);
  std::optional<milliseconds> timeout;
  if (timeout_text) timeout = parse_seconds("--timeout", *timeout_text);

  const tw::Client client = open_for_wait(ctx);
  if (!after) after = current_generation(client, ctx, name);

  const auto generation = client.wait(name, *after, timeout);
  if (generation) {
    write_stdout(std::to_string(*generation) + '\n');
    return kOk;
  }
  if (generation.code() == TOKENWELL_ETIMEOUT)
    throw timed_out(client, ctx, name, *after, timeout_text.value_or(""));
  throw segment_failure(ctx, generation.code(), name);
}

}  // namespace tw::cli
