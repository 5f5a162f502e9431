package io.tokenwell.e2e;

import io.tokenwell.Credential;
import io.tokenwell.CredentialWatcher;
import io.tokenwell.jedis.TokenwellAuthX;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.RedisProtocol;

/**
 * The Jedis end-to-end client of tests/redis/clients.md: Jedis 8 ({@code RedisClient}, {@code RedisClusterClient}) with token-based authentication
 * ({@code AuthXManager}) fed by tokenwell ({@link TokenwellAuthX}), RESP3.
 *
 * <p>{@code --no-reauth}: a plain user/password config with the credential read once at start,
 * as an application that fetched a token once would: connections are dropped when that token
 * expires and new ones are refused.
 */
public final class JedisClient {
  private JedisClient() {}

  public static void main(String[] argv) throws Exception {
    E2e.Args a = E2e.Args.parse("jedis-client", argv);
    E2e.Counters n = new E2e.Counters();
    List<TokenwellAuthX> auths = new ArrayList<>();
    CredentialWatcher watcher = CredentialWatcher.builder(a.name).dir(a.dir).build();
    Credential first = watcher.current();

    JedisClientConfig standaloneConfig = config(a, first, n, auths);
    JedisClientConfig clusterConfig = config(a, first, n, auths);
    RedisClient jedis = RedisClient.builder().hostAndPort(new HostAndPort(a.host, a.port))
        .clientConfig(standaloneConfig).poolConfig(new ConnectionPoolConfig()).build();
    RedisClusterClient cluster = RedisClusterClient.builder()
        .nodes(Set.of(new HostAndPort(a.clusterHost, a.clusterPort))).maxAttempts(5)
        .clientConfig(clusterConfig).poolConfig(new ConnectionPoolConfig()).build();

    long end = a.endNanos(System.nanoTime());
    List<Thread> threads = new ArrayList<>();
    threads.add(thread("subscriber", () -> subscriber(jedis, a, n)));
    threads.add(thread("blpop", () -> blpopReader(jedis, a, n)));
    n.awaitSubscriber(); // every PUBLISH has a subscriber
    threads.add(thread("writer", () -> writer(jedis, a, n, end)));
    threads.add(thread("cluster", () -> clusterWorker(cluster, a, n, end)));
    for (Thread t : threads) {
      t.join();
    }
    long last = watcher.current().generation();
    System.out.println(n.json("jedis", a.reauth, first.generation(), last,
        "Jedis " + jedisVersion() + ", RESP3, redis-authx"
            + " AuthXManager; reauths counts rotations handed to the manager; JedisCluster"
            + " follows MOVED itself (moved stays 0)"));
    System.out.flush();
    System.exit(0);
  }

  private static String jedisVersion() {
    java.util.Properties p = new java.util.Properties();
    try (java.io.InputStream in = RedisClient.class.getResourceAsStream(
        "/META-INF/maven/redis.clients/jedis/pom.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (java.io.IOException e) {
      // the version is only a note
    }
    return p.getProperty("version", "(unknown version)");
  }

  private static JedisClientConfig config(E2e.Args a, Credential first, E2e.Counters n,
      List<TokenwellAuthX> auths) {
    DefaultJedisClientConfig.Builder b = DefaultJedisClientConfig.builder()
        .protocol(RedisProtocol.RESP3).socketTimeoutMillis(5000);
    if (!a.reauth) {
      return b.user(first.username()).password(first.token()).build();
    }
    TokenwellAuthX auth = TokenwellAuthX.builder(a.name).dir(a.dir)
        .onError(e -> System.err.println("tokenwell: " + e)).build();
    auth.manager().addPostAuthenticationHook(token -> n.reauths.incrementAndGet());
    auths.add(auth);
    return b.authXManager(auth.manager()).build();
  }

  private static Thread thread(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.start();
    return t;
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

  private static void writer(RedisClient r, E2e.Args a, E2e.Counters n, long end) {
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
    n.writerDone = true;
  }

  private static void subscriber(RedisClient jedis, E2e.Args a, E2e.Counters n) {
    JedisPubSub[] current = new JedisPubSub[1];
    Thread stopper = new Thread(() -> {
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
      synchronized (current) {
        if (current[0] != null && current[0].isSubscribed()) {
          current[0].unsubscribe();
        }
        current[0] = null;
      }
    }, "subscriber-stop");
    stopper.start();
    boolean firstSubscription = true;
    while (stopper.isAlive()) {
      JedisPubSub pubsub = new JedisPubSub() {
        @Override
        public void onMessage(String channel, String message) {
          n.message(message);
        }

        @Override
        public void onSubscribe(String channel, int subscribedChannels) {
          n.subscribed.countDown();
        }
      };
      synchronized (current) {
        if (!stopper.isAlive()) {
          break;
        }
        current[0] = pubsub;
      }
      if (!firstSubscription) {
        n.resubscriptions.incrementAndGet();
      }
      firstSubscription = false;
      try {
        jedis.subscribe(pubsub, a.channel()); // returns once unsubscribed
      } catch (RuntimeException e) {
        n.fail(n.failed, "subscriber", e);
        n.reconnects.incrementAndGet();
        E2e.pause(100);
      }
    }
  }

  private static void blpopReader(RedisClient r, E2e.Args a, E2e.Counters n) {
    long drainEnd = Long.MAX_VALUE;
    while (true) {
      if (n.writerDone && drainEnd == Long.MAX_VALUE) {
        drainEnd = System.nanoTime() + 5_000_000_000L;
      }
      if (n.drained(n.blpopReceived, drainEnd)) {
        break;
      }
      try {
        List<String> item = r.blpop(1, a.list()); // [list, value], or null after 1 s
        n.ok.incrementAndGet();
        if (item != null && item.size() == 2) {
          n.popped(item.get(1));
        }
      } catch (RuntimeException e) {
        n.fail(n.failed, "BLPOP", e);
        E2e.pause(100);
      }
    }
  }

  private static void clusterWorker(RedisClusterClient r, E2e.Args a, E2e.Counters n, long end) {
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
  }
}
