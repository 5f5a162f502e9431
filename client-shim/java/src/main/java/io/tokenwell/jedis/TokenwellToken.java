package io.tokenwell.jedis;

import io.tokenwell.Credential;
import redis.clients.authentication.core.Token;

/**
 * A tokenwell credential as a redis-authx {@link Token}. No username means password-only AUTH:
 * {@link #getUser()} is null (Jedis then sends {@code AUTH token}, never {@code AUTH "" token}).
 * {@link #toString()} leaves the token out.
 */
final class TokenwellToken implements Token {
  private final Credential credential;
  private final long receivedAt;

  TokenwellToken(Credential credential, long receivedAt) {
    this.credential = credential;
    this.receivedAt = receivedAt;
  }

  Credential credential() {
    return credential;
  }

  @Override
  public String getUser() {
    return credential.hasUsername() ? credential.username() : null;
  }

  @Override
  public String getValue() {
    return credential.token();
  }

  /** Unix milliseconds; a value that does not expire reports the far future. */
  @Override
  public long getExpiresAt() {
    return credential.expiresAt() == 0 ? Long.MAX_VALUE / 2 : credential.expiresAt() * 1000;
  }

  @Override
  public long getReceivedAt() {
    return receivedAt;
  }

  @Override
  public boolean isExpired() {
    return System.currentTimeMillis() >= getExpiresAt();
  }

  @Override
  public long ttl() {
    return getExpiresAt() - System.currentTimeMillis();
  }

  /** "generation" and "name"; a tokenwell credential carries no other claims. */
  @Override
  public <T> T tryGet(String key, Class<T> clazz) {
    Object v = switch (key) {
      case "generation" -> credential.generation();
      case "name" -> credential.name();
      default -> null;
    };
    return clazz.isInstance(v) ? clazz.cast(v) : null;
  }

  @Override
  public String toString() {
    return "TokenwellToken{" + credential + "}";
  }
}
