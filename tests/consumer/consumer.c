/* Built with pkg-config against the installed libtokenwell. */
#include <stdio.h>
#include <string.h>
#include <tokenwell/tokenwell.h>

int main(void) {
  tokenwell *tw = NULL;
  int rc = tokenwell_open("/nonexistent-tokenwell-dir", &tw);
  if (rc != TOKENWELL_EUNAVAILABLE || tw != NULL) return 1;
  if (tokenwell_version_number() != TOKENWELL_VERSION_NUMBER) return 1;
  printf("libtokenwell %s: %s\n", tokenwell_version(), tokenwell_strerror(rc));
  return 0;
}
