package io.tokenwell;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Follows one credential across rotations and hands every new generation to its listeners: the
 * engine under the Lettuce and Jedis providers, usable for any other client.
 *
 * <pre>{@code
 * CredentialWatcher w = CredentialWatcher.builder("redis").build();
 * Credential first = w.current();                  // waits up to 30 s for a first valid value
 * w.subscribe(c -> conn.auth(c.username(), c.token()), false);
 * }</pre>
 *
 * <p>How rotation arrives: one daemon thread holds the agent's long-poll {@code GET
 * /v1/credentials/NAME?after=GEN&wait=30} on {@code agent.sock} and reads the segment when it
 * returns. When the socket is refused (agent restarting, or this uid not in its {@code allow}) it
 * reads the segment's generation every 250 ms instead (a memory read, no system call) and tries
 * the socket again with backoff. A listener that throws is reported to the error handler and
 * keeps getting later generations; an expired value that nobody replaced is reported once
 * (ENOVALUE) and the watch goes on, so the next token flows as soon as the agent has one.
 *
 * <p>Thread-safe. {@link #close()} stops the thread and wakes every waiter (they fail, EINVAL).
 */
public final class CredentialWatcher implements AutoCloseable {
  static final long POLL_INTERVAL_MS = 250;
  /** Bounds of the socket retry backoff after a refused connection. */
  static final long SOCKET_RETRY_MIN_MS = 500;
  static final long SOCKET_RETRY_MAX_MS = 10_000;
  /** A waiter that saw no newer generation for this long gets the current one again. */
  static final Duration MAX_AWAIT = Duration.ofHours(24);

  private static final System.Logger LOG = System.getLogger("io.tokenwell");

  private final String name;
  private final Path dir;
  private final Duration timeout;
  private final int waitSeconds;
  private final Consumer<Throwable> onError;
  private final Clock clock;
  private final AgentSocket socket;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private Tokenwell reader; // under lock; null until the segment could be opened
  private Credential latest; // under lock: newest valid value seen
  private long seenGeneration; // under lock: newest generation seen, valid or not
  private long reportedExpiry = -1; // under lock: generation whose expiry was reported
  private Thread watchThread; // under lock
  private ScheduledExecutorService scheduler; // under lock; for retries
  private volatile boolean closed;

  private final Object deliverLock = new Object();
  private final List<Subscription> subscriptions = new CopyOnWriteArrayList<>();

  private CredentialWatcher(Builder b) {
    this.name = b.name;
    this.dir = Tokenwell.resolveDir(b.dir);
    this.timeout = b.timeout;
    this.waitSeconds = b.waitSeconds;
    this.onError = b.onError != null ? b.onError
        : e -> LOG.log(System.Logger.Level.WARNING, "tokenwell \"" + name + "\": " + e, e);
    this.clock = b.clock;
    this.socket = new AgentSocket(dir);
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Options; every one has a default. */
  public static final class Builder {
    private final String name;
    private Path dir;
    private Duration timeout = Duration.ofSeconds(30);
    private int waitSeconds = 30;
    private Consumer<Throwable> onError;
    private Clock clock = Clock.systemUTC();

    private Builder(String name) {
      Tokenwell.checkName(name);
      this.name = name;
    }

    /** The runtime directory (default: $TOKENWELL_DIR, else /run/tokenwell). */
    public Builder dir(Path dir) {
      this.dir = dir;
      return this;
    }

    /** How long {@link #current()} waits for a first valid value (default 30 s). */
    public Builder timeout(Duration timeout) {
      if (timeout.isNegative()) {
        throw new TokenwellException(Code.EINVAL, "timeout must not be negative");
      }
      this.timeout = timeout;
      return this;
    }

    /** Length of one long-poll on the agent's socket, 1 to 300 s (default 30). */
    public Builder waitSeconds(int waitSeconds) {
      if (waitSeconds < 1 || waitSeconds > 300) {
        throw new TokenwellException(Code.EINVAL, "waitSeconds must be 1 to 300, got " + waitSeconds);
      }
      this.waitSeconds = waitSeconds;
      return this;
    }

    /**
     * Receives what goes wrong in the background: a listener that threw, a re-AUTH that failed, a
     * value that expired with no newer one. Default: a WARNING on System.Logger "io.tokenwell".
     */
    public Builder onError(Consumer<Throwable> onError) {
      this.onError = Objects.requireNonNull(onError);
      return this;
    }

    Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    public CredentialWatcher build() {
      return new CredentialWatcher(this);
    }
  }

  /** A listener's registration; close it to stop deliveries. */
  public final class Subscription implements AutoCloseable {
    private final Consumer<Credential> listener;
    private long delivered; // under deliverLock

    private Subscription(Consumer<Credential> listener) {
      this.listener = listener;
    }

    @Override
    public void close() {
      subscriptions.remove(this);
    }
  }

  public String name() {
    return name;
  }

  public Path directory() {
    return dir;
  }

  /**
   * The current valid credential, waiting up to the timeout for the segment to appear and hold
   * one (an app can start before the agent's first publish). Then fails with the code that says
   * why: EUNAVAILABLE (no segment), ENOTFOUND (no such name), ENOVALUE (none valid yet).
   */
  public Credential current() {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      TokenwellException last;
      try {
        return note(readNow());
      } catch (TokenwellException e) {
        if (e.code() == Code.EINVAL || e.code() == Code.EVERSION || closed) {
          throw e;
        }
        last = e;
      }
      long leftMs = (deadline - System.nanoTime()) / 1_000_000;
      if (leftMs <= 0) {
        throw last.withContext("no valid credential \"" + name + "\" within "
            + timeout.toSeconds() + " s");
      }
      waitForChange(leftMs);
    }
  }

  /**
   * Subscribes {@code listener} to every newer valid generation (delivered in order, on the
   * watch thread). With {@code replayCurrent} it first gets the current value, if one is valid.
   */
  public Subscription subscribe(Consumer<Credential> listener, boolean replayCurrent) {
    Subscription s = new Subscription(Objects.requireNonNull(listener));
    Credential now = null;
    try {
      now = note(readNow());
    } catch (TokenwellException e) {
      // none valid yet: the watch delivers the first one
    }
    synchronized (deliverLock) {
      s.delivered = replayCurrent || now == null ? 0 : now.generation();
      subscriptions.add(s);
      if (replayCurrent && now != null) {
        deliverTo(s, now, false);
      }
    }
    startWatching();
    return s;
  }

  /**
   * Blocks until a valid generation newer than {@code after} exists and returns it; after
   * {@link #MAX_AWAIT} without one, returns the current one. For pull-style clients (redis-authx).
   */
  public Credential awaitNewer(long after) throws InterruptedException {
    startWatching();
    long deadline = System.nanoTime() + MAX_AWAIT.toNanos();
    Credential now;
    lock.lock();
    try {
      while (!closed && (latest == null || latest.generation() <= after)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        changed.awaitNanos(left); // the watch thread signals every newer value
      }
      if (closed) {
        throw new TokenwellException(Code.EINVAL, "watcher of \"" + name + "\" is closed");
      }
      now = latest;
    } finally {
      lock.unlock();
    }
    return now != null ? now : current();
  }

  /** The newest valid value seen, without waiting (null before the first). */
  public Credential latest() {
    lock.lock();
    try {
      return latest;
    } finally {
      lock.unlock();
    }
  }

  /** Hands the newest valid value to every listener again (after a failed re-AUTH). */
  public void redeliver() {
    Credential c = latest();
    if (c != null) {
      synchronized (deliverLock) {
        for (Subscription s : subscriptions) {
          deliverTo(s, c, true);
        }
      }
    }
  }

  /** Reports a background failure to the error handler (never throws). */
  public void report(Throwable error) {
    try {
      onError.accept(error);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "tokenwell: the error handler threw", e);
    }
  }

  /** A retry policy for failed re-AUTHs, running {@code action} on this watcher's scheduler. */
  public ReauthRetry reauthRetry(Runnable action) {
    return new ReauthRetry(this::scheduler, () -> {
      Credential c = latest();
      return c == null ? 0 : c.generation();
    }, action, this::report);
  }

  @Override
  public void close() {
    closed = true;
    socket.close();
    lock.lock();
    try {
      changed.signalAll();
      if (watchThread != null) {
        watchThread.interrupt();
      }
      if (scheduler != null) {
        scheduler.shutdownNow();
      }
      if (reader != null) {
        reader.close();
      }
    } finally {
      lock.unlock();
    }
    subscriptions.clear();
  }

  // ---- internals -----------------------------------------------------------------------------

  private Credential readNow() {
    Tokenwell tw;
    lock.lock();
    try {
      if (closed) {
        throw new TokenwellException(Code.EINVAL, "watcher of \"" + name + "\" is closed");
      }
      if (reader == null) {
        reader = Tokenwell.open(dir, clock); // EUNAVAILABLE until the agent created it
      }
      tw = reader;
    } finally {
      lock.unlock();
    }
    try {
      return tw.read(name);
    } catch (TokenwellException e) {
      if (e.code() == Code.ENOVALUE) {
        noteSeen(e.generation());
      }
      throw e;
    }
  }

  private Credential note(Credential c) {
    lock.lock();
    try {
      if (latest == null || c.generation() > latest.generation()) {
        latest = c;
        changed.signalAll();
      }
      seenGeneration = Math.max(seenGeneration, c.generation());
      return latest;
    } finally {
      lock.unlock();
    }
  }

  private void noteSeen(long generation) {
    lock.lock();
    try {
      seenGeneration = Math.max(seenGeneration, generation);
    } finally {
      lock.unlock();
    }
  }

  /** Waits (at most leftMs) for the agent to publish something; never throws. */
  private void waitForChange(long leftMs) {
    long after;
    lock.lock();
    try {
      after = seenGeneration;
    } finally {
      lock.unlock();
    }
    long start = System.nanoTime();
    try {
      int wait = (int) Math.max(1, Math.min(waitSeconds, (leftMs + 999) / 1000));
      socket.waitForNewer(name, after, wait);
    } catch (IOException e) {
      // no agent socket (yet): look at the segment again soon
    }
    if ((System.nanoTime() - start) / 1_000_000 < POLL_INTERVAL_MS) {
      sleep(Math.min(leftMs, POLL_INTERVAL_MS));
    }
  }

  private void startWatching() {
    lock.lock();
    try {
      if (watchThread != null || closed) {
        return;
      }
      watchThread = new Thread(this::watch, "tokenwell-watch-" + name);
      watchThread.setDaemon(true); // a watcher never keeps a JVM alive
      watchThread.start();
    } finally {
      lock.unlock();
    }
  }

  private ScheduledExecutorService scheduler() {
    lock.lock();
    try {
      if (scheduler == null) {
        scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
          Thread t = new Thread(r, "tokenwell-retry-" + name);
          t.setDaemon(true);
          return t;
        });
      }
      return scheduler;
    } finally {
      lock.unlock();
    }
  }

  private void watch() {
    int socketFailures = 0;
    long socketRetryAt = 0;
    while (!closed) {
      try {
        long now = System.nanoTime();
        long start = now;
        boolean waited = false;
        if (now - socketRetryAt >= 0) {
          try {
            int status = socket.waitForNewer(name, seen(), longPollSeconds());
            socketFailures = 0;
            waited = (System.nanoTime() - start) / 1_000_000 >= POLL_INTERVAL_MS;
            if (status != 200) {
              // 404/503 come back at once, 403 means not allowed: poll the segment meanwhile.
              socketRetryAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
                  status == 403 ? SOCKET_RETRY_MAX_MS : 1000);
            }
          } catch (IOException e) {
            if (closed) {
              return;
            }
            socketFailures++;
            socketRetryAt = System.nanoTime()
                + TimeUnit.MILLISECONDS.toNanos(socketRetryDelayMs(socketFailures));
          }
        }
        if (!waited) {
          sleep(POLL_INTERVAL_MS);
        }
        refresh();
      } catch (RuntimeException | Error e) {
        if (closed) {
          return;
        }
        report(e); // never dies silently, never dies
        sleep(POLL_INTERVAL_MS);
      }
    }
  }

  static long socketRetryDelayMs(int failures) {
    long d = SOCKET_RETRY_MIN_MS << Math.min(failures - 1, 10);
    return Math.min(d, SOCKET_RETRY_MAX_MS);
  }

  private long seen() {
    lock.lock();
    try {
      return seenGeneration;
    } finally {
      lock.unlock();
    }
  }

  /** Until the expiry of the newest value at most, so an expiry nobody replaced is reported. */
  private int longPollSeconds() {
    lock.lock();
    try {
      if (latest != null && latest.expiresAt() != 0 && reportedExpiry != latest.generation()) {
        long untilExpiry = latest.expiresAt() - clock.instant().getEpochSecond() + 1;
        return (int) Math.max(1, Math.min(waitSeconds, untilExpiry));
      }
      return waitSeconds;
    } finally {
      lock.unlock();
    }
  }

  /** Reads the segment and delivers a newer valid generation; reports an unreplaced expiry. */
  void refresh() {
    Credential c;
    try {
      c = note(readNow());
    } catch (TokenwellException e) {
      if (e.code() == Code.ENOVALUE) {
        reportExpiryOnce(e);
      }
      return;
    }
    synchronized (deliverLock) {
      for (Subscription s : subscriptions) {
        deliverTo(s, c, false);
      }
    }
  }

  private void reportExpiryOnce(TokenwellException e) {
    lock.lock();
    try {
      // Only an expiry (expires_at set) of a value that was valid, once per generation.
      if (latest == null || e.expiresAt() == 0 || reportedExpiry == latest.generation()) {
        return;
      }
      reportedExpiry = latest.generation();
    } finally {
      lock.unlock();
    }
    // Not fatal: the agent keeps retrying and the next value flows to the listeners.
    report(e);
  }

  private void deliverTo(Subscription s, Credential c, boolean again) {
    if (!subscriptions.contains(s) || (!again && c.generation() <= s.delivered)) {
      return;
    }
    s.delivered = Math.max(s.delivered, c.generation());
    try {
      s.listener.accept(c);
    } catch (RuntimeException e) {
      report(new TokenwellException(Code.ESYSTEM, "a listener of \"" + name
          + "\" threw on generation " + c.generation() + "; it keeps getting later ones", e));
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
