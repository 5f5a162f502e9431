// Built with find_package(tokenwell) against the installed package: the C
// ABI and the header-only C++ wrapper.
#include <tokenwell/tokenwell.h>
#include <tokenwell/tokenwell.hpp>

#include <cstdio>

int main() {
  tokenwell* tw = nullptr;
  const int rc = tokenwell_open("/nonexistent-tokenwell-dir", &tw);
  if (rc != TOKENWELL_EUNAVAILABLE || tw != nullptr) return 1;
  if (tokenwell_version_number() != TOKENWELL_VERSION_NUMBER) return 1;
  auto client = tw::Client::open("/nonexistent-tokenwell-dir");
  if (client || client.code() != TOKENWELL_EUNAVAILABLE) return 1;
  auto waiting = tw::Client::open("/nonexistent-tokenwell-dir", TOKENWELL_OPEN_MISSING_OK);
  if (!waiting || waiting->get("redis").code() != TOKENWELL_EUNAVAILABLE) return 1;
  std::printf("libtokenwell %s via find_package: %s\n", tokenwell_version(),
              client.error().message());
  return 0;
}
