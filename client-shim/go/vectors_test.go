package tokenwell

// The shared segment vectors (tests/vectors/segment, written by the agent's
// real SegmentWriter): every case of vectors.json, read in place from the
// repository, with the same statuses, values, list order and the REPLACED
// rename on the same Client as libtokenwell's own conformance test.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type vectorRead struct {
	Name       string `json:"name"`
	As         string `json:"as"`
	Status     string `json:"status"`
	Username   string `json:"username"`
	Secret     string `json:"secret"`
	Public     string `json:"public"`
	ExpiresAt  int64  `json:"expires_at"`
	Generation uint64 `json:"generation"`
}

type vectorCase struct {
	File        string   `json:"file"`
	Description string   `json:"description"`
	Open        string   `json:"open"`
	List        []string `json:"list"`
	Agent       *struct {
		PID         int32 `json:"pid"`
		HeartbeatMS int64 `json:"heartbeat_ms"`
	} `json:"agent"`
	Reads             []vectorRead `json:"reads"`
	ReplacedBy        string       `json:"replaced_by"`
	ReadsAfterReplace []vectorRead `json:"reads_after_replace"`
}

// vectorsDir is tests/vectors/segment of this repository ($TOKENWELL_VECTORS
// when the tests run from elsewhere).
func vectorsDir(t testing.TB) string {
	dir := os.Getenv("TOKENWELL_VECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "tests", "vectors", "segment")
	}
	if _, err := os.Stat(filepath.Join(dir, "vectors.json")); err != nil {
		t.Fatalf("the shared vectors are not at %s (set TOKENWELL_VECTORS): %v", dir, err)
	}
	return dir
}

func loadVectors(t testing.TB) (string, []vectorCase) {
	dir := vectorsDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) == 0 {
		t.Fatal("vectors.json has no cases")
	}
	return dir, doc.Cases
}

// installSegment puts a file in place as DIR/segment the way the agent does:
// written under another name, renamed over.
func installSegment(t testing.TB, dir string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, "segment.incoming")
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "segment")); err != nil {
		t.Fatal(err)
	}
}

func installVector(t *testing.T, vectors, dir, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vectors, file))
	if err != nil {
		t.Fatal(err)
	}
	installSegment(t, dir, data)
}

func statusOf(err error) string { return CodeOf(err).String() }

func checkVectorRead(t *testing.T, c *Client, want vectorRead, secrets []string) {
	t.Helper()
	var got vectorRead
	var err error
	var leftovers []string // every string a failed read handed back
	switch want.As {
	case "credential":
		var cred Credential
		cred, err = c.Read(want.Name)
		got = vectorRead{Username: cred.Username, Secret: cred.Token, ExpiresAt: cred.ExpiresAt,
			Generation: cred.Generation}
		leftovers = []string{cred.Username, cred.Token, cred.String()}
	case "keyset":
		var ks Keyset
		ks, err = c.ReadKeyset(want.Name)
		got = vectorRead{Secret: ks.SigningKey, Public: ks.JWKS, ExpiresAt: ks.ExpiresAt, Generation: ks.Generation}
		leftovers = []string{ks.SigningKey, ks.JWKS}
	default:
		t.Fatalf("unknown 'as' %q", want.As)
	}
	if statusOf(err) != want.Status {
		t.Fatalf("read %s as %s: status %s (%v), want %s", want.Name, want.As, statusOf(err), err, want.Status)
	}
	switch want.Status {
	case "OK":
		if got.Username != want.Username || got.Secret != want.Secret || got.Public != want.Public {
			t.Errorf("read %s as %s: got username %q secret %q public %q, want %q %q %q", want.Name, want.As,
				got.Username, got.Secret, got.Public, want.Username, want.Secret, want.Public)
		}
		fallthrough
	case "ENOVALUE":
		if got.ExpiresAt != want.ExpiresAt || got.Generation != want.Generation {
			t.Errorf("read %s as %s: expires_at %d generation %d, want %d %d", want.Name, want.As,
				got.ExpiresAt, got.Generation, want.ExpiresAt, want.Generation)
		}
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Name != want.Name {
			t.Errorf("read %s: error %#v does not name the entry", want.Name, err)
		}
		if want.Status == "ENOVALUE" && (e.ExpiresAt != want.ExpiresAt || e.Generation != want.Generation) {
			t.Errorf("read %s: ENOVALUE error carries expires_at %d generation %d, want %d %d",
				want.Name, e.ExpiresAt, e.Generation, want.ExpiresAt, want.Generation)
		}
		leftovers = append(leftovers, err.Error())
		for _, s := range secrets {
			for _, l := range leftovers {
				if strings.Contains(l, s[:min(16, len(s))]) {
					t.Errorf("read %s failed (%s) but handed back a secret", want.Name, want.Status)
				}
			}
		}
	}
}

func TestVectors(t *testing.T) {
	vectors, cases := loadVectors(t)
	for _, vc := range cases {
		t.Run(strings.TrimSuffix(vc.File, ".seg"), func(t *testing.T) {
			dir := t.TempDir()
			installVector(t, vectors, dir, vc.File)
			c, err := Open(dir)
			if statusOf(err) != vc.Open {
				t.Fatalf("open: %s (%v), want %s", statusOf(err), err, vc.Open)
			}
			if err != nil {
				if c != nil {
					t.Fatal("a failed Open returned a Client")
				}
				return
			}
			defer c.Close()
			names, err := c.List()
			if err != nil || !slices.Equal(names, vc.List) && !(len(names) == 0 && len(vc.List) == 0) {
				t.Errorf("list: %q (%v), want %q", names, err, vc.List)
			}
			if vc.Agent != nil {
				pid, hb, err := c.AgentInfo()
				if err != nil || pid != vc.Agent.PID || hb != vc.Agent.HeartbeatMS {
					t.Errorf("agent info: pid %d heartbeat %d (%v), want %d %d", pid, hb, err,
						vc.Agent.PID, vc.Agent.HeartbeatMS)
				}
			}
			var secrets []string
			for _, r := range append(slices.Clone(vc.Reads), vc.ReadsAfterReplace...) {
				if r.Secret != "" {
					secrets = append(secrets, r.Secret)
				}
			}
			for _, r := range vc.Reads {
				checkVectorRead(t, c, r, secrets)
			}
			if vc.ReplacedBy != "" {
				installVector(t, vectors, dir, vc.ReplacedBy)
				for _, r := range vc.ReadsAfterReplace {
					checkVectorRead(t, c, r, secrets)
				}
			}
		})
	}
}
