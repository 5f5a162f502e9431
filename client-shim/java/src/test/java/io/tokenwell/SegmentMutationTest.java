package io.tokenwell;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property test in place of a fuzzer (the JDK has none built in): 2,000 seeded random mutations
 * of segments the real writer produced, including the header, slot headers and lengths. Whatever
 * the bytes, the reader answers with a TokenwellException or a value: never another exception,
 * never a read outside the mapping (which the JVM reports as IndexOutOfBoundsException).
 */
class SegmentMutationTest {
  @TempDir Path dir;

  @Test
  void anyMutationIsAnErrorCodeNeverACrash() throws Exception {
    List<String> bases = List.of("several.seg", "replaced-new.seg", "one-credential.seg");
    Random random = new Random(20261130L);
    int codes = 0;
    int values = 0;
    for (int i = 0; i < 2000; i++) {
      byte[] image = Files.readAllBytes(TestPaths.vectors().resolve(bases.get(i % bases.size())));
      int flips = 1 + random.nextInt(8);
      for (int f = 0; f < flips; f++) {
        // Half the mutations hit the first 512 bytes: the header, slot 0's header and lengths.
        int at = random.nextBoolean() ? random.nextInt(Math.min(512, image.length))
            : random.nextInt(image.length);
        image[at] = (byte) random.nextInt(256);
      }
      if (random.nextInt(10) == 0) {
        image = java.util.Arrays.copyOf(image, random.nextInt(image.length)); // truncated
      }
      Path file = dir.resolve("segment.tmp");
      Files.write(file, image);
      Files.move(file, dir.resolve("segment"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      try (Tokenwell tw = Tokenwell.open(dir)) {
        for (String name : List.of("redis", "expired", "password", "sessions", "big", "nope")) {
          values += attempt(() -> tw.read(name));
          values += attempt(() -> tw.readKeyset(name));
          values += attempt(() -> tw.stat(name));
        }
        values += attempt(tw::list);
        values += attempt(tw::agentInfo);
      } catch (TokenwellException e) {
        codes++;
      }
    }
    assertTrue(codes > 100 && values > 1000, codes + " refused files, " + values + " values read");
  }

  /** 1 when the call returned a value, 0 when it failed with a TokenwellException. */
  private static int attempt(java.util.concurrent.Callable<?> call) throws Exception {
    try {
      call.call();
      return 1;
    } catch (TokenwellException e) {
      return 0;
    }
  }
}
