// Package segwriter drives tests/vectors/segment_writer_tool -- the agent's
// real SegmentWriter behind the line protocol of tests/vectors/README.md --
// so the binding's tests read segments written by the agent's own code. ctest sets
// TOKENWELL_SEGMENT_WRITER_TOOL; without it the tests that need a writer skip.
package segwriter

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Writer is one running segment_writer_tool over one directory.
type Writer struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// Start runs the tool over dir; it is stopped when the test ends.
func Start(t testing.TB, dir string) *Writer {
	t.Helper()
	tool := os.Getenv("TOKENWELL_SEGMENT_WRITER_TOOL")
	if tool == "" {
		t.Skip("TOKENWELL_SEGMENT_WRITER_TOOL is not set (ctest sets it: ctest -L unit:go)")
	}
	cmd := exec.Command(tool, dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &Writer{t: t, cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	return w
}

// Do sends one command line and returns the tool's answer after "ok"; an
// "error" answer fails the test.
func (w *Writer) Do(format string, args ...any) string {
	w.t.Helper()
	if _, err := fmt.Fprintf(w.stdin, format+"\n", args...); err != nil {
		w.t.Fatalf("segment_writer_tool: %v", err)
	}
	if !w.out.Scan() {
		w.t.Fatalf("segment_writer_tool exited (%v)", w.out.Err())
	}
	answer := w.out.Text()
	if answer != "ok" && !strings.HasPrefix(answer, "ok ") {
		w.t.Fatalf("segment_writer_tool: %s", answer)
	}
	return strings.TrimSpace(strings.TrimPrefix(answer, "ok"))
}

func (w *Writer) generation(answer string) uint64 {
	w.t.Helper()
	gen, err := strconv.ParseUint(answer, 10, 64)
	if err != nil {
		w.t.Fatalf("segment_writer_tool answered %q", answer)
	}
	return gen
}

// Publish publishes a credential ("" username: none) and returns its generation.
func (w *Writer) Publish(name, username, secret string, expiresAt int64) uint64 {
	w.t.Helper()
	if username == "" {
		username = "-"
	}
	return w.generation(w.Do("publish %s %s %s %d", name, username, secret, expiresAt))
}

// Pending publishes name as known but without a value yet.
func (w *Writer) Pending(name string) uint64 {
	w.t.Helper()
	return w.generation(w.Do("pending %s", name))
}

// StartRotating makes the writer publish checksummed values of name as fast
// as it can, renaming a new file over the segment every 50,000 values, until
// StopRotating (tests/vectors/README.md, "Checksummed values").
func (w *Writer) StartRotating(name string) {
	w.t.Helper()
	if _, err := fmt.Fprintf(w.stdin, "rotate %s until-stop 50000\n", name); err != nil {
		w.t.Fatal(err)
	}
}

// StopRotating stops the rotation and returns how many values were published.
func (w *Writer) StopRotating() uint64 {
	w.t.Helper()
	count, _, _ := strings.Cut(w.Do("stop"), " ")
	n, err := strconv.ParseUint(count, 10, 64)
	if err != nil {
		w.t.Fatalf("segment_writer_tool answered %q to stop", count)
	}
	return n
}

// fnv1a64 is the format's name hash without its 0 -> 1 rule.
func fnv1a64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// CheckRotated returns "" when (token, username, expiresAt, generation) is
// exactly one value of a rotation, else what is inconsistent: the token's
// own checksum, then the username, expiry and generation against its seed.
func CheckRotated(token, username string, expiresAt int64, generation uint64) string {
	if len(token) < 32 {
		return fmt.Sprintf("a token of %d bytes", len(token))
	}
	body, sum := token[:len(token)-16], token[len(token)-16:]
	if fmt.Sprintf("%016x", fnv1a64(body)) != sum {
		return fmt.Sprintf("checksum mismatch at generation %d", generation)
	}
	seed, err := strconv.ParseUint(token[:16], 16, 64)
	switch {
	case err != nil:
		return "no seed in " + token[:16]
	case username != "user-"+token[:16]:
		return fmt.Sprintf("username %s belongs to another value than %s", username, token[:16])
	case expiresAt != 4_000_000_000+int64(seed%100000):
		return fmt.Sprintf("expires_at %d belongs to another value than %s", expiresAt, token[:16])
	case generation != seed:
		return fmt.Sprintf("generation %d belongs to another value than %s", generation, token[:16])
	}
	return ""
}
