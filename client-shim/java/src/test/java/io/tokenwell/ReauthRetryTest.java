package io.tokenwell;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The retry policy of failed re-AUTHs on a scheduler that records delays instead of waiting. */
class ReauthRetryTest {
  /** Runs a scheduled task only when the test says so; remembers its delay. */
  static final class ManualScheduler extends ScheduledThreadPoolExecutor {
    final List<Long> delaysMs = new ArrayList<>();
    final List<Runnable> due = new ArrayList<>();

    ManualScheduler() {
      super(1);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable task, long delay, TimeUnit unit) {
      delaysMs.add(unit.toMillis(delay));
      due.add(task);
      return null;
    }

    void runDue() {
      List<Runnable> now = new ArrayList<>(due);
      due.clear();
      now.forEach(Runnable::run);
    }
  }

  @Test
  void backsOffBoundedPerGenerationAndCoalesces() {
    ManualScheduler scheduler = new ManualScheduler();
    AtomicLong generation = new AtomicLong(7);
    List<Long> actions = new ArrayList<>();
    List<Throwable> reported = new ArrayList<>();
    ReauthRetry retry = new ReauthRetry(() -> scheduler, generation::get,
        () -> actions.add(generation.get()), reported::add);

    retry.onFailure(new RuntimeException("WRONGPASS"));
    retry.onFailure(new RuntimeException("WRONGPASS on another connection"));
    assertEquals(List.of(250L), scheduler.delaysMs, "two failures at once: one retry");
    for (int i = 0; i < 10; i++) {
      scheduler.runDue();
      retry.onFailure(new RuntimeException("WRONGPASS again"));
    }
    assertEquals(List.of(250L, 500L, 1000L, 2000L, 4000L, 4000L), scheduler.delaysMs);
    assertEquals(6, actions.size(), "at most 6 retries for one generation");
    assertTrue(reported.get(reported.size() - 1) instanceof TokenwellException t
        && t.code() == Code.EBUSY && t.getMessage().contains("generation 7"), "gave up, said so");

    generation.set(8); // the next rotation gets a fresh budget
    scheduler.runDue();
    retry.onFailure(new RuntimeException("WRONGPASS"));
    assertEquals(250L, scheduler.delaysMs.get(scheduler.delaysMs.size() - 1));
    scheduler.runDue();
    assertEquals(8L, actions.get(actions.size() - 1));
    scheduler.shutdown();
  }

  @Test
  void anActionThatThrowsIsReportedAndRetryGoesOn() {
    ManualScheduler scheduler = new ManualScheduler();
    List<Throwable> reported = new ArrayList<>();
    ReauthRetry retry = new ReauthRetry(() -> scheduler, () -> 1, () -> {
      throw new IllegalStateException("client closed");
    }, reported::add);
    retry.onFailure(new RuntimeException("first"));
    scheduler.runDue();
    retry.onFailure(new RuntimeException("second"));
    assertEquals(2, scheduler.delaysMs.size(), "a throwing action does not wedge the retry");
    assertTrue(reported.stream().anyMatch(e -> e instanceof IllegalStateException));
    scheduler.shutdown();
  }
}
