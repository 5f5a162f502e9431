// Package segwriter drives tests/go/segment_writer_tool -- the agent's real
// SegmentWriter behind a line protocol -- so the binding's tests read
// segments written by the agent's own code. ctest sets
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

// Do sends one command line and returns the tool's answer; an "error" answer fails the test.
func (w *Writer) Do(format string, args ...any) string {
	w.t.Helper()
	if _, err := fmt.Fprintf(w.stdin, format+"\n", args...); err != nil {
		w.t.Fatalf("segment_writer_tool: %v", err)
	}
	if !w.out.Scan() {
		w.t.Fatalf("segment_writer_tool exited (%v)", w.out.Err())
	}
	answer := w.out.Text()
	if strings.HasPrefix(answer, "error") {
		w.t.Fatalf("segment_writer_tool: %s", answer)
	}
	return answer
}

func (w *Writer) generation(answer string) uint64 {
	w.t.Helper()
	gen, err := strconv.ParseUint(strings.TrimPrefix(answer, "gen "), 10, 64)
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

// Grow makes the writer rename a bigger file over the segment.
func (w *Writer) Grow() { w.t.Helper(); w.Do("grow") }

// StartRotating makes the writer publish checksummed values of name (see
// RotationValue) as fast as it can, until StopRotating.
func (w *Writer) StartRotating(name string) {
	w.t.Helper()
	if _, err := fmt.Fprintf(w.stdin, "rotate %s\n", name); err != nil {
		w.t.Fatal(err)
	}
}

// StopRotating stops the rotation and returns how many values were published.
func (w *Writer) StopRotating() uint64 {
	w.t.Helper()
	answer := w.Do("stop")
	n, err := strconv.ParseUint(strings.TrimPrefix(answer, "rotated "), 10, 64)
	if err != nil {
		w.t.Fatalf("segment_writer_tool answered %q", answer)
	}
	return n
}

// Value is what rotation_value(seed) of segment_writer_tool publishes.
type Value struct {
	Token, Username string
	ExpiresAt       int64
}

const maxToken = 4096 - 8 - 24

// RotationValue derives the value for a seed exactly as the tool does, so a
// reader can check every value it reads against its own seed (the token's
// first 16 characters).
func RotationValue(seed uint64) Value {
	head := fmt.Sprintf("%016x", seed)
	n := 16 + (seed*7919)%(maxToken-16+1)
	token := make([]byte, n)
	copy(token, head)
	for i := uint64(16); i < n; i++ {
		token[i] = byte('a' + ((seed*1315423911+i*2654435761)>>13)%26)
	}
	return Value{Token: string(token), Username: "user-" + head, ExpiresAt: 4_000_000_000 + int64(seed%100000)}
}
