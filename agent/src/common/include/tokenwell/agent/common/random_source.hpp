// random_source.hpp -- where unpredictable bytes come from (JWT ids today),
// injected so tests can make them deterministic.
//
//   OsRandomSource random;
//   std::array<unsigned char, 16> id;
//   random.fill(id);
//   double jitter = uniform(random, -1.0, 1.0);
//
// OsRandomSource is thread-safe (getrandom(2)).
#pragma once

#include <span>

namespace tw {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual void fill(std::span<unsigned char> out) = 0;
};

class OsRandomSource final : public RandomSource {
 public:
  void fill(std::span<unsigned char> out) override;
};

// A sample uniform in [lo, hi), from 53 random bits: the jitter and backoff
// samples of the refresh rules.
double uniform(RandomSource& random, double lo, double hi);

}  // namespace tw
