package io.tokenwell.anchor;

import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.ClientCredentialParameters;
import com.microsoft.aad.msal4j.ConfidentialClientApplication;
import com.microsoft.aad.msal4j.IAuthenticationResult;
import io.tokenwell.jedis.TokenwellAuthX;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import redis.clients.authentication.entraid.EntraIDTokenAuthConfigBuilder;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.authentication.AuthXEventListener;
import redis.clients.jedis.authentication.AuthXManager;

/**
 * One client process of bench/anchor/compare_java.py: Jedis 8 with token-based authentication
 * through either tokenwell ({@code tokenwell}: TokenwellAuthX over the pod's agent) or the
 * client's own Entra ID library ({@code entraid}: redis-authx-entraid's TokenAuthConfig, MSAL4J
 * underneath, one token manager per process). A SET and a GET every 100 ms; one JSON line of
 * cumulative counters on stdout every second.
 *
 * <pre>
 *   AnchorClient tokenwell|entraid|entraid-builder
 *   env: REDIS_HOST, REDIS_PORT, TOKENWELL_DIR; for entraid: ENTRA_AUTHORITY (base URL + tenant
 *   + "/"), ENTRA_CLIENT_ID, ENTRA_SECRET_FILE, optional ENTRA_REQUEST_TIMEOUT_MS (the builder's
 *   tokenRequestExecTimeoutInMs); the stand-in's CA via -Djavax.net.ssl.trustStore
 * </pre>
 *
 * <p>{@code entraid-builder} is redis-authx-entraid's documented service-principal path
 * (clientId/secret/authority) as it is: kept to show it cannot reach the stand-in (MSAL4J's
 * instance discovery goes to login.microsoftonline.com first). {@code entraid} builds the MSAL4J
 * application itself with {@code instanceDiscovery(false)} and hands it to the same library
 * through its public {@code customEntraIdAuthenticationSupplier}: no library code is changed.
 */
public final class AnchorClient {
  private static final AtomicLong ok = new AtomicLong();
  private static final AtomicLong failed = new AtomicLong();
  private static final AtomicLong idpCalls = new AtomicLong();
  private static final AtomicLong idpFailures = new AtomicLong();
  private static final AtomicLong managerGaveUp = new AtomicLong();
  private static final AtomicLong reauthErrors = new AtomicLong();
  private static final Map<String, Long> errors = new ConcurrentHashMap<>();

  private AnchorClient() {}

  public static void main(String[] argv) throws Exception {
    String mode = argv.length > 0 ? argv[0] : "";
    String host = System.getenv("REDIS_HOST");
    int port = Integer.parseInt(System.getenv("REDIS_PORT"));
    AuthXManager manager;
    switch (mode) {
      case "tokenwell" -> manager = TokenwellAuthX.create("redis").manager();
      case "entraid" -> manager = new AuthXManager(entraidBuilder()
          .customEntraIdAuthenticationSupplier(msalSupplier()).build());
      case "entraid-builder" -> manager = new AuthXManager(entraidBuilder()
          .clientId(System.getenv("ENTRA_CLIENT_ID")).secret(secret())
          .authority(System.getenv("ENTRA_AUTHORITY")).build());
      default -> {
        System.err.println("usage: AnchorClient tokenwell|entraid|entraid-builder");
        System.exit(2);
        return;
      }
    }
    AuthXEventListener tokenwellListener = manager.getListener();
    manager.setListener(new AuthXEventListener() {
      @Override
      public void onIdentityProviderError(Exception reason) {
        managerGaveUp.incrementAndGet(); // redis-authx: the token manager stops renewing here
        note(reason);
        tokenwellListener.onIdentityProviderError(reason);
      }

      @Override
      public void onConnectionAuthenticationError(Exception reason) {
        reauthErrors.incrementAndGet();
        tokenwellListener.onConnectionAuthenticationError(reason);
      }
    });
    RedisClient jedis;
    try {
      jedis = RedisClient.builder().hostAndPort(new HostAndPort(host, port))
          .clientConfig(DefaultJedisClientConfig.builder().authXManager(manager)
              .protocol(RedisProtocol.RESP3).socketTimeoutMillis(2000).build()).build();
    } catch (RuntimeException e) {
      note(e);
      System.out.println(state(true));
      System.out.flush();
      System.exit(1);
      return;
    }
    Thread reporter = new Thread(() -> {
      while (true) {
        System.out.println(state(false));
        System.out.flush();
        pause(1000);
      }
    }, "reporter");
    reporter.setDaemon(true);
    reporter.start();
    for (long i = 0; ; i++) {
      for (Runnable step : new Runnable[] {() -> jedis.set("anchor", "v"), () -> jedis.get("anchor")}) {
        try {
          step.run();
          ok.incrementAndGet();
        } catch (RuntimeException e) {
          failed.incrementAndGet();
          note(e);
        }
      }
      pause(100);
    }
  }

  /** redis-authx-entraid's builder with its defaults, the lower bound scaled to short tokens. */
  private static EntraIDTokenAuthConfigBuilder entraidBuilder() {
    // The default lower bound (2 minutes before expiry) is longer than the stand-in's 20-second
    // tokens and would renew in a loop; 0 leaves the default ratio (0.75), as the agent's.
    EntraIDTokenAuthConfigBuilder b = EntraIDTokenAuthConfigBuilder.builder()
        .scopes(Set.of("https://redis.azure.com/.default")).lowerRefreshBoundMillis(0);
    String timeout = System.getenv("ENTRA_REQUEST_TIMEOUT_MS"); // default 1000 ms
    return timeout == null || timeout.isEmpty() ? b : b.tokenRequestExecTimeoutInMs(Integer.parseInt(timeout));
  }

  /** The MSAL4J application redis-authx-entraid would build, plus instanceDiscovery(false). */
  private static Supplier<IAuthenticationResult> msalSupplier() throws Exception {
    ConfidentialClientApplication app = ConfidentialClientApplication
        .builder(System.getenv("ENTRA_CLIENT_ID"), ClientCredentialFactory.createFromSecret(secret()))
        .authority(System.getenv("ENTRA_AUTHORITY")).instanceDiscovery(false)
        .readTimeoutForDefaultHttpClient(1000).build();
    ClientCredentialParameters params = ClientCredentialParameters
        .builder(Set.of("https://redis.azure.com/.default")).skipCache(true).build();
    return () -> {
      idpCalls.incrementAndGet();
      try {
        return app.acquireToken(params).get();
      } catch (Exception e) {
        idpFailures.incrementAndGet();
        throw new IllegalStateException("MSAL: " + e.getMessage(), e);
      }
    };
  }

  private static String secret() {
    try {
      return Files.readString(Path.of(System.getenv("ENTRA_SECRET_FILE"))).trim();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void note(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String text = e.getClass().getSimpleName() + ": " + e.getMessage() + " <- "
        + root.getClass().getSimpleName() + ": " + root.getMessage();
    errors.merge(text.length() > 160 ? text.substring(0, 160) : text, 1L, Long::sum);
  }

  private static String state(boolean fatal) {
    StringBuilder errs = new StringBuilder("{");
    for (Map.Entry<String, Long> e : new TreeMap<>(errors).entrySet()) {
      if (errs.length() > 1) {
        errs.append(',');
      }
      errs.append('"').append(e.getKey().replace("\\", "/").replace("\"", "'")
          .replaceAll("[\\x00-\\x1f]", " ")).append("\":").append(e.getValue());
    }
    errs.append('}');
    return "{\"ok\":" + ok + ",\"failed\":" + failed + ",\"idpCalls\":" + idpCalls
        + ",\"idpFailures\":" + idpFailures + ",\"managerGaveUp\":" + managerGaveUp
        + ",\"reauthErrors\":" + reauthErrors + ",\"fatal\":" + fatal + ",\"errors\":" + errs + "}";
  }

  private static void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
