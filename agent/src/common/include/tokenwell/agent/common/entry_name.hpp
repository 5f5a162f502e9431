// entry_name.hpp -- the one rule for the names of credentials and keysets,
// shared by the config parser and the segment writer (a name is a slot key
// in the segment and a path segment in the socket API).
//
//   if (!valid_entry_name("redis")) ...
//
// Thread-safe (a pure function).
#pragma once

#include <cstddef>
#include <string_view>

namespace tw {

inline constexpr std::size_t kMaxEntryNameBytes = 64;  // TOKENWELL_NAME_MAX

// 1 to 64 characters of [A-Za-z0-9._-].
bool valid_entry_name(std::string_view name);

}  // namespace tw
