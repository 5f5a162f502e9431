package io.tokenwell;

/**
 * The result codes of libtokenwell ({@code tokenwell.h}), with the same names, numbers and texts,
 * so a failure reads the same from C, the CLI, Python, Node, Go, Rust and Java.
 *
 * <pre>{@code
 * try { tw.read("redis"); }
 * catch (TokenwellException e) { if (e.code() == Code.ENOVALUE) ... }
 * }</pre>
 */
public enum Code {
  OK(0, "ok"),
  EINVAL(1, "invalid argument"),
  ENOTFOUND(2, "no credential or keyset of that name"),
  ENOVALUE(3, "no valid value (not fetched yet or expired)"),
  EUNAVAILABLE(4, "segment unavailable (agent not running or wrong directory)"),
  EFORMAT(5, "segment malformed (truncated, bad magic or bad sizes)"),
  EVERSION(6, "segment written by a newer, incompatible version"),
  ETOOSMALL(7, "buffer too small"),
  ETIMEOUT(8, "timed out"),
  EBUSY(9, "value changing too fast, try again"),
  ENOMEM(10, "out of memory"),
  ESYSTEM(11, "unexpected system error");

  private final int value;
  private final String text;

  Code(int value, String text) {
    this.value = value;
    this.text = text;
  }

  /** The number {@code tokenwell.h} gives this code ({@code TOKENWELL_<NAME>}). */
  public int value() {
    return value;
  }

  /** The text {@code tokenwell_strerror()} gives for this code. */
  public String text() {
    return text;
  }

  /** The code with this number, or {@code null} for a number libtokenwell does not define. */
  public static Code of(int value) {
    for (Code c : values()) {
      if (c.value == value) {
        return c;
      }
    }
    return null;
  }
}
