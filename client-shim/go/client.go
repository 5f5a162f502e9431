package tokenwell

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Replacements one Client follows; the agent replaces its file only to grow
// it (each time doubling), so more means something else is renaming files,
// and the Client keeps reading the mapping it has (as tokenwell.c does).
const maxRemaps = 32

// Client reads the segment of one runtime directory. Safe for concurrent use
// by any number of goroutines; only Close must not race with other calls.
type Client struct {
	path    string
	current atomic.Pointer[mapping]
	mu      sync.Mutex // remapping; guards retired and remaps
	retired []*mapping // kept mapped until Close: a reader may still be in one
	remaps  int
}

// Credential is the current value of a credential.
type Credential struct {
	Name       string
	Username   string // empty: password-only AUTH (the "default" user)
	Token      string
	ExpiresAt  int64 // unix seconds; 0 when the value does not expire
	Generation uint64
}

// Expires is ExpiresAt as a time; the zero time when the value does not expire.
func (c Credential) Expires() time.Time {
	if c.ExpiresAt == 0 {
		return time.Time{}
	}
	return time.Unix(c.ExpiresAt, 0)
}

// String names the credential without its token, so logging one is safe.
func (c Credential) String() string {
	return "tokenwell.Credential{Name: " + c.Name + ", Username: " + c.Username + ", Token: <redacted>}"
}

// Keyset is a keyset read in one snapshot (docs/segment-format.md "Keyset slots").
type Keyset struct {
	Name       string
	JWKS       string // the public JWKS
	SigningKey string // the active private signing JWK; empty for a verify-only keyset
	ExpiresAt  int64
	Generation uint64
}

// Entry is what Stat reports about an entry, without any secret.
type Entry struct {
	Name       string
	Kind       Kind
	ExpiresAt  int64
	Generation uint64
}

// Dir resolves the runtime directory: dir, else $TOKENWELL_DIR, else /run/tokenwell.
func Dir(dir string) string {
	if dir != "" {
		return dir
	}
	if env := os.Getenv("TOKENWELL_DIR"); env != "" {
		return env
	}
	return defaultRuntimeDir
}

// Open maps the segment of dir (see Dir for the default). A missing segment
// is EUNAVAILABLE at once: the agent has not published yet, or dir is wrong.
func Open(dir string) (*Client, error) {
	dir = Dir(dir)
	c := &Client{path: filepath.Join(dir, segmentFileName)}
	m, code, err := mapFile(c.path)
	if code != OK {
		return nil, &Error{Code: code, Op: "open", Name: dir, Err: err}
	}
	c.current.Store(m)
	return c, nil
}

// Close unmaps the segment. Calls after Close fail with EINVAL.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.current.Swap(nil); m != nil {
		m.unmap()
	}
	for _, m := range c.retired {
		m.unmap()
	}
	c.retired = nil
	return nil
}

// mapping returns the mapping to read, remapping first when the agent
// renamed a new file over the current one. A flagged file that `segment`
// still names (a writer died mid-growth, or a crafted file) is read as it is.
func (c *Client) mapping() *mapping {
	m := c.current.Load()
	if m == nil || !m.replaced() {
		return m
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	again := c.current.Load()
	if again != m || c.remaps >= maxRemaps || !c.segmentIsOtherThan(m) {
		return again
	}
	fresh, code, _ := mapFile(c.path)
	if code != OK {
		return m // keep reading the old mapping: its values stay valid
	}
	c.remaps++
	c.retired = append(c.retired, m)
	c.current.Store(fresh)
	return fresh
}

func (c *Client) segmentIsOtherThan(m *mapping) bool {
	var st unix.Stat_t
	if unix.Stat(c.path, &st) != nil {
		return false
	}
	return uint64(st.Dev) != m.dev || st.Ino != m.ino
}

func checkName(name string) Code {
	if len(name) == 0 || len(name) > NameMax {
		return EINVAL
	}
	return OK
}

// lookup finds and reads entry name, looking again in a new file when the
// first lookup missed and the file turns out replaced: the publish that grew
// it may have added this very name.
func (c *Client) lookup(op, name string, want fieldSet) (snapshot, error) {
	if code := checkName(name); code != OK {
		return snapshot{}, &Error{Code: code, Op: op, Name: name}
	}
	m := c.mapping()
	if m == nil {
		return snapshot{}, &Error{Code: EINVAL, Op: op, Name: name}
	}
	s, _, code := m.find(name, want)
	if code == ENOTFOUND {
		if now := c.mapping(); now != m {
			s, _, code = now.find(name, want)
		}
	}
	if code != OK {
		return snapshot{}, &Error{Code: code, Op: op, Name: name}
	}
	return s, nil
}

// validity of a snapshot now: OK, or ENOVALUE when it has no value yet or it expired.
func validity(s *snapshot) Code {
	if s.hdr.flags&copyFlagHasValue == 0 {
		return ENOVALUE
	}
	if s.hdr.expiresAt != 0 && s.hdr.expiresAt <= time.Now().Unix() {
		return ENOVALUE
	}
	return OK
}

// noValue is the ENOVALUE error of a snapshot; its secret is wiped first: a
// secret leaves this package whole or not at all.
func noValue(op string, s *snapshot) error {
	clear(s.secret)
	return &Error{Code: ENOVALUE, Op: op, Name: s.name, ExpiresAt: s.hdr.expiresAt, Generation: s.hdr.generation}
}

// Read returns the current value of credential name. Errors: ENOTFOUND
// (no such credential; a keyset of that name too), ENOVALUE (not fetched yet
// or expired: the Credential then carries Name, ExpiresAt and Generation, and
// no username or token), EBUSY, EFORMAT (that entry is malformed), EINVAL.
func (c *Client) Read(name string) (Credential, error) {
	s, err := c.lookup("read", name, wantUsername|wantSecret)
	if err != nil {
		return Credential{}, err
	}
	if Kind(s.hdr.kind) != KindCredential {
		clear(s.secret)
		return Credential{}, &Error{Code: ENOTFOUND, Op: "read", Name: name}
	}
	if validity(&s) != OK {
		return Credential{Name: name, ExpiresAt: s.hdr.expiresAt, Generation: s.hdr.generation}, noValue("read", &s)
	}
	cred := Credential{Name: name, Username: string(s.username), Token: string(s.secret),
		ExpiresAt: s.hdr.expiresAt, Generation: s.hdr.generation}
	clear(s.secret) // the string is the one copy left
	return cred, nil
}

// ReadKeyset returns keyset name's public JWKS and signing key in one
// snapshot. ENOTFOUND when name is a credential.
func (c *Client) ReadKeyset(name string) (Keyset, error) {
	s, err := c.lookup("read keyset", name, wantSecret|wantPublic)
	if err != nil {
		return Keyset{}, err
	}
	if Kind(s.hdr.kind) != KindKeyset {
		clear(s.secret)
		return Keyset{}, &Error{Code: ENOTFOUND, Op: "read keyset", Name: name}
	}
	if validity(&s) != OK {
		return Keyset{Name: name, ExpiresAt: s.hdr.expiresAt, Generation: s.hdr.generation}, noValue("read keyset", &s)
	}
	ks := Keyset{Name: name, JWKS: string(s.public), SigningKey: string(s.secret),
		ExpiresAt: s.hdr.expiresAt, Generation: s.hdr.generation}
	clear(s.secret)
	return ks, nil
}

// ReadPublic returns the public part of entry name (a keyset's JWKS) and its
// generation, without touching any secret.
func (c *Client) ReadPublic(name string) (string, uint64, error) {
	s, err := c.lookup("read public", name, wantPublic)
	if err != nil {
		return "", 0, err
	}
	if validity(&s) != OK {
		return "", s.hdr.generation, noValue("read public", &s)
	}
	return string(s.public), s.hdr.generation, nil
}

// Stat describes entry name without copying a secret; the error says
// whether it is valid now (ENOVALUE with the Entry still filled in).
func (c *Client) Stat(name string) (Entry, error) {
	s, err := c.lookup("stat", name, 0)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Name: name, Kind: Kind(s.hdr.kind), ExpiresAt: s.hdr.expiresAt, Generation: s.hdr.generation}
	if validity(&s) != OK {
		return e, noValue("stat", &s)
	}
	return e, nil
}

// List returns the names of all entries in slot order; an entry that cannot
// be read consistently (malformed, or changing too fast) is left out.
func (c *Client) List() ([]string, error) {
	m := c.mapping()
	if m == nil {
		return nil, &Error{Code: EINVAL, Op: "list"}
	}
	var names []string
	for i := uint32(0); i < m.slotCount; i++ {
		if m.load64(m.slotOffset(i)+offSlotNameHash) == 0 {
			continue
		}
		s, code := m.readSlot(i, 0)
		if code != OK || s.hdr.kind == kindFree || s.hdr.nameLen == 0 {
			continue
		}
		names = append(names, s.name)
	}
	return names, nil
}

// AgentInfo is the pid of the agent writing the segment and its last
// heartbeat (unix milliseconds). Diagnostics only: a heartbeat older than
// about 30 s means no agent is running, but values stay valid until they expire.
func (c *Client) AgentInfo() (pid int32, heartbeatMS int64, err error) {
	m := c.mapping()
	if m == nil {
		return 0, 0, &Error{Code: EINVAL, Op: "agent info"}
	}
	return int32(m.load32(offWriterPID)), int64(m.load64(offHeartbeat)), nil
}
