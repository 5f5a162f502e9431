/* read_probe DIR NAME N -- opens the segment, writes "BEGIN", does N struct
 * reads, N positional reads and N stats, writes "END". Under strace, nothing may happen in between:
 * a read after open makes no system call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenwell/tokenwell.h"

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  tokenwell *tw;
  int rc = tokenwell_open(argv[1], &tw);
  if (rc != TOKENWELL_OK) {
    fprintf(stderr, "open: %s\n", tokenwell_strerror(rc));
    return 1;
  }
  static char token[65536];
  char user[TOKENWELL_USERNAME_MAX + 1];
  long n = atol(argv[3]), ok = 0;
  if (write(1, "BEGIN\n", 6) != 6) return 1;
  for (long i = 0; i < n; i++) {
    tokenwell_entry e = {.struct_size = sizeof e,
                         .secret = token, .secret_size = sizeof token,
                         .username = user, .username_size = sizeof user};
    if (tokenwell_read_entry(tw, argv[2], TOKENWELL_KIND_CREDENTIAL, &e) == TOKENWELL_OK) ok++;
    if (tokenwell_read(tw, argv[2], token, sizeof token, NULL, user, sizeof user,
                       NULL, NULL) == TOKENWELL_OK)
      ok++;
    if (tokenwell_stat(tw, argv[2], NULL, NULL, NULL) == TOKENWELL_OK) ok++;
  }
  if (write(1, "END\n", 4) != 4) return 1;
  tokenwell_close(tw);
  return ok == 3 * n ? 0 : 1;
}
