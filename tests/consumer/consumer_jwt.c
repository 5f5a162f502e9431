/* Signs and verifies an HS256 JWT with libtokenwell-jwt from the installed
 * package (find_package target tokenwell::jwt, or pkg-config tokenwell-jwt). */
#include <stdio.h>
#include <string.h>
#include <tokenwell/jwt.h>

int main(void) {
  const char *jwk =
      "{\"kty\":\"oct\",\"kid\":\"k1\",\"alg\":\"HS256\","
      "\"k\":\"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}";
  char token[1024], claims[1024];
  int rc = tokenwell_jwt_sign_jwk(jwk, "{\"sub\":\"consumer\"}", 60, token, sizeof token, NULL);
  if (rc == TOKENWELL_OK)
    rc = tokenwell_jwt_verify_jwks(jwk, token, NULL, claims, sizeof claims, NULL);
  if (rc != TOKENWELL_OK || strstr(claims, "\"consumer\"") == NULL) {
    fprintf(stderr, "consumer_jwt: %s\n", tokenwell_jwt_strerror(rc));
    return 1;
  }
  printf("consumer_jwt: signed and verified with libtokenwell-jwt\n");
  return 0;
}
