package io.tokenwell.jedis;

import io.tokenwell.Code;
import io.tokenwell.Credential;
import io.tokenwell.CredentialWatcher;
import io.tokenwell.ReauthRetry;
import io.tokenwell.TokenwellException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import redis.clients.authentication.core.TokenAuthConfig;
import redis.clients.authentication.core.TokenManagerConfig;
import redis.clients.jedis.authentication.AuthXEventListener;
import redis.clients.jedis.authentication.AuthXManager;

/**
 * Jedis (6.x, 7.x, 8.x) token-based authentication fed by tokenwell: an {@link AuthXManager}
 * whose token manager asks {@link TokenwellIdentityProvider}, so every pooled, cluster and pub/sub
 * connection re-AUTHs when the agent publishes a new credential.
 *
 * <pre>{@code
 * try (TokenwellAuthX auth = TokenwellAuthX.create("redis")) {
 *   JedisClientConfig config = DefaultJedisClientConfig.builder()
 *       .authXManager(auth.manager()).protocol(RedisProtocol.RESP3).build();
 *   try (JedisPooled jedis = new JedisPooled(new HostAndPort(host, 6380), config)) {
 *     jedis.set("k", "v");
 *   }
 * }
 * }</pre>
 *
 * <p>A failed re-AUTH (Jedis reports it to the manager's listener) is retried with a short
 * bounded backoff ({@link ReauthRetry}). One instance per Jedis client object (each starts its own
 * manager); close it after the client (it stops the manager and the watch). Pub/sub needs RESP3.
 * A password-only credential (no username) works for pooled and cluster connections; Jedis's
 * pub/sub re-AUTH reads the username unconditionally (JedisSafeAuthenticator) and fails for it.
 */
public final class TokenwellAuthX implements AutoCloseable {
  private final CredentialWatcher watcher;
  private final AuthXManager manager;
  private final ReauthRetry retry;

  private TokenwellAuthX(Builder b) {
    CredentialWatcher.Builder w = CredentialWatcher.builder(b.name).dir(b.dir).timeout(b.timeout);
    if (b.onError != null) {
      w.onError(b.onError);
    }
    this.watcher = w.build();
    TokenwellIdentityProvider provider = new TokenwellIdentityProvider(watcher);
    // Ratio 0 and no lower bound: renew "now", i.e. wait in the provider for the next
    // generation. No retries in the manager: the provider itself waits (up to the timeout) for
    // a first value, and never fails afterwards. The request timeout only bounds that wait.
    TokenManagerConfig managerConfig = new TokenManagerConfig(0f, 0, Integer.MAX_VALUE,
        new TokenManagerConfig.RetryPolicy(0, 1000));
    this.manager = new AuthXManager(new TokenAuthConfig(managerConfig, () -> provider));
    this.retry = watcher.reauthRetry(this::reauthenticateAll);
    manager.setListener(new AuthXEventListener() {
      @Override
      public void onIdentityProviderError(Exception reason) {
        watcher.report(reason);
      }

      @Override
      public void onConnectionAuthenticationError(Exception reason) {
        retry.onFailure(reason);
      }
    });
  }

  /** With every default: $TOKENWELL_DIR, 30 s for a first value, warnings to System.Logger. */
  public static TokenwellAuthX create(String name) {
    return builder(name).build();
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Options. */
  public static final class Builder {
    private final String name;
    private Path dir;
    private Duration timeout = Duration.ofSeconds(30);
    private Consumer<Throwable> onError;

    private Builder(String name) {
      this.name = name;
    }

    public Builder dir(Path dir) {
      this.dir = dir;
      return this;
    }

    /** How long the first connection waits for a first valid value (default 30 s). */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    public Builder onError(Consumer<Throwable> onError) {
      this.onError = onError;
      return this;
    }

    public TokenwellAuthX build() {
      return new TokenwellAuthX(this);
    }
  }

  /** For {@code DefaultJedisClientConfig.builder().authXManager(...)}. */
  public AuthXManager manager() {
    return manager;
  }

  public CredentialWatcher watcher() {
    return watcher;
  }

  /** Hands the current credential to every connection of the manager again. */
  private void reauthenticateAll() {
    Credential c = watcher.latest();
    if (c == null) {
      throw new TokenwellException(Code.ENOVALUE, "no valid \"" + watcher.name() + "\" to retry with");
    }
    manager.authenticateConnections(new TokenwellToken(c, System.currentTimeMillis()));
  }

  @Override
  public void close() {
    try {
      manager.stop();
    } catch (RuntimeException e) {
      // redis-authx 0.1.1 throws on stopping a manager that never started (no task yet)
    } finally {
      watcher.close();
    }
  }
}
