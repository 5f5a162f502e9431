/* Built with pkg-config (and find_package) against the installed
 * libtokenwell: the generated version header, open and open_v2, the struct
 * read. */
#include <stdio.h>
#include <string.h>
#include <tokenwell/tokenwell.h>
#include <tokenwell/version.h>

int main(void) {
  tokenwell *tw = NULL;
  int rc = tokenwell_open("/nonexistent-tokenwell-dir", &tw);
  if (rc != TOKENWELL_EUNAVAILABLE || tw != NULL) return 1;
  if (tokenwell_version_number() != TOKENWELL_VERSION_NUMBER) return 1;
  if (strcmp(tokenwell_version(), TOKENWELL_VERSION_STRING) != 0) return 1;
  if (tokenwell_open_v2("/nonexistent-tokenwell-dir", TOKENWELL_OPEN_MISSING_OK, &tw) != TOKENWELL_OK)
    return 1;
  char token[64];
  tokenwell_entry e = {.struct_size = sizeof e, .secret = token, .secret_size = sizeof token};
  if (tokenwell_read_entry(tw, "redis", TOKENWELL_KIND_CREDENTIAL, &e) != TOKENWELL_EUNAVAILABLE) return 1;
  tokenwell_close(tw);
  printf("libtokenwell %s: %s\n", tokenwell_version(), tokenwell_strerror(rc));
  return 0;
}
