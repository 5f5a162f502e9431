// config_schema.hpp -- the description of the agent's config file: every
// object, key, type, default, allowed value and range, as tables. The parser
// (config.cpp, entra_config.cpp) takes its key lists, allowed values and
// ranges from them; `tokenwell-agent --print-config-schema` prints them as
// JSON Schema, from which scripts/generate-config-schema.py makes the chart's
// values.schema.json (its `config` part) and docs/config.md's key tables. So
// the chart, the docs and the agent accept the same keys and values.
//
//   const ObjectSchema& refresh = config_schema::refresh();
//   if (auto only = o.only(refresh.keys()); !only) return only.error();
//   const Property& ratio = refresh.property("ratio");
//   TW_TRY(value, o.number("ratio", ratio.minimum, ratio.maximum));
//   std::cout << config_schema::json_schema().dump(2);
//
// What JSON Schema cannot say -- one duration relative to another, an
// environment variable standing in for a key, a file that must be readable --
// only the parser checks. scripts/doc-check.py (CI) runs every key's example
// and every allowed value through --check-config and the JSON Schema, so the
// two cannot drift apart. Plain constant data; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tw::config_schema {

enum class Kind {
  string,    // a non-empty string
  path,      // an absolute path (a non-empty string starting with '/')
  boolean,
  number,    // within [minimum, maximum]
  duration,  // "90s", "5m", "1h", "250ms", "1d" or seconds as a number
  ids,       // an array of non-negative integer uids or gids
  object,    // the nested `object`
  array,     // an array of `object`
  custom,    // `schema` holds the JSON Schema (a string or object union)
};

struct ObjectSchema;

struct Property {
  std::string_view key;
  Kind kind = Kind::string;
  std::string_view description;    // one sentence, for docs/config.md and the schema
  std::string_view default_value;  // as docs/config.md shows it; "" = none
  bool required = false;
  std::span<const std::string_view> values = {};  // allowed values of a string
  double minimum = 0;                             // number
  double maximum = 0;                             // number
  std::string_view pattern = {};                  // a string's regex (JSON Schema syntax)
  const ObjectSchema* object = nullptr;           // object, array
  std::string_view schema = {};                   // custom: JSON Schema text
  std::string_view example = {};                  // JSON text of a valid value
};

// One value of the key that selects which other keys an object has
// (`source` of a credential, `method` of an auth block).
struct Variant {
  std::string_view value;
  const ObjectSchema* schema;  // the keys that value adds
};

struct ObjectSchema {
  std::string_view id;           // the JSON Schema definition's name
  std::string_view title;        // docs/config.md's heading
  std::string_view description;
  std::span<const Property> properties;  // keys every variant has
  std::string_view selector = {};        // "source", "method"; "" = no variants
  std::string_view default_variant = {}; // the selector's value when it is absent
  std::span<const Variant> variants = {};
  std::span<const std::string_view> exactly_one_of = {};  // of these keys
  std::span<const std::string_view> at_most_one_of = {};

  // The keys allowed in the object (with `variant`'s, if any).
  std::vector<std::string_view> keys(std::string_view variant = {}) const;
  // The property `key` (of the object or of `variant`); throws if absent:
  // a caller asking for a key the table lacks is a bug.
  const Property& property(std::string_view key, std::string_view variant = {}) const;
  const ObjectSchema* variant(std::string_view value) const;
  // "a, b, c": the variants' values, for error messages.
  std::string variant_list() const;
};

// The whole file and its parts.
const ObjectSchema& config();
const ObjectSchema& log();
const ObjectSchema& allow();
const ObjectSchema& credential();  // variants by `source`
const ObjectSchema& refresh();     // a credential's refresh block
const ObjectSchema& username();    // entra and oauth2: {"claim"} or {"value"}
const ObjectSchema& entra_auth();  // variants by `method`
const ObjectSchema& oauth2_auth();
const ObjectSchema& keyset();      // variants by `source`
const ObjectSchema& jwks_refresh();

// Every object above and those they reach, each once, parents first.
std::vector<const ObjectSchema*> all_objects();

// The JSON Schema (draft-07) of the config file.
nlohmann::ordered_json json_schema();

}  // namespace tw::config_schema
