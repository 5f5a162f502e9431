package tokenwell

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const futexWaitOp = 0 // FUTEX_WAIT, linux/futex.h; shared (no FUTEX_PRIVATE_FLAG)

// futexWait sleeps while the 32-bit word at off equals expected, at most d
// (d < 0: no limit). The word lives in a file mapping the agent wakes from
// another process, so the futex is shared. EINTR, EAGAIN (the word already
// changed) and ETIMEDOUT all just make the caller look again.
func (m *mapping) futexWait(off uint64, expected uint32, d time.Duration) {
	var ts *unix.Timespec
	if d >= 0 {
		t := unix.NsecToTimespec(d.Nanoseconds())
		ts = &t
	}
	addr := unsafe.Pointer(&m.data[off])
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(addr), futexWaitOp, uintptr(expected),
		uintptr(unsafe.Pointer(ts)), 0, 0)
}

// Wait blocks until entry name has a generation greater than after, or
// timeout passes (negative: no limit), and returns that generation. It works
// for names that do not exist yet. Waiting is a futex in the segment: no
// socket, no polling. ETIMEOUT when the time ran out.
func (c *Client) Wait(name string, after uint64, timeout time.Duration) (uint64, error) {
	if code := checkName(name); code != OK {
		return 0, &Error{Code: code, Op: "wait", Name: name}
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		m := c.mapping()
		if m == nil {
			return 0, &Error{Code: EINVAL, Op: "wait", Name: name}
		}
		// Futex words are loaded before the state they guard, so a publish
		// between the check and the wait changes the word and the wait returns.
		wordOff := uint64(offChangeSeq)
		expected := m.load32(wordOff)
		if _, slot, code := m.find(name, 0); code == OK {
			genOff := m.slotOffset(slot) + offSlotGenFutex
			genWord := m.load32(genOff)
			s, again, code := m.find(name, 0)
			if code == OK && s.hdr.generation > after {
				return s.hdr.generation, nil
			}
			if code == OK && again == slot {
				wordOff, expected = genOff, genWord
			}
		}
		if m.replaced() {
			if c.mapping() != m {
				continue
			}
			// Replaced, but the new file is not readable yet: look again soon.
			wordOff, expected = offChangeSeq, m.load32(offChangeSeq)
			if timeout < 0 || time.Until(deadline) > 100*time.Millisecond {
				m.futexWait(wordOff, expected, 100*time.Millisecond)
				continue
			}
		}
		remaining := time.Duration(-1)
		if timeout >= 0 {
			if remaining = time.Until(deadline); remaining <= 0 {
				return 0, &Error{Code: ETIMEOUT, Op: "wait", Name: name}
			}
		}
		m.futexWait(wordOff, expected, remaining)
	}
}
