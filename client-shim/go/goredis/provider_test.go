package goredis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/auth"

	"tokenwell.io/tokenwell"
	"tokenwell.io/tokenwell/internal/segwriter"
)

const far = 4102444800 // 2100-01-01

// recorder is a listener that hands every push to the test.
type recorder struct {
	got chan auth.Credentials
}

func newRecorder() *recorder { return &recorder{got: make(chan auth.Credentials, 64)} }

func (r *recorder) OnNext(c auth.Credentials) { r.got <- c }
func (r *recorder) OnError(error)             {}

// next is the next push, or a failure after a generous bound (a hung provider).
func (r *recorder) next(t *testing.T) auth.Credentials {
	t.Helper()
	select {
	case c := <-r.got:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no push within 30 s")
		return nil
	}
}

func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-r.got:
		t.Fatalf("an unexpected push of generation %d", Generation(c))
	default:
	}
}

// errorLog collects OnError reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
	ch   chan error
}

func newErrorLog() *errorLog { return &errorLog{ch: make(chan error, 256)} }

func (l *errorLog) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
	l.ch <- err
}

// waitFor returns the first report matching match.
func (l *errorLog) waitFor(t *testing.T, what string, match func(error) bool) error {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-l.ch:
			if match(err) {
				return err
			}
		case <-deadline:
			t.Fatalf("OnError never reported %s", what)
		}
	}
}

func newProvider(t *testing.T, dir string, opts Options) (*Provider, *errorLog) {
	log := newErrorLog()
	opts.Dir = dir
	opts.OnError = log.add
	p := NewProvider("redis", opts)
	t.Cleanup(func() { p.Close() })
	return p, log
}

func TestSubscribeWaitsForTheAgentsFirstPublish(t *testing.T) {
	dir := t.TempDir()
	p, _ := newProvider(t, dir, Options{})
	type result struct {
		c   auth.Credentials
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, _, err := p.Subscribe(newRecorder())
		done <- result{c, err}
	}()
	w := segwriter.Start(t, dir) // the agent starts after the application
	w.Pending("redis")
	gen := w.Publish("redis", "oid-1", "token-1", far)
	r := <-done
	if r.err != nil {
		t.Fatalf("Subscribe: %v", r.err)
	}
	if u, tok := r.c.BasicAuth(); u != "oid-1" || tok != "token-1" || Generation(r.c) != gen || r.c.RawCredentials() != "token-1" {
		t.Errorf("Subscribe gave %q/%q generation %d, want oid-1/token-1 %d", u, tok, Generation(r.c), gen)
	}
}

func TestSubscribeFailsWithTheCErrorAfterItsTimeout(t *testing.T) {
	for _, tc := range []struct {
		what  string
		setup func(w *segwriter.Writer)
		want  tokenwell.Code
	}{
		{"no segment: the agent is not running", nil, tokenwell.EUNAVAILABLE},
		{"an unknown name", func(w *segwriter.Writer) { w.Publish("other", "", "x", far) }, tokenwell.ENOTFOUND},
		{"an expired value", func(w *segwriter.Writer) { w.Publish("redis", "oid", "old", 1) }, tokenwell.ENOVALUE},
		{"a value not fetched yet", func(w *segwriter.Writer) { w.Pending("redis") }, tokenwell.ENOVALUE},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(segwriter.Start(t, dir))
			}
			p, log := newProvider(t, dir, Options{Timeout: time.Nanosecond})
			if tc.want != tokenwell.EUNAVAILABLE { // the watcher has read the segment once it reports
				log.waitFor(t, tc.want.String(), func(err error) bool { return errors.Is(err, tc.want) })
			}
			_, _, err := p.Subscribe(newRecorder())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), `"redis"`) {
				t.Errorf("Subscribe: %v, want %s naming the credential", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "old") {
				t.Errorf("the error shows the expired token: %v", err)
			}
		})
	}
}

func TestEveryNewGenerationReachesEveryListenerOnce(t *testing.T) {
	dir := t.TempDir()
	w := segwriter.Start(t, dir)
	w.Publish("redis", "oid", "token-0", far)
	p, _ := newProvider(t, dir, Options{})
	a, b := newRecorder(), newRecorder()
	_, unsubA, err := p.Subscribe(a)
	if err != nil {
		t.Fatal(err)
	}
	_, unsubA2, _ := p.Subscribe(a) // the same listener again: still one subscription
	if _, _, err := p.Subscribe(b); err != nil {
		t.Fatal(err)
	}
	if p.Listeners() != 2 {
		t.Fatalf("%d listeners, want 2", p.Listeners())
	}
	for i := 1; i <= 3; i++ {
		gen := w.Publish("redis", "oid", fmt.Sprintf("token-%d", i), far)
		for _, r := range []*recorder{a, b} {
			c := r.next(t)
			if _, tok := c.BasicAuth(); tok != fmt.Sprintf("token-%d", i) || Generation(c) != gen {
				t.Fatalf("push %d: %q generation %d, want generation %d", i, tok, Generation(c), gen)
			}
		}
	}
	a.none(t)
	if err := unsubA2(); err != nil {
		t.Fatal(err)
	}
	if err := unsubA(); err != nil { // the other func of the same listener: a no-op now
		t.Fatal(err)
	}
	w.Publish("redis", "oid", "token-4", far)
	if _, tok := b.next(t).BasicAuth(); tok != "token-4" {
		t.Fatalf("b got %q", tok)
	}
	a.none(t)
}

type panicking struct{ pushes int }

func (l *panicking) OnNext(auth.Credentials) { l.pushes++; panic("listener bug") }
func (l *panicking) OnError(error)           {}

func TestAPanickingListenerStopsNeitherTheOthersNorLaterRotations(t *testing.T) {
	dir := t.TempDir()
	w := segwriter.Start(t, dir)
	w.Publish("redis", "oid", "token-0", far)
	p, log := newProvider(t, dir, Options{})
	bad, good := &panicking{}, newRecorder()
	p.Subscribe(bad)
	p.Subscribe(good)
	for i := 1; i <= 3; i++ {
		w.Publish("redis", "oid", fmt.Sprintf("token-%d", i), far)
		if _, tok := good.next(t).BasicAuth(); tok != fmt.Sprintf("token-%d", i) {
			t.Fatalf("rotation %d: got %q", i, tok)
		}
		log.waitFor(t, "the panic", func(err error) bool { return strings.Contains(err.Error(), "listener bug") })
	}
}

// manualTimers replaces the provider's retry timer: the test fires them.
type manualTimers struct {
	mu     sync.Mutex
	delays []time.Duration
	fns    []func()
}

func (m *manualTimers) afterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delays = append(m.delays, d)
	m.fns = append(m.fns, f)
	return stopper{}
}

type stopper struct{}

func (stopper) Stop() bool { return true }

func (m *manualTimers) fire(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	if len(m.fns) == 0 {
		m.mu.Unlock()
		t.Fatal("no retry was scheduled")
	}
	f := m.fns[0]
	m.fns = m.fns[1:]
	m.mu.Unlock()
	f()
}

func TestARefusedReAuthIsPushedAgainWithABoundedBackoff(t *testing.T) {
	dir := t.TempDir()
	w := segwriter.Start(t, dir)
	gen := w.Publish("redis", "oid", "token-1", far)
	p, _ := newProvider(t, dir, Options{})
	l := newRecorder()
	if _, _, err := p.Subscribe(l); err != nil { // Subscribe ran the real timer; retries use the manual one
		t.Fatal(err)
	}
	timers := &manualTimers{}
	p.mu.Lock()
	p.afterFunc = timers.afterFunc
	p.mu.Unlock()

	wrongpass := errors.New("WRONGPASS invalid username-password pair")
	for attempt := range retryBackoff {
		p.ReAuthFailed(wrongpass)
		p.ReAuthFailed(wrongpass) // a second connection refusing the same push joins the pending retry
		timers.fire(t)
		if c := l.next(t); Generation(c) != gen {
			t.Fatalf("attempt %d pushed generation %d, want %d again", attempt+1, Generation(c), gen)
		}
		l.none(t)
	}
	p.ReAuthFailed(wrongpass) // attempts used up: wait for the next rotation
	if want := retryBackoff; fmt.Sprint(timers.delays) != fmt.Sprint(want) {
		t.Errorf("retry delays %v, want %v", timers.delays, want)
	}
	next := w.Publish("redis", "oid", "token-2", far)
	if c := l.next(t); Generation(c) != next {
		t.Fatalf("the rotation pushed %d, want %d", Generation(c), next)
	}
	p.ReAuthFailed(wrongpass) // a new generation gets its own attempts
	timers.fire(t)
	if c := l.next(t); Generation(c) != next {
		t.Fatalf("the retry of the new generation pushed %d", Generation(c))
	}
}

func TestCloseStopsPushesAndSubscribes(t *testing.T) {
	dir := t.TempDir()
	w := segwriter.Start(t, dir)
	w.Publish("redis", "oid", "token-0", far)
	p, _ := newProvider(t, dir, Options{})
	l := newRecorder()
	p.Subscribe(l)
	p.Close()
	w.Publish("redis", "oid", "token-1", far)
	if _, _, err := p.Subscribe(l); !errors.Is(err, tokenwell.EINVAL) {
		t.Errorf("Subscribe after Close: %v, want EINVAL", err)
	}
	l.none(t)
}

// ---- go-redis against a real redis-server ---------------------------------

// redisServer starts redis-server on a Unix socket in a temp dir, with extra
// config lines; stopped when the test ends.
func redisServer(t *testing.T, config ...string) string {
	t.Helper()
	bin := os.Getenv("TOKENWELL_REDIS_SERVER")
	if bin == "" {
		if found, err := exec.LookPath("redis-server"); err == nil {
			bin = found
		} else {
			t.Skip("redis-server not found (TOKENWELL_REDIS_SERVER)")
		}
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	conf := fmt.Sprintf("port 0\nunixsocket %s\nsave \"\"\nappendonly no\ndir %s\n%s\n", sock, dir, strings.Join(config, "\n"))
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, confPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		if i == 1000 {
			t.Fatal("redis-server did not create its socket")
		}
		time.Sleep(10 * time.Millisecond) // a server process starting, not logic under test
	}
}

func TestPasswordOnlyCredentialAuthenticatesTheDefaultUser(t *testing.T) {
	sock := redisServer(t, "requirepass pw-token-1")
	dir := t.TempDir()
	w := segwriter.Start(t, dir)
	w.Publish("redis", "", "pw-token-1", far) // no username
	p, _ := newProvider(t, dir, Options{})
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Protocol: 3, StreamingCredentialsProvider: p})
	defer rdb.Close()
	who, err := rdb.Do(context.Background(), "ACL", "WHOAMI").Text()
	if err != nil || who != "default" {
		t.Fatalf("a password-only credential: ACL WHOAMI = %q, %v (AUTH \"\" token would be WRONGPASS)", who, err)
	}
}

// A rotation to a credential the server does not know yet (as when Redis sees
// a token a moment before it can validate it) is refused; the Hook tells the
// provider, which pushes it again, and the client moves over once the server
// accepts it -- without waiting for the next rotation.
func TestGoRedisReAuthsOnRotationAndRetriesARefusedReAuth(t *testing.T) {
	sock := redisServer(t, "user app1 on >token-1 ~* &* +@all")
	admin := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	defer admin.Close()
	dir := t.TempDir()
	w := segwriter.Start(t, dir)
	w.Publish("redis", "app1", "token-1", far)
	p, log := newProvider(t, dir, Options{})
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, PoolSize: 1, StreamingCredentialsProvider: p})
	defer rdb.Close()
	rdb.AddHook(p.Hook())
	ctx := context.Background()
	// Commands drive go-redis's re-AUTH (it runs when a connection is handed
	// back to the pool). A new connection dialed meanwhile AUTHs with the
	// newest credential and may be refused too: errors here are expected.
	whoami := func() string { who, _ := rdb.Do(ctx, "ACL", "WHOAMI").Text(); return who }
	until := func(want string) {
		t.Helper()
		for i := 0; whoami() != want; i++ {
			if i == 3000 {
				t.Fatalf("the connection never became %s", want)
			}
			time.Sleep(10 * time.Millisecond) // paces the polling commands only
		}
	}
	if who := whoami(); who != "app1" {
		t.Fatalf("first AUTH as %q", who)
	}
	// An ordinary rotation: the server knows the new credential.
	admin.Do(ctx, "ACL", "SETUSER", "app2", "on", ">token-2", "~*", "&*", "+@all")
	w.Publish("redis", "app2", "token-2", far)
	until("app2")

	// The server does not know token-3 yet: the re-AUTH is refused...
	w.Publish("redis", "app3", "token-3", far)
	for refused := false; !refused; {
		select {
		case err := <-log.ch:
			refused = strings.Contains(err.Error(), "refused")
		case <-time.After(10 * time.Millisecond):
			whoami()
		case <-time.After(30 * time.Second):
			t.Fatal("the provider never heard of the refused re-AUTH")
		}
	}
	// ...then it knows it, and the client moves over before any next rotation
	// (by the pushed-again generation, or a connection go-redis dialed anew:
	// the pool decides; TestARefusedReAuthIsPushedAgainWithABoundedBackoff
	// checks the pushes themselves).
	admin.Do(ctx, "ACL", "SETUSER", "app3", "on", ">token-3", "~*", "&*", "+@all")
	until("app3")
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("after the rotations: %v", err)
	}
}
