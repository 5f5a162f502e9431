package io.tokenwell;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Where the tests find the repository's shared files and programs. */
final class TestPaths {
  private TestPaths() {}

  /** The repository root (surefire passes -Dtokenwell.root; else relative to client-shim/java). */
  static Path root() {
    String root = System.getProperty("tokenwell.root", "");
    return (root.isEmpty() ? Path.of("../..") : Path.of(root)).toAbsolutePath().normalize();
  }

  static Path vectors() {
    return root().resolve("tests/vectors/segment");
  }

  /** Installs a segment file the way the agent does: a temporary name, then a rename. */
  static void install(Path file, Path dir) throws IOException {
    Path tmp = dir.resolve("segment.tmp.test");
    Files.copy(file, tmp, StandardCopyOption.REPLACE_EXISTING);
    Files.move(tmp, dir.resolve("segment"), StandardCopyOption.ATOMIC_MOVE);
  }
}
