package io.tokenwell;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Reads the credentials and keysets that the pod's tokenwell-agent publishes into its
 * shared-memory segment, {@code $TOKENWELL_DIR/segment} (docs/segment-format.md). After
 * {@link #open} a read is a few dozen memory loads on a read-only mapping: no system call, no
 * socket, no IdP.
 *
 * <pre>{@code
 * try (Tokenwell tw = Tokenwell.open()) {            // $TOKENWELL_DIR, else /run/tokenwell
 *   Credential c = tw.read("redis");                 // throws TokenwellException (a Code)
 *   redis.auth(c.username(), c.token());
 * }
 * }</pre>
 *
 * <p>Thread safety: one instance may be used by any number of threads at once.
 */
public final class Tokenwell implements AutoCloseable {
  public static final Path DEFAULT_DIR = Path.of("/run/tokenwell");
  /** Replacements one handle follows (as libtokenwell): the agent replaces only to grow. */
  static final int MAX_REMAPS = 32;

  /** What a segment entry is. */
  public enum Kind {
    CREDENTIAL,
    KEYSET
  }

  /** An entry's metadata, without its secret ({@link #stat}). */
  public record Entry(String name, Kind kind, long expiresAt, long generation, boolean valid) {}

  /** The agent writing the segment: its pid and last heartbeat (unix ms; every 10 s). */
  public record AgentInfo(int pid, long heartbeatMs) {}

  private final Path dir;
  private final Path segmentPath;
  private final Clock clock;
  private final Object remapLock = new Object();
  private volatile SegmentMapping current; // null once closed
  private int remaps; // under remapLock

  private Tokenwell(Path dir, SegmentMapping mapping, Clock clock) {
    this.dir = dir;
    this.segmentPath = dir.resolve("segment");
    this.current = mapping;
    this.clock = clock;
  }

  /** Opens the segment in {@code $TOKENWELL_DIR}, else {@code /run/tokenwell}. */
  public static Tokenwell open() {
    return open(null);
  }

  /**
   * Opens the segment in {@code dir} (null: {@code $TOKENWELL_DIR}, else {@code /run/tokenwell}).
   * EUNAVAILABLE at once when there is no segment (no agent, or the wrong directory).
   */
  public static Tokenwell open(Path dir) {
    return open(dir, Clock.systemUTC());
  }

  static Tokenwell open(Path dir, Clock clock) {
    Path resolved = resolveDir(dir);
    return new Tokenwell(resolved, SegmentMapping.map(resolved.resolve("segment")), clock);
  }

  /** The runtime directory: {@code dir}, else {@code $TOKENWELL_DIR}, else /run/tokenwell. */
  public static Path resolveDir(Path dir) {
    if (dir != null && !dir.toString().isEmpty()) {
      return dir;
    }
    String env = System.getenv("TOKENWELL_DIR");
    return env != null && !env.isEmpty() ? Path.of(env) : DEFAULT_DIR;
  }

  public Path directory() {
    return dir;
  }

  /**
   * The current value of credential {@code name}. ENOTFOUND (no such name, or it is a keyset),
   * ENOVALUE (not fetched yet, or expired: an expired token is never handed out), EBUSY, EFORMAT,
   * EINVAL (a bad name, or closed).
   */
  public Credential read(String name) {
    byte[] key = checkName(name);
    SegmentMapping.Snapshot snap = lookup(key, SegmentMapping.Fields.CREDENTIAL);
    try {
      if (snap.kind != SegmentMapping.KIND_CREDENTIAL) {
        throw new TokenwellException(Code.ENOTFOUND,
            "\"" + name + "\" is a keyset, not a credential (" + segmentPath + ")");
      }
      checkValid(name, snap);
      return new Credential(name, utf8(snap.username), utf8(snap.secret), snap.expiresAt,
          snap.generation);
    } finally {
      snap.wipe();
    }
  }

  /** Keyset {@code name} in one snapshot: its JWKS and private signing key (see {@link Keyset}). */
  public Keyset readKeyset(String name) {
    byte[] key = checkName(name);
    SegmentMapping.Snapshot snap = lookup(key, SegmentMapping.Fields.KEYSET);
    try {
      if (snap.kind != SegmentMapping.KIND_KEYSET) {
        throw new TokenwellException(Code.ENOTFOUND,
            "\"" + name + "\" is a credential, not a keyset (" + segmentPath + ")");
      }
      checkValid(name, snap);
      return new Keyset(name, utf8(snap.publicData), utf8(snap.secret), snap.generation);
    } finally {
      snap.wipe();
    }
  }

  /** Entry {@code name} without its secret; {@code valid} says whether it could be read now. */
  public Entry stat(String name) {
    byte[] key = checkName(name);
    SegmentMapping.Snapshot snap = lookup(key, SegmentMapping.Fields.NONE);
    return new Entry(name, snap.kind == SegmentMapping.KIND_KEYSET ? Kind.KEYSET : Kind.CREDENTIAL,
        snap.expiresAt, snap.generation, validNow(snap));
  }

  /** Names of every entry, in slot order (no secrets). */
  public List<String> list() {
    SegmentMapping m = mapping();
    List<String> names = new ArrayList<>();
    SegmentMapping.Snapshot snap = new SegmentMapping.Snapshot();
    for (int i = 0; i < m.slotCount; i++) {
      if (m.nameHash(i) == 0 || m.readSlot(i, snap, SegmentMapping.Fields.NONE) != Code.OK) {
        continue;
      }
      if (snap.kind != SegmentMapping.KIND_FREE && snap.name.length != 0) {
        names.add(utf8(snap.name));
      }
    }
    return names;
  }

  /** The writing agent's pid and heartbeat: diagnostics only (values outlive the agent). */
  public AgentInfo agentInfo() {
    SegmentMapping m = mapping();
    return new AgentInfo(m.writerPid(), m.heartbeatMs());
  }

  /** Drops the mapping; later calls fail with EINVAL. The JVM unmaps it once unreachable. */
  @Override
  public void close() {
    current = null;
  }

  // ---- internals -----------------------------------------------------------------------------

  private SegmentMapping.Snapshot lookup(byte[] name, SegmentMapping.Fields fields) {
    SegmentMapping.Snapshot snap = new SegmentMapping.Snapshot();
    SegmentMapping m = mapping();
    Code rc = m.find(name, snap, fields);
    // The publish that grew the file may have added this very name: a miss looks again once the
    // file is flagged replaced.
    if (rc == Code.ENOTFOUND) {
      SegmentMapping now = mapping();
      if (now != m) {
        rc = now.find(name, snap, fields);
      }
    }
    if (rc == Code.OK) {
      return snap;
    }
    String what = "\"" + new String(name, StandardCharsets.UTF_8) + "\"";
    switch (rc) {
      case ENOTFOUND:
        throw new TokenwellException(rc, "no credential or keyset " + what + " in " + segmentPath);
      case EBUSY:
        throw new TokenwellException(rc, what + " changed 1,000 times while being read; try again");
      default:
        throw new TokenwellException(rc, what + ": malformed entry in " + segmentPath
            + " (lengths do not fit its copy)");
    }
  }

  /**
   * The mapping to read, remapping first when the agent renamed a new file over ours. A thread
   * still reading an old mapping keeps it alive (the JVM unmaps a buffer only once unreachable).
   */
  private SegmentMapping mapping() {
    SegmentMapping m = current;
    if (m == null) {
      throw new TokenwellException(Code.EINVAL, "tokenwell handle for " + dir + " is closed");
    }
    if (!m.replaced()) {
      return m;
    }
    synchronized (remapLock) {
      SegmentMapping again = current;
      if (again == m && remaps < MAX_REMAPS && replacedByOtherFile(m)) {
        try {
          again = SegmentMapping.map(segmentPath);
          remaps++;
          current = again;
        } catch (TokenwellException e) {
          // Keep reading the old mapping: its values stay valid until they expire.
        }
      }
      return again == null ? m : again;
    }
  }

  /** Whether {@code segment} now names a file other than the one {@code m} maps. */
  private boolean replacedByOtherFile(SegmentMapping m) {
    try {
      Object key = Files.readAttributes(segmentPath, BasicFileAttributes.class).fileKey();
      return !Objects.equals(key, m.fileKey);
    } catch (IOException e) {
      return false;
    }
  }

  private boolean validNow(SegmentMapping.Snapshot snap) {
    return snap.hasValue() && (snap.expiresAt == 0 || snap.expiresAt > nowSeconds());
  }

  private long nowSeconds() {
    return clock.instant().getEpochSecond();
  }

  private void checkValid(String name, SegmentMapping.Snapshot snap) {
    if (validNow(snap)) {
      return;
    }
    String message;
    if (!snap.hasValue()) {
      message = "\"" + name + "\" has not been fetched yet (the agent publishes it after its first"
          + " successful refresh)";
    } else {
      message = "\"" + name + "\" expired at " + unixTime(snap.expiresAt)
          + " and no newer value was published (can the agent reach its IdP? see its log and"
          + " tokenwell_credential_refresh_total)";
    }
    throw new TokenwellException(Code.ENOVALUE, message, snap.expiresAt, snap.generation, null);
  }

  /** ISO-8601 for a readable time; the number itself for one Instant cannot hold. */
  private static String unixTime(long seconds) {
    try {
      return Instant.ofEpochSecond(seconds).toString();
    } catch (java.time.DateTimeException e) {
      return "unix time " + seconds;
    }
  }

  /** Names are 1 to 64 bytes of UTF-8 (the agent allows [A-Za-z0-9._-]). */
  static byte[] checkName(String name) {
    if (name == null) {
      throw new TokenwellException(Code.EINVAL, "name is null");
    }
    byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
    if (bytes.length == 0 || bytes.length > SegmentMapping.NAME_MAX || name.indexOf('\0') >= 0) {
      throw new TokenwellException(Code.EINVAL,
          "name must be 1 to 64 bytes without NUL, got " + bytes.length + " bytes");
    }
    return bytes;
  }

  private static String utf8(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
