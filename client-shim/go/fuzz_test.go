package tokenwell

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader as a segment image: header
// validation, list and every kind of read must refuse or succeed, never
// panic, hang or read outside the image, and a value handed out must fit in
// its copy. Seeds: the shared vectors (read in place) and the hand-built
// images of fuzzSeeds in testdata/fuzz/FuzzReader.
//
//	go test -run '^$' -fuzz FuzzReader -fuzztime 30s -fuzzminimizetime 100x
//
// (Minimizing by time stalls the run for a minute at each new input.)
func FuzzReader(f *testing.F) {
	_, cases := loadVectors(f)
	dir := vectorsDir(f)
	for _, vc := range cases {
		data, err := os.ReadFile(filepath.Join(dir, vc.File))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, image []byte) {
		c, code := openImage(image)
		if code != OK {
			if code != EFORMAT && code != EVERSION {
				t.Fatalf("a refused image gave %s", code)
			}
			return
		}
		m := c.current.Load()
		capacity := int(m.copySize) - copyHeaderSize
		names, err := c.List()
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		// A few names: an image of thousands of slots all named alike would
		// make every lookup scan them all, and the run quadratic.
		for _, name := range append(names[:min(len(names), 4)], "redis", strings.Repeat("x", NameMax)) {
			if len(name) == 0 || len(name) > NameMax {
				t.Fatalf("List gave an impossible name %q", name)
			}
			cred, err := c.Read(name)
			if err == nil && len(cred.Username)+len(cred.Token)+len(name) > capacity {
				t.Fatalf("Read(%q) handed out more than a copy holds", name)
			}
			if err != nil && (cred.Token != "" || cred.Username != "") {
				t.Fatalf("a failed Read(%q) (%v) handed back a value", name, err)
			}
			ks, err := c.ReadKeyset(name)
			if err != nil && (ks.SigningKey != "" || ks.JWKS != "") {
				t.Fatalf("a failed ReadKeyset(%q) (%v) handed back a value", name, err)
			}
			_, _ = c.Stat(name)
			_, _, _ = c.ReadPublic(name)
		}
	})
}

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzReader from fuzzSeeds")

// fuzzSeeds are the images the vectors lack: an odd latch sequence, a torn
// length, a name-hash collision, a keyset, and many slots of one name.
func fuzzSeeds() map[string][]byte {
	many := make([]testEntry, 10)
	for i := range many {
		many[i] = testEntry{name: "redis", secret: "t", generation: uint64(i + 1)}
	}
	return map[string][]byte{
		"odd-sequence":   buildSegment(testEntry{name: "redis", username: "oid", secret: "tok", seq: 1, generation: 2}),
		"torn-length":    buildSegment(testEntry{name: "redis", secret: "tok", secretLen: 0xfffffff8, generation: 1}),
		"hash-collision": buildSegment(testEntry{name: "other", secret: "a", hash: nameHash("redis"), generation: 1}, testEntry{name: "redis", secret: "b", generation: 2}),
		"keyset":         buildSegment(testEntry{name: "keys", kind: uint32(KindKeyset), secret: "{}", public: `{"keys":[]}`, generation: 3}),
		"many-same-name": buildSegment(many...),
	}
}

// TestFuzzSeedsAreCurrent keeps testdata/fuzz/FuzzReader equal to fuzzSeeds
// (go test -run TestFuzzSeedsAreCurrent -update-fuzz-seeds rewrites it).
func TestFuzzSeedsAreCurrent(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	for name, image := range fuzzSeeds() {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", image)
		path := filepath.Join(dir, name)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("%s is not current (go test -run TestFuzzSeedsAreCurrent -update-fuzz-seeds): %v", path, err)
		}
	}
}
