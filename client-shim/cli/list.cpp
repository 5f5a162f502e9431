// list.cpp -- `tokenwell list [--json]`: names, kinds, states, expiry and
// generations. Never a secret, never a username: only stat() is called.
#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"

namespace tw::cli {
namespace {

struct Row {
  std::string name;
  tw::EntryInfo info;
};

std::string table(const std::vector<Row>& rows) {
  using Cells = std::vector<std::string>;
  std::vector<Cells> lines = {{"NAME", "KIND", "STATE", "EXPIRES", "GENERATION"}};
  for (const Row& r : rows)
    lines.push_back({r.name, std::string(kind_name(r.info.kind)),
                     std::string(state_name(r.info.state)), format_expiry(r.info.expires_at),
                     std::to_string(r.info.generation)});
  return aligned_table(lines);
}

std::string json(const std::vector<Row>& rows) {
  auto array = nlohmann::ordered_json::array();
  for (const Row& r : rows)
    array.push_back({{"name", r.name},
                     {"kind", kind_name(r.info.kind)},
                     {"state", state_name(r.info.state)},
                     {"expires_at", r.info.expires_at},
                     {"generation", r.info.generation}});
  // Names are [A-Za-z0-9._-] when the agent wrote them; replace anything else.
  return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

}  // namespace

int run_list(const Context& ctx, Argv argv) {
  static constexpr OptionSpec kOptions[] = {{"--json", false}};
  const Args args = Args::parse("list", argv, kOptions);
  args.expect_positionals(0, "");
  const tw::Client client = open_client(ctx);
  auto names = client.list();
  if (!names) throw segment_failure(ctx, names.code());
  std::vector<Row> rows;
  for (const std::string& name : *names) {
    auto info = client.stat(name);
    if (info.code() == TOKENWELL_ENOTFOUND) continue;  // removed since list()
    if (!info) throw segment_failure(ctx, info.code(), name);
    rows.push_back({name, *info});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.name < b.name; });
  write_stdout(args.has("--json") ? json(rows) : table(rows));
  return kOk;
}

}  // namespace tw::cli
