package tokenwell

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// testEntry is one slot of a hand-built segment: the cases a healthy agent
// never writes (torn lengths, odd sequence, hash pointing elsewhere). Every
// ordinary case is read from the real writer's vectors instead.
type testEntry struct {
	name, username, secret, public string
	kind                           uint32 // default credential
	generation                     uint64
	expiresAt                      int64
	noValue                        bool
	seq                            uint32 // the latch sequence: odd selects copy 1
	hash                           uint64 // override of the slot's name_hash
	secretLen                      uint32 // override of the copy's secret_len (0: the real one)
}

const testCopySize = 512

// buildSegment lays out entries by docs/segment-format.md (both copies the
// same, as a writer at rest leaves them).
func buildSegment(entries ...testEntry) []byte {
	slotSize := uint32(slotHeaderSize + 2*testCopySize)
	b := make([]byte, segHeaderSize+len(entries)*int(slotSize))
	le := binary.LittleEndian
	le.PutUint32(b[0:], segMagic)
	le.PutUint16(b[4:], 1)
	le.PutUint16(b[6:], 1)
	le.PutUint32(b[8:], segHeaderSize)
	le.PutUint32(b[12:], uint32(len(entries)))
	le.PutUint32(b[16:], slotSize)
	le.PutUint32(b[20:], testCopySize)
	le.PutUint64(b[24:], uint64(len(b)))
	le.PutUint32(b[36:], 4242)
	for i, e := range entries {
		slot := b[segHeaderSize+i*int(slotSize):]
		le.PutUint32(slot[0:], e.seq)
		le.PutUint32(slot[4:], uint32(e.generation))
		le.PutUint64(slot[8:], e.generation)
		hash := e.hash
		if hash == 0 {
			hash = nameHash(e.name)
		}
		le.PutUint64(slot[16:], hash)
		for _, cp := range [][]byte{slot[slotHeaderSize:], slot[slotHeaderSize+testCopySize:]} {
			kind := e.kind
			if kind == 0 {
				kind = uint32(KindCredential)
			}
			le.PutUint64(cp[0:], e.generation)
			le.PutUint64(cp[8:], uint64(e.expiresAt))
			le.PutUint32(cp[24:], kind)
			if !e.noValue {
				le.PutUint32(cp[28:], copyFlagHasValue)
			}
			secretLen := uint32(len(e.secret))
			if e.secretLen != 0 {
				secretLen = e.secretLen
			}
			le.PutUint16(cp[32:], uint16(len(e.name)))
			le.PutUint16(cp[34:], uint16(len(e.username)))
			le.PutUint32(cp[36:], secretLen)
			le.PutUint32(cp[40:], uint32(len(e.public)))
			off := copyHeaderSize
			for _, f := range []string{e.name, e.username, e.secret, e.public} {
				if off+len(f) <= testCopySize {
					copy(cp[off:], f)
				}
				off += int(align8(uint64(len(f))))
			}
		}
	}
	return b
}

// openImage reads an in-memory image like tw_open_buffer: no file, no
// remapping. The image is copied to 8-aligned memory (atomic loads need it).
func openImage(image []byte) (*Client, Code) {
	words := make([]uint64, (len(image)+7)/8)
	data := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:len(image)]
	copy(data, image)
	m := &mapping{data: data}
	if code := validateHeader(m); code != OK {
		return nil, code
	}
	c := &Client{}
	c.current.Store(m)
	return c, OK
}

func TestCodesHaveTheCNamesAndTexts(t *testing.T) {
	for _, tc := range []struct {
		code       Code
		name, text string
	}{
		{OK, "OK", "ok"},
		{EINVAL, "EINVAL", "invalid argument"},
		{ENOTFOUND, "ENOTFOUND", "no credential or keyset of that name"},
		{ENOVALUE, "ENOVALUE", "no valid value (not fetched yet or expired)"},
		{EUNAVAILABLE, "EUNAVAILABLE", "segment unavailable (agent not running or wrong directory)"},
		{EFORMAT, "EFORMAT", "segment malformed (truncated, bad magic or bad sizes)"},
		{EVERSION, "EVERSION", "segment written by a newer, incompatible version"},
		{ETOOSMALL, "ETOOSMALL", "buffer too small"},
		{ETIMEOUT, "ETIMEOUT", "timed out"},
		{EBUSY, "EBUSY", "value changing too fast, try again"},
		{ENOMEM, "ENOMEM", "out of memory"},
		{ESYSTEM, "ESYSTEM", "unexpected system error"},
		{Code(99), "Code(99)", "unknown error code"},
	} {
		if tc.code.String() != tc.name || Strerror(tc.code) != tc.text || tc.code.Error() != tc.text {
			t.Errorf("code %d: %q %q, want %q %q", int(tc.code), tc.code.String(), Strerror(tc.code), tc.name, tc.text)
		}
	}
}

func TestErrorsMatchTheirCode(t *testing.T) {
	err := error(&Error{Code: ENOVALUE, Op: "read", Name: "redis", ExpiresAt: 1767225000, Generation: 2})
	if !errors.Is(err, ENOVALUE) || errors.Is(err, ENOTFOUND) || CodeOf(err) != ENOVALUE {
		t.Fatalf("errors.Is/CodeOf do not see ENOVALUE in %v", err)
	}
	if want := `tokenwell: read "redis": no valid value (not fetched yet or expired) (expired at 2025-12-31T23:50:00Z, generation 2)`; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	sys := &Error{Code: EUNAVAILABLE, Op: "open", Name: "/nope", Err: syscall.ENOENT}
	if !errors.Is(sys, syscall.ENOENT) || CodeOf(sys) != EUNAVAILABLE {
		t.Errorf("the system error is not in the chain of %v", sys)
	}
	if CodeOf(nil) != OK || CodeOf(errors.New("other")) != ESYSTEM {
		t.Error("CodeOf of nil / a foreign error")
	}
}

func TestDirResolution(t *testing.T) {
	t.Setenv("TOKENWELL_DIR", "/from/env")
	for _, tc := range []struct{ arg, want string }{{"/explicit", "/explicit"}, {"", "/from/env"}} {
		if got := Dir(tc.arg); got != tc.want {
			t.Errorf("Dir(%q) = %q, want %q", tc.arg, got, tc.want)
		}
	}
	t.Setenv("TOKENWELL_DIR", "")
	if got := Dir(""); got != "/run/tokenwell" {
		t.Errorf("Dir with nothing set = %q", got)
	}
}

func TestOpenRefusals(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoDir, "segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	dirDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dirDir, "segment"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what, dir string
		want      Code
	}{
		{"no such directory: the agent has not started", missing, EUNAVAILABLE},
		{"a FIFO named segment must not hang the reader", fifoDir, EFORMAT},
		{"a directory named segment", dirDir, EFORMAT},
	} {
		done := make(chan error, 1)
		go func() {
			c, err := Open(tc.dir)
			if c != nil {
				c.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if CodeOf(err) != tc.want || !strings.Contains(err.Error(), tc.dir) {
				t.Errorf("%s: %v, want %s naming the directory", tc.what, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Open hung", tc.what)
		}
	}
}

func TestNamesAreChecked(t *testing.T) {
	c, code := openImage(buildSegment(testEntry{name: "redis", secret: "t", generation: 1}))
	if code != OK {
		t.Fatal(code)
	}
	for _, name := range []string{"", strings.Repeat("n", NameMax+1)} {
		if _, err := c.Read(name); CodeOf(err) != EINVAL {
			t.Errorf("Read(%d bytes): %v, want EINVAL", len(name), err)
		}
		if _, err := c.Wait(name, 0, 0); CodeOf(err) != EINVAL {
			t.Errorf("Wait(%d bytes): %v, want EINVAL", len(name), err)
		}
	}
}

func TestReadsOfHandBuiltSegments(t *testing.T) {
	const far = 4102444800 // 2100-01-01
	for _, tc := range []struct {
		what    string
		entries []testEntry
		name    string
		want    Code
		token   string
		user    string
	}{
		{"the latch: an odd sequence selects copy 1", []testEntry{{name: "redis", secret: "tok", seq: 3, generation: 7}},
			"redis", OK, "tok", ""},
		{"no username means password-only AUTH", []testEntry{{name: "pw", secret: "s3cret", expiresAt: far, generation: 1}},
			"pw", OK, "s3cret", ""},
		{"a username up to the limit", []testEntry{{name: "u", username: strings.Repeat("u", UsernameMax), secret: "x", generation: 1}},
			"u", OK, "x", strings.Repeat("u", UsernameMax)},
		{"a value not fetched yet", []testEntry{{name: "p", noValue: true, generation: 3}}, "p", ENOVALUE, "", ""},
		{"an expired value is never handed out", []testEntry{{name: "e", secret: "old", expiresAt: 1, generation: 2}},
			"e", ENOVALUE, "", ""},
		{"a torn secret_len past the copy: that entry only is malformed",
			[]testEntry{{name: "bad", secret: "x", secretLen: 1 << 30, generation: 1}, {name: "ok", secret: "y", generation: 2}},
			"bad", EFORMAT, "", ""},
		{"the next entry still reads", []testEntry{{name: "bad", secret: "x", secretLen: 1 << 30, generation: 1}, {name: "ok", secret: "y", generation: 2}},
			"ok", OK, "y", ""},
		{"a hash collision: keep scanning after a name mismatch",
			[]testEntry{{name: "other", secret: "no", hash: nameHash("redis"), generation: 1}, {name: "redis", secret: "yes", generation: 2}},
			"redis", OK, "yes", ""},
		{"a keyset is not a credential", []testEntry{{name: "keys", kind: uint32(KindKeyset), public: `{"keys":[]}`, generation: 1}},
			"keys", ENOTFOUND, "", ""},
		{"an unknown kind", []testEntry{{name: "odd", kind: 0xffffffff, generation: 5}}, "odd", ENOTFOUND, "", ""},
	} {
		c, code := openImage(buildSegment(tc.entries...))
		if code != OK {
			t.Fatalf("%s: image refused: %s", tc.what, code)
		}
		cred, err := c.Read(tc.name)
		if CodeOf(err) != tc.want || cred.Token != tc.token || cred.Username != tc.user {
			t.Errorf("%s: Read(%q) = %q/%q, %v; want %q/%q, %s", tc.what, tc.name, cred.Username, cred.Token, err,
				tc.user, tc.token, tc.want)
		}
	}
}

func TestFreeSlotKindIsSkipped(t *testing.T) {
	// kind 0 with the name still in the copy: a removed entry.
	image := buildSegment(testEntry{name: "gone", secret: "x", generation: 5})
	binary.LittleEndian.PutUint32(image[segHeaderSize+slotHeaderSize+24:], kindFree)
	c, _ := openImage(image)
	if _, err := c.Read("gone"); CodeOf(err) != ENOTFOUND {
		t.Errorf("a slot whose copy is free: %v, want ENOTFOUND", err)
	}
	if names, _ := c.List(); len(names) != 0 {
		t.Errorf("List shows a free slot: %q", names)
	}
}

func TestCredentialStringHidesTheToken(t *testing.T) {
	s := Credential{Name: "redis", Username: "oid", Token: "eyJsecret"}.String()
	if strings.Contains(s, "eyJsecret") || !strings.Contains(s, "redis") {
		t.Errorf("String() = %q", s)
	}
}

func TestWaitTimesOutOnAQuietSegment(t *testing.T) {
	dir := t.TempDir()
	installSegment(t, dir, buildSegment(testEntry{name: "redis", secret: "t", generation: 4}))
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if gen, err := c.Wait("redis", 3, 0); err != nil || gen != 4 {
		t.Errorf("Wait after an older generation: %d, %v; want 4 at once", gen, err)
	}
	if _, err := c.Wait("redis", 4, time.Millisecond); CodeOf(err) != ETIMEOUT {
		t.Errorf("Wait for a newer generation that never comes: %v, want ETIMEOUT", err)
	}
	if _, err := c.Wait("not-yet", 0, time.Millisecond); CodeOf(err) != ETIMEOUT {
		t.Errorf("Wait for a name that does not exist yet: %v, want ETIMEOUT", err)
	}
	c.Close()
	if _, err := c.Read("redis"); CodeOf(err) != EINVAL {
		t.Errorf("Read after Close: %v, want EINVAL", err)
	}
}
