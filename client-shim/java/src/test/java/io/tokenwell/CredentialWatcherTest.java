package io.tokenwell;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenwell.jedis.TokenwellIdentityProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.authentication.core.Token;

/**
 * The streaming engine against the real writer, without an agent (so rotation arrives through
 * the segment polling fallback; the agent's long-poll is covered end to end in tests/java).
 */
class CredentialWatcherTest {
  static final long FAR = 4_102_444_800L; // 2100-01-01
  static final long PAST = 1_767_225_000L; // 2025-12-31

  @TempDir Path dir;

  private CredentialWatcher.Builder watcher(String name) {
    return CredentialWatcher.builder(name).dir(dir);
  }

  @Test
  void currentWaitsForTheAgentsFirstPublish() throws Exception {
    try (CredentialWatcher w = watcher("redis").timeout(Duration.ofSeconds(20)).build()) {
      CompletableFuture<Credential> first = CompletableFuture.supplyAsync(w::current);
      assertFalse(first.isDone(), "no segment yet: current() must wait, not fail");
      try (SegmentWriterTool writer = new SegmentWriterTool(dir)) {
        writer.pending("redis"); // known, not fetched yet: still waiting
        long gen = writer.publish("redis", "oid-1", "tok-1", FAR);
        Credential c = first.get(20, TimeUnit.SECONDS);
        assertEquals(gen, c.generation());
        assertEquals("tok-1", c.token());
      }
    }
  }

  @Test
  void currentFailsWithTheCodeThatSaysWhy() throws Exception {
    Duration short_ = Duration.ofMillis(300);
    try (CredentialWatcher w = watcher("redis").timeout(short_).build()) {
      TokenwellException e = assertThrows(TokenwellException.class, w::current);
      assertEquals(Code.EUNAVAILABLE, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains("within 0 s") && e.getMessage().contains(dir.toString()),
          e.getMessage());
    }
    try (SegmentWriterTool writer = new SegmentWriterTool(dir)) {
      long gen = writer.publish("old", "oid", "expired-token", PAST);
      try (CredentialWatcher w = watcher("nope").timeout(short_).build()) {
        assertEquals(Code.ENOTFOUND, assertThrows(TokenwellException.class, w::current).code());
      }
      try (CredentialWatcher w = watcher("old").timeout(short_).build()) {
        TokenwellException e = assertThrows(TokenwellException.class, w::current);
        assertEquals(Code.ENOVALUE, e.code());
        assertEquals(PAST, e.expiresAt());
        assertEquals(gen, e.generation());
        assertFalse(e.getMessage().contains("expired-token"), "no secret in errors");
      }
    }
  }

  @Test
  void listenersGetEveryNewerGenerationInOrderEvenAfterOneThrew() throws Exception {
    BlockingQueue<Credential> got = new LinkedBlockingQueue<>();
    BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
    try (SegmentWriterTool writer = new SegmentWriterTool(dir);
        CredentialWatcher w = watcher("redis").onError(errors::add).build()) {
      long g1 = writer.publish("redis", "oid", "tok-1", FAR);
      List<Long> thrownOn = new ArrayList<>();
      w.subscribe(c -> {
        if (thrownOn.isEmpty()) {
          thrownOn.add(c.generation());
          throw new IllegalStateException("listener bug");
        }
        got.add(c);
      }, true);
      assertEquals(List.of(g1), thrownOn, "replayed the current value on subscribe");
      Throwable reported = errors.poll(5, TimeUnit.SECONDS);
      assertTrue(reported != null && reported.getCause() instanceof IllegalStateException,
          "the throwing listener was reported: " + reported);
      long g2 = writer.publish("redis", "oid", "tok-2", FAR);
      long g3 = writer.publish("redis", "oid", "tok-3", FAR);
      Credential next = got.poll(10, TimeUnit.SECONDS);
      assertTrue(next != null && next.generation() > g1, "a later generation still arrived");
      if (next.generation() == g2) {
        next = got.poll(10, TimeUnit.SECONDS);
      }
      assertEquals(g3, next.generation());
      assertEquals("tok-3", next.token());
      assertNull(got.poll(300, TimeUnit.MILLISECONDS), "nothing delivered twice");
    }
  }

  @Test
  void anExpiryNobodyReplacedIsReportedOnceAndTheWatchGoesOn() throws Exception {
    BlockingQueue<Throwable> errors = new LinkedBlockingQueue<>();
    BlockingQueue<Credential> got = new LinkedBlockingQueue<>();
    try (SegmentWriterTool writer = new SegmentWriterTool(dir);
        CredentialWatcher w = watcher("redis").onError(errors::add).build()) {
      long soon = System.currentTimeMillis() / 1000 + 4;
      writer.publish("redis", "oid", "short-lived", soon);
      w.subscribe(got::add, true);
      assertEquals("short-lived", got.poll(5, TimeUnit.SECONDS).token());
      Throwable expired = errors.poll(10, TimeUnit.SECONDS);
      assertTrue(expired instanceof TokenwellException t && t.code() == Code.ENOVALUE,
          "expiry reported: " + expired);
      assertNull(errors.poll(600, TimeUnit.MILLISECONDS), "reported once");
      writer.publish("redis", "oid", "fresh", FAR);
      assertEquals("fresh", got.poll(10, TimeUnit.SECONDS).token());
    }
  }

  @Test
  void identityProviderReturnsTheCurrentTokenThenBlocksForTheNextGeneration() throws Exception {
    try (SegmentWriterTool writer = new SegmentWriterTool(dir);
        CredentialWatcher w = watcher("redis").build()) {
      writer.publish("redis", "", "password-1", 0); // password only, no expiry
      TokenwellIdentityProvider idp = new TokenwellIdentityProvider(w);
      Token first = idp.requestToken();
      assertNull(first.getUser(), "no username is password-only AUTH, never AUTH \"\" token");
      assertEquals("password-1", first.getValue());
      assertFalse(first.isExpired());
      assertFalse(first.toString().contains("password-1"));
      CompletableFuture<Token> next = CompletableFuture.supplyAsync(idp::requestToken);
      assertFalse(next.isDone(), "blocks until the agent publishes a newer generation");
      long g2 = writer.publish("redis", "oid-2", "password-2", FAR);
      Token second = next.get(10, TimeUnit.SECONDS);
      assertEquals("password-2", second.getValue());
      assertEquals("oid-2", second.getUser());
      assertEquals(g2, second.tryGet("generation", Long.class));
      assertEquals(FAR * 1000, second.getExpiresAt());
    }
  }

  @Test
  void closeWakesWaitersAndStopsDeliveries() throws Exception {
    try (SegmentWriterTool writer = new SegmentWriterTool(dir)) {
      writer.publish("redis", "oid", "tok", FAR);
      CredentialWatcher w = watcher("redis").build();
      TokenwellIdentityProvider idp = new TokenwellIdentityProvider(w);
      idp.requestToken();
      CompletableFuture<Token> blocked = CompletableFuture.supplyAsync(idp::requestToken);
      w.close();
      Throwable e = assertThrows(Exception.class, () -> blocked.get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof TokenwellException t && t.code() == Code.EINVAL, "" + e);
    }
    assertTrue(Files.exists(dir.resolve("segment")));
  }
}
