// Package goredis is a go-redis v9 StreamingCredentialsProvider over the
// tokenwell segment: every pooled connection AUTHs with the current token
// and re-AUTHs when the agent publishes a new one, without an IdP call or a
// socket in the application.
//
//	p := goredis.NewProvider("redis", goredis.Options{})
//	defer p.Close()
//	rdb := redis.NewClient(&redis.Options{Addr: addr, StreamingCredentialsProvider: p})
//	rdb.AddHook(p.Hook()) // retry a re-AUTH the server refused
//
// Rotation reaches the provider through the segment's futex (FUTEX_WAIT on
// the credential's gen_futex): one goroutine per provider sleeps in the
// kernel until the agent publishes, then pushes the new credentials to every
// subscribed connection's listener.
package goredis

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9/auth"

	"tokenwell.io/tokenwell"
)

// Options of a Provider; the zero value is the default.
type Options struct {
	// Dir is the agent's runtime directory: "" means $TOKENWELL_DIR, else /run/tokenwell.
	Dir string
	// Timeout bounds how long Subscribe waits for the segment to appear and
	// hold a valid value (an application may start before the agent's first
	// publish). Default 30 s.
	Timeout time.Duration
	// OnError, if set, hears what the provider cannot hand to go-redis: the
	// segment going missing or malformed, a credential expiring with no newer
	// one, a listener that panicked, a re-AUTH the server refused. The
	// provider keeps going after each. It never gets a secret.
	OnError func(error)
}

const (
	defaultTimeout = 30 * time.Second
	// How often the watcher looks for a segment that does not exist yet
	// (one failed open: cheap), and the longest it sleeps in the futex
	// before checking whether the provider was closed.
	pollInterval = 250 * time.Millisecond
	waitSlice    = 500 * time.Millisecond
)

// retryBackoff is when a generation whose re-AUTH was refused is pushed
// again: a few short steps, then the provider waits for the next rotation.
var retryBackoff = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2 * time.Second, 4 * time.Second}

// credentials implements auth.Credentials for one generation.
type credentials struct {
	username, token string
	generation      uint64
	expiresAt       int64
}

// BasicAuth returns the username and the token. An empty username means
// password-only AUTH: go-redis then sends AUTH token / HELLO 3 AUTH default token.
func (c *credentials) BasicAuth() (string, string) { return c.username, c.token }

// RawCredentials is the token (the JWT for Entra ID credentials).
func (c *credentials) RawCredentials() string { return c.token }

func (c *credentials) expired(now time.Time) bool {
	return c.expiresAt != 0 && c.expiresAt <= now.Unix()
}

// Generation of a credential a provider handed out: the segment's generation
// of that value (0 for credentials that did not come from a Provider).
func Generation(c auth.Credentials) uint64 {
	if cc, ok := c.(*credentials); ok {
		return cc.generation
	}
	return 0
}

// Provider is a go-redis auth.StreamingCredentialsProvider for one
// credential of the tokenwell agent. Safe for concurrent use. One Provider
// can serve any number of clients (a Client, a ClusterClient, a pub/sub).
type Provider struct {
	name string
	opts Options

	mu        sync.Mutex
	changed   *sync.Cond // broadcast when current or lastErr change, and on Close
	listeners []auth.CredentialsListener
	current   *credentials // the newest valid value seen; nil before the first
	lastErr   error        // why there is no valid value, for Subscribe's error
	closed    bool
	retry     retryState

	pushMu sync.Mutex // one push at a time, in generation order
	stop   chan struct{}
	done   chan struct{}

	// Injected in tests: when the retry timer fires.
	afterFunc func(time.Duration, func()) interface{ Stop() bool }
	now       func() time.Time
}

// retryState: the generation whose re-AUTH was refused and the attempts so far.
type retryState struct {
	generation uint64
	attempts   int
	pending    bool
}

var _ auth.StreamingCredentialsProvider = (*Provider)(nil)

// NewProvider watches credential name of the agent in opts.Dir. It never
// blocks and never fails: a missing segment or name is waited for, and
// Subscribe reports it after opts.Timeout. Close stops the watcher.
func NewProvider(name string, opts Options) *Provider {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	p := &Provider{name: name, opts: opts, stop: make(chan struct{}), done: make(chan struct{}),
		afterFunc: func(d time.Duration, f func()) interface{ Stop() bool } { return time.AfterFunc(d, f) },
		now:       time.Now,
		lastErr:   &tokenwell.Error{Code: tokenwell.EUNAVAILABLE, Op: "open", Name: tokenwell.Dir(opts.Dir)}}
	p.changed = sync.NewCond(&p.mu)
	go p.watch()
	return p
}

// Close stops the watcher and fails later Subscribes; current listeners get
// no more pushes. It waits for the watcher to exit (at most ~0.5 s).
func (p *Provider) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.listeners = nil
	close(p.stop)
	p.changed.Broadcast()
	p.mu.Unlock()
	<-p.done
	return nil
}

// Subscribe implements auth.StreamingCredentialsProvider: it returns the
// current credentials (waiting up to Options.Timeout for a valid value) and
// adds listener to those that get every new generation. Subscribing the same
// listener again adds nothing; every UnsubscribeFunc returned for it removes
// it, and calling one again is a no-op.
func (p *Provider) Subscribe(listener auth.CredentialsListener) (auth.Credentials, auth.UnsubscribeFunc, error) {
	if listener == nil {
		return nil, nil, &tokenwell.Error{Code: tokenwell.EINVAL, Op: "subscribe", Name: p.name}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Waiting and adding under one lock: a publish either happened before
	// (its value is returned here, not pushed again) or comes after (pushed).
	creds, err := p.waitForValidLocked()
	if err != nil {
		return nil, nil, err
	}
	if !p.subscribedLocked(listener) {
		p.listeners = append(p.listeners, listener)
	}
	return creds, func() error { p.unsubscribe(listener); return nil }, nil
}

// Credentials returns the current valid credentials, waiting like Subscribe
// but subscribing nothing (for a connection that AUTHs once, or a check).
func (p *Provider) Credentials() (auth.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.waitForValidLocked()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// waitForValidLocked waits (p.mu held) up to Options.Timeout for a valid value.
func (p *Provider) waitForValidLocked() (*credentials, error) {
	if c := p.current; c != nil && !p.closed && !c.expired(p.now()) {
		return c, nil
	}
	deadline := p.now().Add(p.opts.Timeout)
	timer := p.afterFunc(p.opts.Timeout, func() {
		p.mu.Lock()
		p.changed.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	for {
		if p.closed {
			return nil, &tokenwell.Error{Code: tokenwell.EINVAL, Op: "subscribe", Name: p.name,
				Err: errors.New("provider closed")}
		}
		if c := p.current; c != nil && !c.expired(p.now()) {
			return c, nil
		}
		if !p.now().Before(deadline) {
			return nil, fmt.Errorf("tokenwell: no valid credential %q within %s: %w", p.name, p.opts.Timeout, p.lastErr)
		}
		p.changed.Wait()
	}
}

// listenersEqual compares listeners the way the interface contract asks
// (identity), without panicking on a listener of an uncomparable type.
func listenersEqual(a, b auth.CredentialsListener) bool {
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) || !ta.Comparable() {
		return false
	}
	return a == b
}

func (p *Provider) subscribedLocked(l auth.CredentialsListener) bool {
	for _, have := range p.listeners {
		if listenersEqual(have, l) {
			return true
		}
	}
	return false
}

func (p *Provider) unsubscribe(l auth.CredentialsListener) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, have := range p.listeners {
		if listenersEqual(have, l) {
			p.listeners = append(p.listeners[:i:i], p.listeners[i+1:]...)
			return
		}
	}
}

// Listeners is how many listeners are subscribed (one per pooled connection).
func (p *Provider) Listeners() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.listeners)
}

func (p *Provider) report(err error) {
	if p.opts.OnError == nil || err == nil {
		return
	}
	defer func() { _ = recover() }() // the provider outlives a panicking OnError too
	p.opts.OnError(err)
}

// watch is the provider's one goroutine: it opens the segment (waiting for
// it to exist), then sleeps on the credential's futex and publishes every
// new valid generation. It never gives up while the provider is open.
func (p *Provider) watch() {
	defer close(p.done)
	var client *tokenwell.Client
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	var seen uint64 // the newest generation read (valid or not)
	var lastCode tokenwell.Code = -1
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		if client == nil {
			c, err := tokenwell.Open(p.opts.Dir)
			if err != nil {
				p.setError(err, &lastCode)
				p.sleep(pollInterval)
				continue
			}
			client = c
		}
		cred, err := client.Read(p.name)
		switch {
		case err == nil && cred.Generation != seen:
			seen = cred.Generation
			lastCode = tokenwell.OK
			p.publish(&credentials{username: cred.Username, token: cred.Token, generation: cred.Generation,
				expiresAt: cred.ExpiresAt})
		case err != nil:
			p.setError(err, &lastCode)
			if tokenwell.CodeOf(err) == tokenwell.ENOVALUE {
				seen = cred.Generation // wait for a newer one than the expired or pending value
			}
		}
		if _, werr := client.Wait(p.name, seen, waitSlice); werr != nil &&
			tokenwell.CodeOf(werr) != tokenwell.ETIMEOUT {
			p.setError(werr, &lastCode)
			p.sleep(pollInterval)
		}
	}
}

func (p *Provider) sleep(d time.Duration) {
	select {
	case <-p.stop:
	case <-time.After(d):
	}
}

// setError records why there is no valid value now; OnError hears each new
// kind of trouble once, not every poll.
func (p *Provider) setError(err error, lastCode *tokenwell.Code) {
	p.mu.Lock()
	p.lastErr = err
	p.changed.Broadcast()
	p.mu.Unlock()
	if code := tokenwell.CodeOf(err); code != *lastCode {
		*lastCode = code
		p.report(err)
	}
}

// publish makes c the current credentials and pushes it to the listeners
// subscribed before (later ones got c from Subscribe).
func (p *Provider) publish(c *credentials) {
	p.mu.Lock()
	p.current = c
	p.retry = retryState{generation: c.generation}
	listeners := slices.Clone(p.listeners)
	p.changed.Broadcast()
	p.mu.Unlock()
	p.push(c, listeners)
}

// push hands c to each of listeners, in order, one push at a time. A
// listener that panics is reported and skipped; the others and later pushes
// go on.
func (p *Provider) push(c *credentials, listeners []auth.CredentialsListener) {
	p.pushMu.Lock()
	defer p.pushMu.Unlock()
	p.mu.Lock()
	stale := p.current != c || p.closed // a newer generation overtook this push
	p.mu.Unlock()
	if stale {
		return
	}
	for _, l := range listeners {
		p.callListener(l, c)
	}
}

func (p *Provider) callListener(l auth.CredentialsListener, c *credentials) {
	defer func() {
		if r := recover(); r != nil {
			p.report(fmt.Errorf("tokenwell: a credentials listener panicked on generation %d of %q: %v",
				c.generation, p.name, r))
		}
	}()
	l.OnNext(c)
}

// ReAuthFailed tells the provider that a connection refused the current
// credentials (go-redis reports a failed re-AUTH only to its own log; the
// Hook calls this). The current generation is pushed to every listener
// again after a short backoff (0.25, 0.5, 1, 2, 4 s), until a newer
// generation arrives or the attempts run out. Refusals that arrive while a
// retry is pending join it.
func (p *Provider) ReAuthFailed(err error) {
	p.mu.Lock()
	c := p.current
	if c == nil || p.closed || p.retry.pending || p.retry.generation != c.generation ||
		p.retry.attempts >= len(retryBackoff) {
		p.mu.Unlock()
		return
	}
	delay := retryBackoff[p.retry.attempts]
	p.retry.attempts++
	p.retry.pending = true
	attempt := p.retry.attempts
	p.mu.Unlock()
	p.report(fmt.Errorf("tokenwell: re-AUTH with generation %d of %q refused, pushing it again in %s (attempt %d of %d): %w",
		c.generation, p.name, delay, attempt, len(retryBackoff), err))
	p.afterFunc(delay, func() {
		p.mu.Lock()
		p.retry.pending = false
		listeners := slices.Clone(p.listeners)
		p.mu.Unlock()
		p.push(c, listeners)
	})
}
