// args.cpp -- option parsing for the subcommands, and strict option values.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "cli.hpp"

namespace tw::cli {

Args Args::parse(std::string_view command, Argv argv, std::span<const OptionSpec> options) {
  Args args;
  args.command_ = command;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      args.rest_.emplace(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
    if (!arg.starts_with("--")) {
      args.positionals_.emplace_back(arg);
      continue;
    }
    const std::size_t eq = arg.find('=');
    const std::string_view key = arg.substr(0, eq);
    const auto spec = std::find_if(options.begin(), options.end(),
                                   [&](const OptionSpec& o) { return o.name == key; });
    if (spec == options.end()) throw usage_error(args.command_ + ": unknown option " + quote(key));
    if (!spec->takes_value) {
      if (eq != std::string_view::npos)
        throw usage_error(args.command_ + ": option " + std::string(key) + " takes no value");
      args.options_.emplace_back(key, "");
    } else if (eq != std::string_view::npos) {
      args.options_.emplace_back(key, arg.substr(eq + 1));
    } else if (i + 1 < argv.size()) {
      args.options_.emplace_back(key, argv[++i]);
    } else {
      throw usage_error(args.command_ + ": option " + std::string(key) + " needs a value");
    }
  }
  return args;
}

bool Args::has(std::string_view option) const { return value(option).has_value(); }

std::optional<std::string> Args::value(std::string_view option) const {
  const auto it = std::find_if(options_.rbegin(), options_.rend(),
                               [&](const auto& o) { return o.first == option; });
  if (it == options_.rend()) return std::nullopt;
  return it->second;
}

void Args::expect_positionals(std::size_t count, std::string_view what) const {
  if (positionals_.size() < count) throw usage_error(command_ + ": missing " + std::string(what));
  if (positionals_.size() > count)
    throw usage_error(command_ + ": unexpected argument " + quote(positionals_[count]));
}

const std::string& Args::name() const {
  expect_positionals(1, "NAME");
  // Checked here, before any waiting: `wait` must not block on a name the
  // library would refuse.
  const std::string& name = positionals_.front();
  if (name.empty() || name.size() > TOKENWELL_NAME_MAX)
    throw usage_error(command_ + ": invalid name " + quote(name) + " (1 to " +
                      std::to_string(TOKENWELL_NAME_MAX) + " bytes)");
  return name;
}

std::uint64_t parse_generation(std::string_view option, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw usage_error(std::string(option) + ": expected a generation number, got " + quote(text));
  return value;
}

std::chrono::milliseconds parse_seconds(std::string_view option, std::string_view text) {
  // Beyond this a deadline is "never" in practice, and the milliseconds
  // still fit an int64 with room for adding the current time.
  constexpr double kMaxSeconds = 1e9;
  double seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > kMaxSeconds)
    throw usage_error(std::string(option) + ": expected seconds (0 to 1e9, fractions allowed), got " +
                      quote(text));
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

}  // namespace tw::cli
