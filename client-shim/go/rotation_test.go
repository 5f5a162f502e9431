package tokenwell

import (
	"sync"
	"testing"
	"time"

	"tokenwell.io/tokenwell/internal/segwriter"
)

// Readers race the agent's real SegmentWriter (tests/vectors'
// segment_writer_tool), which publishes checksummed values of every length up
// to the copy's capacity as fast as it can and renames a new file over the
// segment (REPLACED) every 50,000 publishes: every value read must be whole --
// token, username, expiry and generation of one seed -- and generations never go back. A waiter on the futex sees the
// rotations too.
func TestReadersNeverSeeTornValuesWhileTheWriterRotates(t *testing.T) {
	const readers = 3
	readsEach := 100_000
	if raceEnabled {
		readsEach = 10_000
	}
	dir := t.TempDir()
	w := segwriter.Start(t, dir)
	w.Pending("other") // the segment exists once the tool answers
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w.StartRotating("stress")
	if _, err := c.Wait("stress", 0, 30*time.Second); err != nil {
		t.Fatalf("the first rotation value: %v", err)
	}

	type result struct{ reads, torn, busy, changes, regressions int }
	results := make([]result, readers)
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[r]
			var last uint64
			for ; res.reads < readsEach; res.reads++ {
				cred, err := c.Read("stress")
				if CodeOf(err) == EBUSY {
					res.busy++
					continue
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if problem := segwriter.CheckRotated(cred.Token, cred.Username, cred.ExpiresAt, cred.Generation); problem != "" {
					if res.torn == 0 {
						t.Errorf("torn read: %s", problem)
					}
					res.torn++
				}
				if cred.Generation < last {
					res.regressions++
				}
				if cred.Generation != last {
					res.changes++
				}
				last = cred.Generation
			}
		}()
	}
	// The futex: each Wait returns a newer generation, promptly.
	wakes := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var after uint64
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
			gen, err := c.Wait("stress", after, 10*time.Second)
			if err != nil || gen <= after {
				t.Fatalf("Wait after %d: %d, %v", after, gen, err)
			}
			after = gen
			wakes++
		}
	}
	publishes := w.StopRotating()

	var sum result
	for _, r := range results {
		sum.reads += r.reads
		sum.torn += r.torn
		sum.busy += r.busy
		sum.changes += r.changes
		sum.regressions += r.regressions
	}
	c.mu.Lock()
	remaps := c.remaps
	c.mu.Unlock()
	t.Logf("reads=%d torn_or_mixed=%d value_changes_seen=%d busy=%d publishes=%d futex_wakes=%d remaps=%d",
		sum.reads, sum.torn, sum.changes, sum.busy, publishes, wakes, remaps)
	if sum.torn != 0 || sum.regressions != 0 {
		t.Errorf("%d torn or mixed values, %d generations going back", sum.torn, sum.regressions)
	}
	// The readers really raced the writer.
	if sum.changes < 100 || wakes < 10 {
		t.Errorf("the readers saw the value change only %d times, the waiter %d times", sum.changes, wakes)
	}
	if publishes >= 50_000 && remaps == 0 {
		t.Errorf("%d publishes renamed new files over the segment, but the Client never remapped", publishes)
	}
}
