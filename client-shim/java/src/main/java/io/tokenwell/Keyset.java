package io.tokenwell;

/**
 * One snapshot of a keyset (docs/keysets.md): its public JWKS and, unless it is verify-only, its
 * active private signing key as one JWK. {@link #toString()} leaves the private key out.
 */
public final class Keyset {
  private final String name;
  private final String jwks;
  private final String signingKey;
  private final long generation;

  Keyset(String name, String jwks, String signingKey, long generation) {
    this.name = name;
    this.jwks = jwks;
    this.signingKey = signingKey;
    this.generation = generation;
  }

  public String name() {
    return name;
  }

  /** The public JWKS, {@code {"keys":[...]}}. */
  public String jwks() {
    return jwks;
  }

  /** The active private signing JWK; empty for a verify-only keyset. */
  public String signingKey() {
    return signingKey;
  }

  public long generation() {
    return generation;
  }

  @Override
  public String toString() {
    return "Keyset{name=" + name + ", generation=" + generation + ", jwks=<" + jwks.length()
        + " chars>, signingKey=<" + (signingKey.isEmpty() ? "none" : "present") + ">}";
  }
}
