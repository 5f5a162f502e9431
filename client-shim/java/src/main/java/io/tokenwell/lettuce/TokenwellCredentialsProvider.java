package io.tokenwell.lettuce;

import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisCredentialsProvider;
import io.lettuce.core.event.connection.ReauthenticationFailedEvent;
import io.lettuce.core.resource.ClientResources;
import io.tokenwell.Credential;
import io.tokenwell.CredentialWatcher;
import io.tokenwell.ReauthRetry;
import io.tokenwell.TokenwellException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * A Lettuce (6.6+, 7.x) streaming {@link RedisCredentialsProvider} fed by tokenwell: connections
 * authenticate with the current credential and re-AUTH on every rotation the agent publishes.
 *
 * <pre>{@code
 * ClientResources resources = ClientResources.create();
 * TokenwellCredentialsProvider creds = TokenwellCredentialsProvider.builder("redis")
 *     .clientResources(resources).build();             // retries a failed re-AUTH
 * RedisURI uri = RedisURI.builder().withHost(host).withPort(6380).withSsl(true)
 *     .withAuthentication(creds).build();
 * RedisClient client = RedisClient.create(resources, uri);
 * client.setOptions(ClientOptions.builder().protocolVersion(ProtocolVersion.RESP3)
 *     .reauthenticateBehavior(ClientOptions.ReauthenticateBehavior.ON_NEW_CREDENTIALS).build());
 * }</pre>
 *
 * <p>{@link #resolveCredentials()} (every connect and reconnect) returns the current value,
 * waiting up to the timeout (30 s) for a first valid one; {@link #credentials()} (each connection,
 * with {@code ON_NEW_CREDENTIALS}) replays the current value and then emits every newer
 * generation. An empty username is password-only AUTH ({@code getUsername()} null). Without
 * {@code ON_NEW_CREDENTIALS} Lettuce never re-AUTHs and connections fail when their token
 * expires. Pub/sub connections need RESP3 (Lettuce refuses re-AUTH on RESP2 subscribers).
 */
public final class TokenwellCredentialsProvider implements RedisCredentialsProvider, AutoCloseable {
  private final CredentialWatcher watcher;
  private final ReauthRetry retry;
  private final Disposable failureEvents;

  private TokenwellCredentialsProvider(Builder b) {
    CredentialWatcher.Builder w = CredentialWatcher.builder(b.name).dir(b.dir).timeout(b.timeout);
    if (b.onError != null) {
      w.onError(b.onError);
    }
    this.watcher = w.build();
    this.retry = watcher.reauthRetry(watcher::redeliver);
    this.failureEvents = b.resources == null ? null
        : b.resources.eventBus().get().ofType(ReauthenticationFailedEvent.class)
            .subscribe(e -> retry.onFailure(new TokenwellException(io.tokenwell.Code.ESYSTEM,
                "Lettuce could not re-authenticate connection " + e.getEpId(), e.getCause())));
  }

  /** A provider for credential {@code name} with every default. */
  public static TokenwellCredentialsProvider create(String name) {
    return builder(name).build();
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Options of the provider. */
  public static final class Builder {
    private final String name;
    private Path dir;
    private Duration timeout = Duration.ofSeconds(30);
    private Consumer<Throwable> onError;
    private ClientResources resources;

    private Builder(String name) {
      this.name = name;
    }

    /** The runtime directory (default: $TOKENWELL_DIR, else /run/tokenwell). */
    public Builder dir(Path dir) {
      this.dir = dir;
      return this;
    }

    /** How long a connect waits for a first valid value (default 30 s). */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /** Background failures (see {@link CredentialWatcher.Builder#onError}). */
    public Builder onError(Consumer<Throwable> onError) {
      this.onError = onError;
      return this;
    }

    /**
     * The client's resources: the provider listens on their event bus for
     * {@code ReauthenticationFailedEvent} and emits the current credential again after a short
     * backoff, so a connection whose re-AUTH failed does not wait for the next rotation.
     */
    public Builder clientResources(ClientResources resources) {
      this.resources = resources;
      return this;
    }

    public TokenwellCredentialsProvider build() {
      return new TokenwellCredentialsProvider(this);
    }
  }

  /** The engine underneath (current value, generation, listeners). */
  public CredentialWatcher watcher() {
    return watcher;
  }

  @Override
  public Mono<RedisCredentials> resolveCredentials() {
    Credential now = watcher.latest();
    if (now != null && isFresh(now)) {
      return Mono.fromCallable(watcher::current).map(TokenwellCredentialsProvider::toLettuce);
    }
    // May wait for the agent's first publish: off Lettuce's event loop.
    return Mono.fromCallable(watcher::current).map(TokenwellCredentialsProvider::toLettuce)
        .subscribeOn(Schedulers.boundedElastic());
  }

  private static boolean isFresh(Credential c) {
    return c.expiresAt() == 0 || c.expiresAt() > System.currentTimeMillis() / 1000;
  }

  @Override
  public boolean supportsStreaming() {
    return true;
  }

  @Override
  public Flux<RedisCredentials> credentials() {
    return Flux.create((FluxSink<RedisCredentials> sink) -> {
      CredentialWatcher.Subscription s = watcher.subscribe(c -> sink.next(toLettuce(c)), true);
      sink.onDispose(s::close);
    }, FluxSink.OverflowStrategy.LATEST);
  }

  /** Lettuce's view: no username means password-only AUTH, never {@code AUTH "" token}. */
  static RedisCredentials toLettuce(Credential c) {
    return RedisCredentials.just(c.hasUsername() ? c.username() : null, c.token());
  }

  @Override
  public void close() {
    if (failureEvents != null) {
      failureEvents.dispose();
    }
    watcher.close();
  }
}
