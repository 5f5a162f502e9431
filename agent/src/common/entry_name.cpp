// entry_name.cpp -- see entry_name.hpp.
#include "tokenwell/agent/common/entry_name.hpp"

#include <algorithm>

namespace tw {

bool valid_entry_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxEntryNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

}  // namespace tw
