/* The version macros of tokenwell/version.h (generated from CMake's
 * project(VERSION)) are the project's version and the library's runtime
 * version. */
#include <stdio.h>
#include <string.h>
#include <tokenwell/tokenwell.h>

#define STR_(x) #x
#define STR(x) STR_(x)

int main(void) {
  int bad = 0;
  if (strcmp(TOKENWELL_VERSION_STRING, TOKENWELL_PROJECT_VERSION) != 0) {
    printf("TOKENWELL_VERSION_STRING %s, project version %s\n", TOKENWELL_VERSION_STRING,
           TOKENWELL_PROJECT_VERSION);
    bad = 1;
  }
  const char *composed = STR(TOKENWELL_VERSION_MAJOR) "." STR(TOKENWELL_VERSION_MINOR) "." STR(
      TOKENWELL_VERSION_PATCH);
  if (strcmp(composed, TOKENWELL_VERSION_STRING) != 0) {
    printf("MAJOR.MINOR.PATCH %s, TOKENWELL_VERSION_STRING %s\n", composed, TOKENWELL_VERSION_STRING);
    bad = 1;
  }
  if (tokenwell_version_number() != TOKENWELL_VERSION_NUMBER ||
      strcmp(tokenwell_version(), TOKENWELL_VERSION_STRING) != 0) {
    printf("library %s (%d), header %s (%d)\n", tokenwell_version(), tokenwell_version_number(),
           TOKENWELL_VERSION_STRING, TOKENWELL_VERSION_NUMBER);
    bad = 1;
  }
  if (!bad) printf("tokenwell %s: header, project and library agree\n", tokenwell_version());
  return bad;
}
