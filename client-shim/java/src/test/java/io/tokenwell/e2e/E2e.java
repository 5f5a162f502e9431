package io.tokenwell.e2e;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the Java end-to-end clients share (tests/redis/clients.md): the command line, the
 * counters and the one-line JSON result.
 */
final class E2e {
  private E2e() {}

  /** The contract's command line; unknown arguments exit 2. */
  static final class Args {
    Path dir;
    String host;
    int port;
    String clusterHost;
    int clusterPort;
    double duration;
    String name = "redis";
    String tag = "java";
    boolean reauth = true;

    static Args parse(String program, String[] argv) {
      Args a = new Args();
      for (int i = 0; i < argv.length; i++) {
        String arg = argv[i];
        if (arg.equals("--no-reauth")) {
          a.reauth = false;
          continue;
        }
        if (!java.util.Set.of("--dir", "--host", "--port", "--cluster-host", "--cluster-port",
            "--duration", "--name", "--tag").contains(arg)) {
          usage(program, "unknown argument " + arg);
        }
        if (i + 1 >= argv.length) {
          usage(program, arg + " needs a value");
        }
        String v = argv[++i];
        try {
          switch (arg) {
            case "--dir" -> a.dir = Path.of(v);
            case "--host" -> a.host = v;
            case "--port" -> a.port = Integer.parseInt(v);
            case "--cluster-host" -> a.clusterHost = v;
            case "--cluster-port" -> a.clusterPort = Integer.parseInt(v);
            case "--duration" -> a.duration = Double.parseDouble(v);
            case "--name" -> a.name = v;
            case "--tag" -> a.tag = v;
            default -> usage(program, "unknown argument " + arg);
          }
        } catch (NumberFormatException e) {
          usage(program, arg + ": not a number: " + v);
        }
      }
      if (a.host == null || a.port == 0 || a.clusterHost == null || a.clusterPort == 0
          || a.duration <= 0) {
        usage(program, "--host, --port, --cluster-host, --cluster-port and --duration are needed");
      }
      return a;
    }

    private static void usage(String program, String why) {
      System.err.println(program + ": " + why);
      System.err.println("usage: " + program + " --dir DIR --host H --port P --cluster-host H"
          + " --cluster-port P --duration SECONDS [--name redis] [--tag T] [--no-reauth]");
      System.exit(2);
    }

    String key() {
      return "tw-e2e-" + tag + "-key";
    }

    String list() {
      return "tw-e2e-" + tag + "-list";
    }

    String channel() {
      return "tw-e2e-" + tag + "-channel";
    }

    long endNanos(long start) {
      return start + (long) (duration * 1e9);
    }
  }

  /** The counters of clients.md, thread-safe. */
  static final class Counters {
    final AtomicLong ok = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final AtomicLong reauths = new AtomicLong();
    final AtomicLong reconnects = new AtomicLong();
    final AtomicLong published = new AtomicLong();
    final AtomicLong subReceived = new AtomicLong();
    final AtomicLong subDuplicates = new AtomicLong();
    final AtomicLong resubscriptions = new AtomicLong();
    final AtomicLong blpopReceived = new AtomicLong();
    final AtomicLong clusterOk = new AtomicLong();
    final AtomicLong clusterFailed = new AtomicLong();
    final AtomicLong moved = new AtomicLong();
    final AtomicReference<String> firstError = new AtomicReference<>("");
    private final Set<Long> seenSub = ConcurrentHashMap.newKeySet();
    private final Set<Long> seenBlpop = ConcurrentHashMap.newKeySet();
    volatile boolean writerDone;
    /** Counted down once the subscriber is subscribed: the writer publishes only then. */
    final java.util.concurrent.CountDownLatch subscribed = new java.util.concurrent.CountDownLatch(1);

    void awaitSubscriber() {
      try {
        if (!subscribed.await(60, java.util.concurrent.TimeUnit.SECONDS)) {
          firstError.compareAndSet("", "the subscriber did not subscribe within 60 s");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void fail(AtomicLong counter, String what, Throwable e) {
      counter.incrementAndGet();
      String text = what + ": " + e.getClass().getSimpleName() + ": " + e.getMessage();
      firstError.compareAndSet("", text.length() > 200 ? text.substring(0, 200) : text);
    }

    void message(String payload) {
      long seq = Long.parseLong(payload.trim());
      (seenSub.add(seq) ? subReceived : subDuplicates).incrementAndGet();
    }

    void popped(String item) {
      if (seenBlpop.add(Long.parseLong(item.trim()))) {
        blpopReceived.incrementAndGet();
      }
    }

    /** After the writer: everything published arrives within a few seconds, or never. */
    boolean drained(AtomicLong received, long drainEnd) {
      return writerDone && (received.get() >= published.get() || System.nanoTime() > drainEnd);
    }

    String json(String client, boolean reauth, long firstGeneration, long lastGeneration,
        String notes) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("client", client);
      m.put("reauth", reauth);
      m.put("commands_ok", ok.get());
      m.put("commands_failed", failed.get());
      m.put("first_error", firstError.get());
      m.put("reauths", reauths.get());
      m.put("reconnects", reconnects.get());
      m.put("published", published.get());
      m.put("sub_received", subReceived.get());
      m.put("sub_duplicates", subDuplicates.get());
      m.put("resubscriptions", resubscriptions.get());
      m.put("blpop_received", blpopReceived.get());
      m.put("cluster_ok", clusterOk.get());
      m.put("cluster_failed", clusterFailed.get());
      m.put("moved", moved.get());
      m.put("first_generation", firstGeneration);
      m.put("last_generation", lastGeneration);
      m.put("notes", notes);
      StringBuilder out = new StringBuilder("{");
      for (Map.Entry<String, Object> e : m.entrySet()) {
        if (out.length() > 1) {
          out.append(", ");
        }
        out.append('"').append(e.getKey()).append("\": ");
        Object v = e.getValue();
        out.append(v instanceof String s ? quote(s) : String.valueOf(v));
      }
      return out.append('}').toString();
    }

    private static String quote(String s) {
      StringBuilder q = new StringBuilder("\"");
      for (char c : s.toCharArray()) {
        if (c == '"' || c == '\\') {
          q.append('\\').append(c);
        } else if (c < 0x20) {
          q.append(String.format("\\u%04x", (int) c));
        } else {
          q.append(c);
        }
      }
      return q.append('"').toString();
    }
  }

  static void pause(long ms) {
    try {
      Thread.sleep(ms); // pacing of the workload only
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
