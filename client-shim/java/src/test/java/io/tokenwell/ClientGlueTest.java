package io.tokenwell;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.lettuce.core.RedisCredentials;
import io.tokenwell.lettuce.TokenwellCredentialsProvider;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.Disposable;

/** The Lettuce provider's contract and the socket answer parsing, on real segments. */
class ClientGlueTest {
  @TempDir Path dir;

  @Test
  void lettuceProviderStreamsGenerationsAndNeverSendsAnEmptyUsername() throws Exception {
    try (SegmentWriterTool writer = new SegmentWriterTool(dir);
        TokenwellCredentialsProvider p = TokenwellCredentialsProvider.builder("redis").dir(dir)
            .timeout(Duration.ofSeconds(5)).build()) {
      writer.publish("redis", "", "password-1", 0);
      assertTrue(p.supportsStreaming());
      RedisCredentials first = p.resolveCredentials().block(Duration.ofSeconds(10));
      assertFalse(first.hasUsername(), "password-only: AUTH token, never AUTH \"\" token");
      assertNull(first.getUsername());
      assertArrayEquals("password-1".toCharArray(), first.getPassword());

      BlockingQueue<RedisCredentials> stream = new LinkedBlockingQueue<>();
      Disposable sub = p.credentials().subscribe(stream::add);
      assertArrayEquals("password-1".toCharArray(), stream.poll(5, TimeUnit.SECONDS).getPassword(),
          "a new connection's stream starts with the current value");
      writer.publish("redis", "oid", "token-2", CredentialWatcherTest.FAR);
      RedisCredentials second = stream.poll(10, TimeUnit.SECONDS);
      assertEquals("oid", second.getUsername());
      assertArrayEquals("token-2".toCharArray(), second.getPassword());
      sub.dispose();
      writer.publish("redis", "oid", "token-3", CredentialWatcherTest.FAR);
      assertNull(stream.poll(500, TimeUnit.MILLISECONDS), "a disposed stream gets nothing");
    }
  }

  @Test
  void lettuceResolveFailsWithTheCodeAfterTheTimeout() {
    try (TokenwellCredentialsProvider p = TokenwellCredentialsProvider.builder("redis").dir(dir)
        .timeout(Duration.ofMillis(200)).build()) {
      TokenwellException e = assertThrows(TokenwellException.class,
          () -> p.resolveCredentials().block(Duration.ofSeconds(10)));
      assertEquals(Code.EUNAVAILABLE, e.code());
    }
  }

  @Test
  void httpStatusLines() throws IOException {
    assertEquals(200, AgentSocket.statusOf("HTTP/1.1 200 OK\r\n\r\n{}".getBytes(
        StandardCharsets.US_ASCII)));
    assertEquals(503, AgentSocket.statusOf("HTTP/1.1 503 Service Unavailable\r\n".getBytes(
        StandardCharsets.US_ASCII)));
    assertThrows(IOException.class, () -> AgentSocket.statusOf(new byte[0]));
    assertThrows(IOException.class, () -> AgentSocket.statusOf("SSH-2.0-x".getBytes(
        StandardCharsets.US_ASCII)));
  }

  @Test
  void codesMatchTokenwellH() {
    assertEquals(12, Code.values().length);
    assertEquals(Code.ESYSTEM, Code.of(11));
    assertEquals(3, Code.ENOVALUE.value());
    assertEquals("no valid value (not fetched yet or expired)", Code.ENOVALUE.text());
    assertNull(Code.of(12));
  }
}
