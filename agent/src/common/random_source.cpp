// random_source.cpp -- see random_source.hpp.
#include "tokenwell/agent/common/random_source.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace tw {

void OsRandomSource::fill(std::span<unsigned char> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // getrandom only fails this way before the pool is seeded or with a
      // bad pointer; both are impossible after boot with our own buffer.
      std::abort();
    }
    done += static_cast<std::size_t>(n);
  }
}

double uniform(RandomSource& random, double lo, double hi) {
  std::array<unsigned char, 8> bytes{};
  random.fill(bytes);
  std::uint64_t v;
  std::memcpy(&v, bytes.data(), sizeof v);
  const double unit = static_cast<double>(v >> 11) * 0x1.0p-53;  // [0, 1)
  return lo + (hi - lo) * unit;
}

}  // namespace tw
