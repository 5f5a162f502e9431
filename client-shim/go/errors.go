package tokenwell

import (
	"errors"
	"fmt"
	"time"
)

// Code is one of libtokenwell's return codes (tokenwell.h), with the same
// numbers and names. Like syscall.Errno it is itself an error, so the codes
// are the sentinels: errors.Is(err, tokenwell.ENOTFOUND).
type Code int

// The return codes of tokenwell.h; never renumbered.
const (
	OK           Code = 0  // no error
	EINVAL       Code = 1  // a bad argument (empty or too long name, closed client)
	ENOTFOUND    Code = 2  // no credential or keyset of that name
	ENOVALUE     Code = 3  // known, but not fetched yet or expired
	EUNAVAILABLE Code = 4  // no segment: agent not started, wrong directory
	EFORMAT      Code = 5  // segment truncated, wrong magic, bad sizes
	EVERSION     Code = 6  // segment written by a newer, incompatible ABI
	ETOOSMALL    Code = 7  // a buffer is too small (the C API only; kept for the numbering)
	ETIMEOUT     Code = 8  // Wait timed out
	EBUSY        Code = 9  // value changing too fast; try again
	ENOMEM       Code = 10 // out of memory
	ESYSTEM      Code = 11 // an unexpected system call failure
)

var codeNames = [...]string{"OK", "EINVAL", "ENOTFOUND", "ENOVALUE", "EUNAVAILABLE", "EFORMAT",
	"EVERSION", "ETOOSMALL", "ETIMEOUT", "EBUSY", "ENOMEM", "ESYSTEM"}

// Texts of tokenwell_strerror(), word for word.
var codeTexts = [...]string{
	"ok",
	"invalid argument",
	"no credential or keyset of that name",
	"no valid value (not fetched yet or expired)",
	"segment unavailable (agent not running or wrong directory)",
	"segment malformed (truncated, bad magic or bad sizes)",
	"segment written by a newer, incompatible version",
	"buffer too small",
	"timed out",
	"value changing too fast, try again",
	"out of memory",
	"unexpected system error",
}

// String is the C name without the TOKENWELL_ prefix ("ENOTFOUND").
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Error is tokenwell_strerror's text for the code.
func (c Code) Error() string { return Strerror(c) }

// Strerror is tokenwell_strerror: the text for a code, never empty.
func Strerror(c Code) string {
	if c >= 0 && int(c) < len(codeTexts) {
		return codeTexts[c]
	}
	return "unknown error code"
}

// Error is what every function of this package returns on failure: the
// code, the operation and the entry it was about. It unwraps to its Code, so
// errors.Is(err, tokenwell.ENOVALUE) holds for it. It never carries a secret.
type Error struct {
	Code Code
	Op   string // "open", "read", "read keyset", "stat", "list", "wait"
	Name string // the entry, or for open the directory
	// With ENOVALUE: when the value expired (unix seconds; 0 for a value not
	// fetched yet) and its generation.
	ExpiresAt  int64
	Generation uint64
	Err        error // the system error behind ESYSTEM/EUNAVAILABLE, if any
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("tokenwell: %s %q: %s", e.Op, e.Name, Strerror(e.Code))
	if e.Code == ENOVALUE && e.ExpiresAt != 0 {
		msg += fmt.Sprintf(" (expired at %s, generation %d)",
			time.Unix(e.ExpiresAt, 0).UTC().Format(time.RFC3339), e.Generation)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap gives the Code (and the system error, when there is one).
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Code, e.Err}
	}
	return []error{e.Code}
}

// CodeOf is the code of err: OK for nil, the Code of a *Error or a Code in
// its chain, ESYSTEM for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var c Code
	if errors.As(err, &c) {
		return c
	}
	return ESYSTEM
}
