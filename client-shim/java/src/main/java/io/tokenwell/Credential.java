package io.tokenwell;

import java.util.Objects;

/**
 * One valid value of a credential, as the agent published it. {@link #toString()} leaves the token
 * out, so a credential can be logged.
 */
public final class Credential {
  private final String name;
  private final String username;
  private final String token;
  private final long expiresAt;
  private final long generation;

  Credential(String name, String username, String token, long expiresAt, long generation) {
    this.name = name;
    this.username = username;
    this.token = token;
    this.expiresAt = expiresAt;
    this.generation = generation;
  }

  public String name() {
    return name;
  }

  /** The Redis user (Entra: the principal's object id); empty means password-only AUTH. */
  public String username() {
    return username;
  }

  public boolean hasUsername() {
    return !username.isEmpty();
  }

  /** The secret: an access token, or a password. */
  public String token() {
    return token;
  }

  /** Unix seconds; 0 when the value does not expire. */
  public long expiresAt() {
    return expiresAt;
  }

  /** Grows with every publish in the segment; a newer value has a larger one. */
  public long generation() {
    return generation;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Credential c && name.equals(c.name) && username.equals(c.username)
        && token.equals(c.token) && expiresAt == c.expiresAt && generation == c.generation;
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, generation);
  }

  @Override
  public String toString() {
    return "Credential{name=" + name + ", username=" + username + ", expiresAt=" + expiresAt
        + ", generation=" + generation + ", token=<" + token.length() + " chars>}";
  }
}
