package io.tokenwell;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Retries the re-AUTH of a generation that failed (a WRONGPASS because Redis saw the token a
 * moment early, a connection that was busy) with a short bounded backoff, instead of leaving the
 * connections on the old token until the next rotation. Failures reported while a retry is
 * pending are coalesced into it; each generation gets at most {@link #MAX_ATTEMPTS} retries.
 *
 * <pre>{@code
 * ReauthRetry retry = watcher.reauthRetry(watcher::redeliver);
 * ... on a failed re-AUTH: retry.onFailure(error);
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class ReauthRetry {
  static final int MAX_ATTEMPTS = 6;

  private final Supplier<ScheduledExecutorService> scheduler;
  private final LongSupplier generation;
  private final Runnable action;
  private final Consumer<Throwable> report;
  private long retriedGeneration = -1; // under this
  private int attempts; // under this: retries for retriedGeneration
  private boolean pending; // under this

  ReauthRetry(Supplier<ScheduledExecutorService> scheduler, LongSupplier generation,
      Runnable action, Consumer<Throwable> report) {
    this.scheduler = scheduler;
    this.generation = generation;
    this.action = action;
    this.report = report;
  }

  /** 250 ms, 500 ms, 1 s, 2 s, then 4 s: a few seconds in all, well inside a token's margin. */
  static long delayMs(int attempt) {
    return Math.min(250L << Math.min(attempt - 1, 4), 4000L);
  }

  /** A re-AUTH failed: schedules {@code action} again unless the budget is spent. */
  public void onFailure(Throwable error) {
    long delay;
    synchronized (this) {
      long gen = generation.getAsLong();
      if (gen != retriedGeneration) {
        retriedGeneration = gen;
        attempts = 0;
      }
      if (pending) {
        return;
      }
      if (attempts >= MAX_ATTEMPTS) {
        report.accept(new TokenwellException(Code.EBUSY, "re-authentication with generation " + gen
            + " still failed after " + attempts + " retries; waiting for the next generation", error));
        return;
      }
      attempts++;
      pending = true;
      delay = delayMs(attempts);
    }
    report.accept(error);
    try {
      scheduler.get().schedule(this::run, delay, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      synchronized (this) {
        pending = false; // closed
      }
    }
  }

  private void run() {
    synchronized (this) {
      pending = false;
    }
    try {
      action.run();
    } catch (RuntimeException e) {
      report.accept(e);
    }
  }
}
