package io.tokenwell.jedis;

import io.tokenwell.Credential;
import io.tokenwell.CredentialWatcher;
import io.tokenwell.TokenwellException;
import redis.clients.authentication.core.IdentityProvider;
import redis.clients.authentication.core.Token;

/**
 * A redis-authx {@link IdentityProvider} over tokenwell, for clients built on redis-authx's
 * {@code TokenManager} (Jedis's {@code AuthXManager}). It turns the manager's pull into a push:
 * the first {@link #requestToken()} returns the current credential (waiting up to the timeout for
 * a first valid one, then throwing {@link TokenwellException}); every later call blocks until the
 * agent publishes a newer generation. Run with a renewal ratio of 0 ({@link TokenwellAuthX} does),
 * the manager asks again at once, so each rotation reaches the connections when it is published.
 *
 * <p>Thread-safe; one instance per TokenManager (it remembers the generation it returned last).
 */
public final class TokenwellIdentityProvider implements IdentityProvider {
  private final CredentialWatcher watcher;
  private long lastGeneration = -1; // under this

  public TokenwellIdentityProvider(CredentialWatcher watcher) {
    this.watcher = watcher;
  }

  @Override
  public Token requestToken() {
    long after;
    synchronized (this) {
      after = lastGeneration;
    }
    Credential c;
    if (after < 0) {
      c = watcher.current();
    } else {
      try {
        c = watcher.awaitNewer(after);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new TokenwellException(io.tokenwell.Code.EINVAL, "interrupted while waiting for \""
            + watcher.name() + "\"", e);
      }
    }
    synchronized (this) {
      lastGeneration = Math.max(lastGeneration, c.generation());
    }
    return new TokenwellToken(c, System.currentTimeMillis());
  }
}
