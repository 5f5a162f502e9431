package io.tokenwell;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * The agent's real SegmentWriter, driven through tests/vectors/segment_writer_tool (protocol in
 * tests/vectors/README.md; the path comes from -Dtokenwell.segmentWriter, which ctest sets; without
 * it these tests are skipped).
 */
final class SegmentWriterTool implements AutoCloseable {
  private final Process process;
  private final Writer in;
  private final BufferedReader out;

  SegmentWriterTool(Path dir) throws IOException {
    String tool = System.getProperty("tokenwell.segmentWriter", "");
    assumeTrue(!tool.isEmpty() && Files.isExecutable(Path.of(tool)),
        "-Dtokenwell.segmentWriter=PATH (build/tests/vectors/segment_writer_tool) not given");
    process = new ProcessBuilder(tool, dir.toString()).redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
  }

  /** Sends one command; its answer after "ok" (throws on "error"). */
  synchronized String command(String line) throws IOException {
    in.write(line + "\n");
    in.flush();
    String answer = out.readLine();
    if (answer == null || !answer.startsWith("ok")) {
      throw new IOException("segment_writer_tool: " + line.split(" ")[0] + ": " + answer);
    }
    return answer.substring(2).trim();
  }

  long publish(String name, String username, String secret, long expiresAt) throws IOException {
    return Long.parseLong(command("publish " + name + " " + (username.isEmpty() ? "-" : username)
        + " " + secret + " " + expiresAt));
  }

  long pending(String name) throws IOException {
    return Long.parseLong(command("pending " + name));
  }

  void remove(String name) throws IOException {
    command("remove " + name);
  }

  /**
   * Starts publishing {@code count} checksummed values as fast as the writer can, a new file
   * renamed over the segment every {@code resizeEvery} (0: never); completes with "COUNT GEN".
   */
  CompletableFuture<String> rotate(String name, long count, long resizeEvery) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return command("rotate " + name + " " + count + " " + resizeEvery);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  @Override
  public void close() throws IOException {
    in.close();
    try {
      process.waitFor();
    } catch (InterruptedException e) {
      process.destroy();
      Thread.currentThread().interrupt();
    }
  }
}
