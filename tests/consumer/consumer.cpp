// Built with find_package(tokenwell) against the installed package.
#include <tokenwell/tokenwell.h>

#include <cstdio>

int main() {
  tokenwell* tw = nullptr;
  const int rc = tokenwell_open("/nonexistent-tokenwell-dir", &tw);
  if (rc != TOKENWELL_EUNAVAILABLE || tw != nullptr) return 1;
  if (tokenwell_version_number() != TOKENWELL_VERSION_NUMBER) return 1;
  std::printf("libtokenwell %s via find_package: %s\n", tokenwell_version(),
              tokenwell_strerror(rc));
  return 0;
}
