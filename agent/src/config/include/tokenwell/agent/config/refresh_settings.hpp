// refresh_settings.hpp -- a credential's `refresh` block (DESIGN.md,
// "Refresh engine"), with its defaults. Parsed by config.cpp; the rules that
// use it are refresh/refresh_policy.hpp's.
//
//   RefreshSettings s;                          // the defaults
//   s.retry_max = std::chrono::seconds(30);
//
// A plain value type.
#pragma once

#include <chrono>

namespace tw {

// The `refresh` block of a credential's config, with DESIGN.md's defaults.
struct RefreshSettings {
  double ratio = 0.75;                         // of the lifetime, 0 < ratio < 1
  std::chrono::milliseconds min_remaining{std::chrono::minutes(5)};
  double jitter = 0.05;                        // ± fraction of the lifetime
  std::chrono::milliseconds retry_min{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::seconds(60)};
  // The backoff cap once no valid value is left (expired, or inside
  // min_remaining): a fleet is back within seconds of the IdP's return
  // (bench/fleet chose it, docs/fleet.md). Never above retry_max.
  std::chrono::milliseconds retry_max_expired{std::chrono::seconds(8)};
  // The longest Retry-After honoured; a longer one is clamped to it.
  std::chrono::milliseconds retry_after_max{std::chrono::minutes(5)};
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

}  // namespace tw
