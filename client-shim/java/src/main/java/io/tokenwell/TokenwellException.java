package io.tokenwell;

/**
 * The one exception of the binding: a {@link Code} (libtokenwell's names) and a message that says
 * what is wrong. Messages name the credential and the directory, never a secret.
 *
 * <p>With {@link Code#ENOVALUE} (known, but not fetched yet or expired) {@link #expiresAt()} and
 * {@link #generation()} describe the value that is not valid; they are 0 for every other code.
 */
public final class TokenwellException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Code code;
  private final long expiresAt;
  private final long generation;

  public TokenwellException(Code code, String message) {
    this(code, message, 0, 0, null);
  }

  public TokenwellException(Code code, String message, Throwable cause) {
    this(code, message, 0, 0, cause);
  }

  TokenwellException(Code code, String message, long expiresAt, long generation, Throwable cause) {
    super(message, cause);
    this.code = code;
    this.expiresAt = expiresAt;
    this.generation = generation;
  }

  public Code code() {
    return code;
  }

  /** Unix seconds of the invalid value's expiry (0: does not expire), with ENOVALUE. */
  public long expiresAt() {
    return expiresAt;
  }

  /** Generation of the invalid value, with ENOVALUE. */
  public long generation() {
    return generation;
  }

  /** The same exception with the message prefixed, e.g. by what waited for it. */
  TokenwellException withContext(String context) {
    return new TokenwellException(code, context + ": " + getMessage(), expiresAt, generation, this);
  }
}
