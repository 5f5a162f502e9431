package io.tokenwell.e2e;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisCredentialsProvider;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import io.lettuce.core.event.connection.ReauthenticationEvent;
import io.lettuce.core.event.connection.ReconnectAttemptEvent;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.tokenwell.Credential;
import io.tokenwell.lettuce.TokenwellCredentialsProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The Lettuce end-to-end client of tests/redis/clients.md: Lettuce 7 with tokenwell's streaming
 * credentials provider and {@code ReauthenticateBehavior.ON_NEW_CREDENTIALS}, RESP3.
 *
 * <p>{@code --no-reauth}: Lettuce's default behaviour (never re-AUTH) with the credential read
 * once at start, as an application that fetched a token once would. The strict stand-in drops
 * each connection when that token expires; Lettuce reconnects with the same, expired token, is
 * refused, and the commands queued meanwhile time out (5 s): they count as failed.
 */
public final class LettuceClient {
  private LettuceClient() {}

  public static void main(String[] argv) throws Exception {
    E2e.Args a = E2e.Args.parse("lettuce-client", argv);
    E2e.Counters n = new E2e.Counters();
    ClientResources resources = ClientResources.create();
    TokenwellCredentialsProvider tokenwell = TokenwellCredentialsProvider.builder(a.name)
        .dir(a.dir).clientResources(resources).onError(e -> System.err.println("tokenwell: " + e))
        .build();
    Credential first = tokenwell.watcher().current();
    RedisCredentialsProvider credentials = tokenwell;
    if (!a.reauth) {
      RedisCredentials once = RedisCredentials.just(first.username(), first.token());
      credentials = RedisCredentialsProvider.from(() -> once);
    }
    resources.eventBus().get().subscribe(e -> {
      if (e instanceof ReauthenticationEvent) {
        n.reauths.incrementAndGet();
      } else if (e instanceof ReconnectAttemptEvent) {
        n.reconnects.incrementAndGet();
      }
    });
    ClientOptions.ReauthenticateBehavior behavior = a.reauth
        ? ClientOptions.ReauthenticateBehavior.ON_NEW_CREDENTIALS
        : ClientOptions.ReauthenticateBehavior.DEFAULT;
    TimeoutOptions timeouts = TimeoutOptions.enabled(Duration.ofSeconds(5));

    RedisClient client = RedisClient.create(resources,
        RedisURI.builder().withHost(a.host).withPort(a.port).withAuthentication(credentials).build());
    client.setOptions(ClientOptions.builder().protocolVersion(ProtocolVersion.RESP3)
        .reauthenticateBehavior(behavior).timeoutOptions(timeouts).build());
    RedisClusterClient cluster = RedisClusterClient.create(resources, RedisURI.builder()
        .withHost(a.clusterHost).withPort(a.clusterPort).withAuthentication(credentials).build());
    cluster.setOptions(ClusterClientOptions.builder().protocolVersion(ProtocolVersion.RESP3)
        .reauthenticateBehavior(behavior).timeoutOptions(timeouts).build());

    long start = System.nanoTime();
    long end = a.endNanos(start);
    List<Thread> threads = new ArrayList<>();
    threads.add(thread("subscriber", () -> subscriber(client, a, n)));
    threads.add(thread("blpop", () -> blpopReader(client, a, n)));
    n.awaitSubscriber(); // every PUBLISH has a subscriber
    threads.add(thread("writer", () -> writer(client, a, n, end)));
    threads.add(thread("cluster", () -> clusterWorker(cluster, a, n, end)));
    for (Thread t : threads) {
      t.join();
    }
    long last = tokenwell.watcher().current().generation();
    System.out.println(n.json("lettuce", a.reauth, first.generation(), last,
        "Lettuce " + io.lettuce.core.LettuceVersion.getVersion() + ", RESP3; the cluster client"
            + " follows MOVED itself (moved stays 0). Lettuce gives the cluster connection's own"
            + " channel (StatefulRedisClusterConnectionImpl) no re-auth handler: the stand-in drops"
            + " it when its token expires and Lettuce reconnects it (reconnects); keyed commands"
            + " use the node connections, which re-AUTH"));
    System.out.flush();
    System.exit(0); // no orderly shutdown: a --no-reauth client may still be reconnecting
  }

  private static Thread thread(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.start();
    return t;
  }

  private static void writer(RedisClient client, E2e.Args a, E2e.Counters n, long end) {
    try (StatefulRedisConnection<String, String> conn = client.connect()) {
      RedisCommands<String, String> r = conn.sync();
      long seq = 0;
      while (System.nanoTime() < end) {
        run(n, "INCR", () -> r.incr(a.key() + "-counter"));
        final long s0 = seq;
        run(n, "SET", () -> r.set(a.key(), Long.toString(s0)));
        run(n, "GET", () -> r.get(a.key()));
        seq++;
        final long s = seq;
        if (run(n, "PUBLISH", () -> r.publish(a.channel(), Long.toString(s)))) {
          n.published.incrementAndGet();
        }
        run(n, "RPUSH", () -> r.rpush(a.list(), Long.toString(s)));
        E2e.pause(20);
      }
    } catch (RuntimeException e) {
      n.fail(n.failed, "writer connection", e);
    } finally {
      n.writerDone = true;
    }
  }

  private static boolean run(E2e.Counters n, String what, Runnable command) {
    try {
      command.run();
      n.ok.incrementAndGet();
      return true;
    } catch (RuntimeException e) {
      n.fail(n.failed, what, e);
      return false;
    }
  }

  private static void subscriber(RedisClient client, E2e.Args a, E2e.Counters n) {
    try (StatefulRedisPubSubConnection<String, String> sub = client.connectPubSub()) {
      sub.addListener(new RedisPubSubAdapter<>() {
        @Override
        public void message(String channel, String message) {
          n.message(message);
        }

        @Override
        public void subscribed(String channel, long count) {
          n.resubscriptions.incrementAndGet();
        }
      });
      sub.sync().subscribe(a.channel());
      n.resubscriptions.decrementAndGet(); // the first subscription is not a re-subscription
      n.subscribed.countDown();
      long drainEnd = Long.MAX_VALUE;
      while (true) {
        if (n.writerDone && drainEnd == Long.MAX_VALUE) {
          drainEnd = System.nanoTime() + 5_000_000_000L;
        }
        if (n.drained(n.subReceived, drainEnd)) {
          break;
        }
        E2e.pause(100);
      }
    } catch (RuntimeException e) {
      n.fail(n.failed, "subscriber", e);
    }
  }

  private static void blpopReader(RedisClient client, E2e.Args a, E2e.Counters n) {
    try (StatefulRedisConnection<String, String> conn = client.connect()) {
      RedisCommands<String, String> r = conn.sync();
      long drainEnd = Long.MAX_VALUE;
      while (true) {
        if (n.writerDone && drainEnd == Long.MAX_VALUE) {
          drainEnd = System.nanoTime() + 5_000_000_000L;
        }
        if (n.drained(n.blpopReceived, drainEnd)) {
          break;
        }
        try {
          KeyValue<String, String> item = r.blpop(1, a.list());
          n.ok.incrementAndGet();
          if (item != null && item.hasValue()) {
            n.popped(item.getValue());
          }
        } catch (RuntimeException e) {
          n.fail(n.failed, "BLPOP", e);
        }
      }
    } catch (RuntimeException e) {
      n.fail(n.failed, "blpop connection", e);
    }
  }

  private static void clusterWorker(RedisClusterClient cluster, E2e.Args a, E2e.Counters n,
      long end) {
    try (StatefulRedisClusterConnection<String, String> conn = cluster.connect()) {
      RedisAdvancedClusterCommands<String, String> r = conn.sync();
      for (long i = 0; System.nanoTime() < end; i++) {
        String key = a.key() + ":" + (i % 300); // keys on every master
        final long v = i;
        for (Runnable step : new Runnable[] {() -> r.set(key, Long.toString(v)), () -> r.get(key)}) {
          try {
            step.run();
            n.clusterOk.incrementAndGet();
          } catch (RuntimeException e) {
            n.fail(n.clusterFailed, "cluster command", e);
          }
        }
        E2e.pause(20);
      }
    } catch (RuntimeException e) {
      n.fail(n.clusterFailed, "cluster connection", e);
    }
  }
}
