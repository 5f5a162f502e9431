package io.tokenwell;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The agent's long-poll over its Unix socket ({@code $TOKENWELL_DIR/agent.sock}, docs/socket-api.md),
 * used only to learn <em>when</em> to read the segment again:
 *
 * <pre>{@code
 * int status = socket.waitForNewer("redis", 7, 30);   // 200 once generation > 7, or after 30 s
 * }</pre>
 *
 * <p>HTTP/1.1 with {@code Connection: close}; the answer's body (which carries the token) is read
 * into a buffer that is zeroed and dropped: the value itself always comes from the segment.
 * Thread-safe; {@link #close()} aborts a wait in progress from any thread.
 */
final class AgentSocket implements AutoCloseable {
  private static final int MAX_RESPONSE = 1 << 20;
  /** Beyond the requested wait: the agent answers when the wait ends; this is its slack. */
  private static final long ANSWER_SLACK_MS = 10_000;

  private final Path socketPath;
  private final Set<Selector> waiting = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  AgentSocket(Path dir) {
    this.socketPath = dir.resolve("agent.sock");
  }

  Path path() {
    return socketPath;
  }

  /**
   * Asks for credential {@code name} with a generation newer than {@code after}, waiting up to
   * {@code waitSeconds}; returns the HTTP status (200: a value, current when the wait ended; 404:
   * unknown name; 503: no valid value; 403: this uid/gid is not in the agent's allow).
   *
   * @throws IOException no agent listening (refused, no socket), a broken answer, or closed
   */
  int waitForNewer(String name, long after, int waitSeconds) throws IOException {
    if (closed) {
      throw new IOException("closed");
    }
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        Selector selector = Selector.open()) {
      ch.connect(UnixDomainSocketAddress.of(socketPath));
      String request = "GET /v1/credentials/" + name + "?after=" + Long.toUnsignedString(after)
          + "&wait=" + waitSeconds + " HTTP/1.1\r\nHost: tokenwell\r\nConnection: close\r\n\r\n";
      ByteBuffer out = ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII));
      while (out.hasRemaining()) {
        ch.write(out);
      }
      ch.configureBlocking(false);
      byte[] response = readAll(ch, selector, waitSeconds * 1000L + ANSWER_SLACK_MS);
      try {
        return statusOf(response);
      } finally {
        Arrays.fill(response, (byte) 0);
      }
    }
  }

  private byte[] readAll(SocketChannel ch, Selector selector, long timeoutMs) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(8192);
    long deadline = System.nanoTime() + timeoutMs * 1_000_000;
    SelectionKey key = ch.register(selector, SelectionKey.OP_READ);
    waiting.add(selector);
    try {
      while (true) {
        int n = ch.read(buf);
        if (n < 0) {
          byte[] all = Arrays.copyOf(buf.array(), buf.position());
          Arrays.fill(buf.array(), (byte) 0);
          return all;
        }
        if (!buf.hasRemaining()) {
          if (buf.capacity() >= MAX_RESPONSE) {
            throw new IOException(socketPath + ": answer larger than " + MAX_RESPONSE + " bytes");
          }
          ByteBuffer bigger = ByteBuffer.allocate(buf.capacity() * 2);
          buf.flip();
          bigger.put(buf);
          Arrays.fill(buf.array(), (byte) 0);
          buf = bigger;
        }
        if (n == 0) {
          long left = (deadline - System.nanoTime()) / 1_000_000;
          if (left <= 0) {
            throw new IOException(socketPath + ": no answer within " + timeoutMs + " ms");
          }
          if (closed) {
            throw new IOException("closed");
          }
          selector.select(left);
          selector.selectedKeys().clear();
        }
      }
    } finally {
      waiting.remove(selector);
      key.cancel();
    }
  }

  /** The status code of an HTTP/1.1 status line ("HTTP/1.1 200 OK"). */
  static int statusOf(byte[] response) throws IOException {
    String head = new String(response, 0, Math.min(response.length, 16), StandardCharsets.US_ASCII);
    if (!head.startsWith("HTTP/1.") || head.length() < 12 || head.charAt(8) != ' ') {
      throw new IOException("not an HTTP/1.x answer");
    }
    try {
      return Integer.parseInt(head.substring(9, 12));
    } catch (NumberFormatException e) {
      throw new IOException("bad HTTP status line", e);
    }
  }

  /** Ends every wait in progress (they throw) and refuses new ones. */
  @Override
  public void close() {
    closed = true;
    waiting.forEach(Selector::wakeup);
  }
}
