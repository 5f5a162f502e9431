package io.tokenwell;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Readers against the real writer rotating values as fast as it can (segment_writer_tool
 * "rotate"), with a new file renamed over the segment every 10,000 values: every value read must
 * be whole. Each value carries its own checksum (tests/vectors/README.md, "Checksummed values"):
 * token = HEX16(seed) + filler + HEX16(fnv1a64(rest)), username = "user-" + HEX16(seed),
 * expires_at = 4000000000 + seed % 100000, generation = seed.
 */
class TornReadTest {
  @TempDir Path dir;

  @Test
  void readersNeverSeeATornValue() throws Exception {
    try (SegmentWriterTool writer = new SegmentWriterTool(dir)) {
      writer.command("rotate stress 1"); // the slot exists before the readers open
      AtomicBoolean done = new AtomicBoolean();
      AtomicLong reads = new AtomicLong();
      AtomicLong busy = new AtomicLong();
      AtomicLong changes = new AtomicLong();
      List<String> torn = new ArrayList<>();
      List<Thread> readers = new ArrayList<>();
      try (Tokenwell tw = Tokenwell.open(dir)) {
        for (int t = 0; t < 2; t++) {
          Thread reader = new Thread(() -> {
            long lastGeneration = 0;
            while (!done.get()) {
              Credential c;
              try {
                c = tw.read("stress");
              } catch (TokenwellException e) {
                if (e.code() != Code.EBUSY) {
                  synchronized (torn) {
                    torn.add(e.code() + ": " + e.getMessage());
                  }
                }
                busy.incrementAndGet();
                continue;
              }
              reads.incrementAndGet();
              String problem = checksumProblem(c);
              if (c.generation() < lastGeneration) {
                problem = "generation went back from " + lastGeneration + " to " + c.generation();
              }
              if (problem != null) {
                synchronized (torn) {
                  torn.add(problem);
                }
              }
              if (c.generation() != lastGeneration) {
                changes.incrementAndGet();
              }
              lastGeneration = c.generation();
            }
          });
          reader.start();
          readers.add(reader);
        }
        CompletableFuture<String> published = writer.rotate("stress", 100_000, 10_000);
        String[] countAndGeneration = published.get().split(" ");
        long count = Long.parseLong(countAndGeneration[0]);
        done.set(true);
        for (Thread r : readers) {
          r.join();
        }
        System.out.printf("torn reads: %d reads, %d value changes seen, %d EBUSY, %d publishes,"
            + " %d torn%n", reads.get(), changes.get(), busy.get(), count, torn.size());
        assertEquals(List.of(), torn.subList(0, Math.min(torn.size(), 5)));
        // Ten new files were renamed over the segment: the handle followed them to the last value.
        Credential last = tw.read("stress");
        assertEquals(null, checksumProblem(last));
        assertEquals(Long.parseLong(countAndGeneration[1]), last.generation());
        assertTrue(changes.get() > 20, "the readers saw the value change only " + changes.get()
            + " times: they did not race the writer");
      }
    }
  }

  /** Null when the value is whole, else what is inconsistent. */
  static String checksumProblem(Credential c) {
    String token = c.token();
    if (token.length() < 32) {
      return "token of " + token.length() + " bytes";
    }
    String body = token.substring(0, token.length() - 16);
    long sum = SegmentMapping.nameHash(body.getBytes(StandardCharsets.US_ASCII));
    // nameHash maps 0 to 1; a checksum of 0 is as unlikely as any other torn value.
    if (!String.format("%016x", sum).equals(token.substring(token.length() - 16))) {
      return "checksum mismatch at generation " + c.generation();
    }
    String seedHex = token.substring(0, 16);
    if (!c.username().equals("user-" + seedHex)) {
      return "username " + c.username() + " belongs to another value than " + seedHex;
    }
    long seed = Long.parseUnsignedLong(seedHex, 16);
    if (c.expiresAt() != 4_000_000_000L + Long.remainderUnsigned(seed, 100_000)) {
      return "expires_at " + c.expiresAt() + " belongs to another value than " + seedHex;
    }
    if (c.generation() != seed) {
      return "generation " + c.generation() + " belongs to another value than " + seedHex;
    }
    return null;
  }
}
