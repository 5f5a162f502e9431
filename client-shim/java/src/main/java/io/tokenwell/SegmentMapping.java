package io.tokenwell;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.Objects;

/**
 * One read-only mapping of one segment file (docs/segment-format.md) and the latch reader over
 * it. Immutable after creation; safe to read from any number of threads.
 *
 * <p>Memory orders as in libtokenwell: {@code seq} is loaded with acquire, the copy with opaque
 * (relaxed, single-copy atomic) 64-bit loads, then an acquire fence and {@code seq} again. Lengths
 * from shared memory are checked against the copy's capacity before a byte is copied, so a torn or
 * hostile copy makes a read fail but never reads outside the mapping.
 */
final class SegmentMapping {
  static final int MAGIC = 0x4C574B54; // "TKWL"
  static final int ABI_VERSION = 1;
  static final int HEADER_SIZE = 128;
  static final int SLOT_HEADER_SIZE = 64;
  static final int COPY_HEADER_SIZE = 64;
  static final int MAX_SLOTS = 1 << 16;
  static final long MAX_COPY_SIZE = 64L << 20;
  static final int NAME_MAX = 64;
  static final int USERNAME_MAX = 256;
  static final int READ_RETRIES = 1000;
  static final int KIND_FREE = 0;
  static final int KIND_CREDENTIAL = 1;
  static final int KIND_KEYSET = 2;
  static final int FLAG_REPLACED = 1;
  static final int COPY_HAS_VALUE = 1;

  // Views of the mapping: aligned little-endian words, the only way Java offers atomic loads
  // with chosen memory orders on a mapped file.
  private static final VarHandle WORD =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle INT =
      MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle BYTES_WORD =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private final ByteBuffer buf;
  final int slotCount;
  final int slotSize;
  final int copySize;
  final Object fileKey; // device and inode of the mapped file

  private SegmentMapping(ByteBuffer buf, Object fileKey) {
    this.buf = buf;
    // Sizes are read once here and never again from shared memory.
    this.slotCount = (int) INT.getOpaque(buf, 12);
    this.slotSize = (int) INT.getOpaque(buf, 16);
    this.copySize = (int) INT.getOpaque(buf, 20);
    this.fileKey = fileKey;
  }

  /**
   * Maps {@code path} read-only and validates its header. EUNAVAILABLE when it cannot be opened,
   * EFORMAT / EVERSION for a file this reader must refuse.
   */
  static SegmentMapping map(Path path) {
    for (int attempt = 0; ; attempt++) {
      // Java cannot open with O_NONBLOCK: refuse anything but a regular file before opening, so
      // a FIFO planted under the name cannot hang the reader.
      BasicFileAttributes before = attributes(path);
      if (!before.isRegularFile()) {
        throw new TokenwellException(Code.EFORMAT, path + " is not a regular file");
      }
      try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
        BasicFileAttributes after = attributes(path);
        if (!Objects.equals(before.fileKey(), after.fileKey()) && attempt < 3) {
          continue; // renamed over while opening: look again
        }
        long size = ch.size(); // fstat of the open file, never the header's file_size
        if (size < HEADER_SIZE) {
          throw new TokenwellException(Code.EFORMAT,
              path + ": " + size + " bytes, shorter than the 128-byte header");
        }
        if (size > Integer.MAX_VALUE) {
          throw new TokenwellException(Code.ESYSTEM,
              path + ": " + size + " bytes, more than one Java mapping holds (2 GiB)");
        }
        ByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        validateHeader(buf, path);
        return new SegmentMapping(buf, before.fileKey());
      } catch (NoSuchFileException | AccessDeniedException e) {
        throw unavailable(path, e);
      } catch (IOException e) {
        throw new TokenwellException(Code.ESYSTEM, path + ": " + e, e);
      }
    }
  }

  private static BasicFileAttributes attributes(Path path) {
    try {
      return Files.readAttributes(path, BasicFileAttributes.class);
    } catch (IOException e) {
      throw unavailable(path, e);
    }
  }

  private static TokenwellException unavailable(Path path, IOException e) {
    String why = e instanceof NoSuchFileException ? "no such file"
        : e instanceof AccessDeniedException ? "permission denied" : e.toString();
    return new TokenwellException(Code.EUNAVAILABLE,
        path + ": " + why + " (agent not running, or wrong directory / not in the agent's allow)",
        e);
  }

  /** The checks of tw_validate_header, in the same order (tests/vectors expect its codes). */
  static void validateHeader(ByteBuffer buf, Path path) {
    long size = buf.capacity();
    if ((int) INT.getOpaque(buf, 0) != MAGIC) {
      throw new TokenwellException(Code.EFORMAT, path + ": bad magic (not a tokenwell segment)");
    }
    int compat = ((int) INT.getOpaque(buf, 4)) >>> 16;
    if (compat > ABI_VERSION) {
      throw new TokenwellException(Code.EVERSION, path + ": needs a reader of ABI " + compat
          + ", this one reads ABI " + ABI_VERSION);
    }
    long headerSize = u32(INT.getOpaque(buf, 8));
    long slotCount = u32(INT.getOpaque(buf, 12));
    long slotSize = u32(INT.getOpaque(buf, 16));
    long copySize = u32(INT.getOpaque(buf, 20));
    String bad = null;
    if (headerSize != HEADER_SIZE) {
      bad = "header_size " + headerSize + ", expected 128";
    } else if (slotCount == 0 || slotCount > MAX_SLOTS) {
      bad = "slot_count " + slotCount + " outside 1..65536";
    } else if (copySize < COPY_HEADER_SIZE + 8 || copySize > MAX_COPY_SIZE || copySize % 8 != 0) {
      bad = "copy_size " + copySize + " not a multiple of 8 from 72 bytes to 64 MiB";
    } else if (slotSize % 8 != 0 || slotSize < SLOT_HEADER_SIZE + 2 * copySize) {
      bad = "slot_size " + slotSize + " too small for two copies of " + copySize + " bytes";
    } else if (headerSize + slotCount * slotSize > size) {
      bad = "truncated: " + slotCount + " slots of " + slotSize + " bytes need "
          + (headerSize + slotCount * slotSize) + " bytes, the file has " + size;
    }
    if (bad != null) {
      throw new TokenwellException(Code.EFORMAT, path + ": " + bad);
    }
  }

  private static long u32(Object intValue) {
    return Integer.toUnsignedLong((int) intValue);
  }

  // ---- header fields ----------------------------------------------------------------------

  boolean replaced() {
    return ((int) INT.getOpaque(buf, 32) & FLAG_REPLACED) != 0;
  }

  int writerPid() {
    return (int) INT.getOpaque(buf, 36);
  }

  long heartbeatMs() {
    return (long) WORD.getOpaque(buf, 40);
  }

  // ---- the latch read -----------------------------------------------------------------------

  /** What one consistent read of a slot's current copy produced. */
  static final class Snapshot {
    long generation;
    long expiresAt;
    int kind;
    int flags;
    byte[] name;
    byte[] username; // when asked for
    byte[] secret; // when asked for
    byte[] publicData; // when asked for

    boolean hasValue() {
      return (flags & COPY_HAS_VALUE) != 0;
    }

    /** Zeroes the secret: it leaves the binding whole (as a String) or not at all. */
    void wipe() {
      if (secret != null) {
        Arrays.fill(secret, (byte) 0);
        secret = null;
      }
    }
  }

  /** Which data fields a read copies out (the name always). */
  enum Fields {
    NONE(false, false, false),
    CREDENTIAL(true, true, false),
    KEYSET(false, true, true);

    final boolean username;
    final boolean secret;
    final boolean publicData;

    Fields(boolean username, boolean secret, boolean publicData) {
      this.username = username;
      this.secret = secret;
      this.publicData = publicData;
    }
  }

  private int slotBase(int slot) {
    return HEADER_SIZE + slot * slotSize;
  }

  long nameHash(int slot) {
    return (long) WORD.getOpaque(buf, slotBase(slot) + 16);
  }

  /**
   * Reads slot {@code slot}'s current copy consistently into {@code snap}: OK, EBUSY (the writer
   * republished throughout 1,000 attempts) or EFORMAT (a stable copy whose lengths do not fit).
   */
  Code readSlot(int slot, Snapshot snap, Fields fields) {
    final int base = slotBase(slot);
    final long capacity = copySize - COPY_HEADER_SIZE;
    for (int attempt = 0; attempt < READ_RETRIES; attempt++) {
      int seq = (int) INT.getAcquire(buf, base);
      int copy = base + SLOT_HEADER_SIZE + (seq & 1) * copySize;
      long generation = (long) WORD.getOpaque(buf, copy);
      long expiresAt = (long) WORD.getOpaque(buf, copy + 8);
      long kindFlags = (long) WORD.getOpaque(buf, copy + 24);
      long lens = (long) WORD.getOpaque(buf, copy + 32);
      long publicLen = ((long) WORD.getOpaque(buf, copy + 40)) & 0xffffffffL;
      long nameLen = lens & 0xffff;
      long usernameLen = (lens >>> 16) & 0xffff;
      long secretLen = lens >>> 32;
      long usernameOff = align8(nameLen);
      long secretOff = usernameOff + align8(usernameLen);
      long publicOff = secretOff + align8(secretLen);
      boolean sane = nameLen <= NAME_MAX && usernameLen <= USERNAME_MAX
          && publicOff + align8(publicLen) <= capacity;
      int data = copy + COPY_HEADER_SIZE;
      if (sane) {
        snap.name = copyOut(data, (int) nameLen);
        snap.username = fields.username ? copyOut(data + (int) usernameOff, (int) usernameLen) : null;
        snap.secret = fields.secret ? copyOut(data + (int) secretOff, (int) secretLen) : null;
        snap.publicData = fields.publicData ? copyOut(data + (int) publicOff, (int) publicLen) : null;
      }
      VarHandle.acquireFence();
      if ((int) INT.getOpaque(buf, base) != seq) {
        snap.wipe();
        continue;
      }
      snap.generation = generation;
      snap.expiresAt = expiresAt;
      snap.kind = (int) kindFlags;
      snap.flags = (int) (kindFlags >>> 32);
      return sane ? Code.OK : Code.EFORMAT;
    }
    return Code.EBUSY;
  }

  /** Copies len bytes at an 8-aligned offset with opaque 64-bit loads (never past the word). */
  private byte[] copyOut(int offset, int len) {
    byte[] out = new byte[len];
    int i = 0;
    for (; i + 8 <= len; i += 8) {
      BYTES_WORD.set(out, i, (long) WORD.getOpaque(buf, offset + i));
    }
    if (i < len) {
      long word = (long) WORD.getOpaque(buf, offset + i); // fields are padded to 8 bytes
      for (int k = 0; i + k < len; k++) {
        out[i + k] = (byte) (word >>> (8 * k));
      }
    }
    return out;
  }

  private static long align8(long n) {
    return (n + 7) & ~7L;
  }

  /** FNV-1a 64 of the name; 0 is stored as 1 (0 marks a free slot). */
  static long nameHash(byte[] name) {
    long h = 0xcbf29ce484222325L;
    for (byte b : name) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return h == 0 ? 1 : h;
  }

  /**
   * Finds entry {@code name} and reads it into {@code snap}: OK, or ENOTFOUND / EBUSY / EFORMAT
   * (the last failure of a slot whose hash matched, when no slot held the name).
   */
  Code find(byte[] name, Snapshot snap, Fields fields) {
    long hash = nameHash(name);
    Code result = Code.ENOTFOUND;
    for (int i = 0; i < slotCount; i++) {
      if (nameHash(i) != hash) {
        continue;
      }
      Code rc = readSlot(i, snap, fields);
      if (rc != Code.OK) {
        result = rc;
        continue;
      }
      if (snap.kind == KIND_FREE || !Arrays.equals(snap.name, name)) {
        snap.wipe();
        continue; // a hash collision, or the slot changed hands meanwhile
      }
      return Code.OK;
    }
    return result;
  }
}
