// Command redis-e2e-client is the Go end-to-end client of
// tests/redis/clients.md: go-redis v9 with the tokenwell provider
// (tokenwell.io/tokenwell/goredis) against the strict Azure Redis stand-in,
// for --duration seconds, as an application would run it:
//
//	writer      INCR/SET/GET, PUBLISH seq, RPUSH seq on a pooled Client
//	subscriber  SUBSCRIBE; on each new generation it subscribes a new
//	            connection, then closes the old one (go-redis never re-AUTHs
//	            a subscribed connection: it is not in the pool)
//	blpop       BLPOP with a 1 s timeout on the pooled Client
//	cluster     SET/GET over keys on every master with a ClusterClient
//
// With --no-reauth every connection AUTHs with the credential read at start
// and never again (static Username/Password, as code that ignores rotation):
// the stand-in drops it when that token expires, and the failures are counted.
// Prints one JSON object on the last line; exit 0 (the harness judges), 2 on
// bad arguments.
//
//	redis-e2e-client --dir DIR --host H --port P --cluster-host H --cluster-port P
//	                 --duration S [--name redis] [--tag T] [--no-reauth]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/auth"

	"tokenwell.io/tokenwell"
	"tokenwell.io/tokenwell/goredis"
)

type result struct {
	Client          string `json:"client"`
	Reauth          bool   `json:"reauth"`
	CommandsOK      int64  `json:"commands_ok"`
	CommandsFailed  int64  `json:"commands_failed"`
	FirstError      string `json:"first_error"`
	Reauths         int64  `json:"reauths"`
	Reconnects      int64  `json:"reconnects"`
	Published       int64  `json:"published"`
	SubReceived     int64  `json:"sub_received"`
	SubDuplicates   int64  `json:"sub_duplicates"`
	Resubscriptions int64  `json:"resubscriptions"`
	BlpopReceived   int64  `json:"blpop_received"`
	ClusterOK       int64  `json:"cluster_ok"`
	ClusterFailed   int64  `json:"cluster_failed"`
	Moved           int64  `json:"moved"`
	FirstGeneration uint64 `json:"first_generation"`
	LastGeneration  uint64 `json:"last_generation"`
	Notes           string `json:"notes"`
}

// counts are the result's counters, shared by the workers.
type counts struct {
	ok, failed, reauths, dials, published, subReceived, subDuplicates, resubscriptions,
	blpopReceived, clusterOK, clusterFailed, moved atomic.Int64
	mu         sync.Mutex
	firstError string
	subSeen    map[int64]bool
	blpopSeen  map[int64]bool
}

func (c *counts) fail(counter *atomic.Int64, what string, err error) {
	counter.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstError == "" {
		c.firstError = what + ": " + err.Error()
	}
}

// seen records seq in set; false when it was there already.
func (c *counts) seen(set map[int64]bool, seq int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if set[seq] {
		return false
	}
	set[seq] = true
	return true
}

// observer is a hook on every client: it counts dials, re-AUTHs and MOVED
// redirections, and hands refused AUTHs to the provider (its Hook).
type observer struct {
	counts   *counts
	provider redis.Hook
}

func (o observer) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err == nil {
			o.counts.dials.Add(1)
		}
		return conn, err
	}
}

func (o observer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		switch {
		case err == nil && cmd.Name() == "auth":
			o.counts.reauths.Add(1) // go-redis AUTHs only to re-authenticate (a new connection says HELLO)
		case err != nil && strings.HasPrefix(err.Error(), "MOVED "):
			o.counts.moved.Add(1)
		}
		return err
	}
}

func (o observer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (o observer) attach(rdb *redis.Client) {
	rdb.AddHook(o)
	if o.provider != nil {
		rdb.AddHook(o.provider)
	}
}

// generationListener turns the provider's pushes into a channel for the subscriber.
type generationListener struct{ ch chan uint64 }

func (l *generationListener) OnNext(c auth.Credentials) {
	select {
	case l.ch <- goredis.Generation(c):
	default: // the subscriber is behind; it re-reads the newest anyway
	}
}
func (l *generationListener) OnError(error) {}

type config struct {
	dir, name, tag, host, clusterHost string
	port, clusterPort                 int
	duration                          time.Duration
	reauth                            bool
}

func parseArgs(args []string) (config, error) {
	fs := flag.NewFlagSet("redis-e2e-client", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c config
	var noReauth bool
	var seconds float64
	fs.StringVar(&c.dir, "dir", "", "")
	fs.StringVar(&c.name, "name", "redis", "")
	fs.StringVar(&c.tag, "tag", "go", "")
	fs.StringVar(&c.host, "host", "", "")
	fs.IntVar(&c.port, "port", 0, "")
	fs.StringVar(&c.clusterHost, "cluster-host", "", "")
	fs.IntVar(&c.clusterPort, "cluster-port", 0, "")
	fs.Float64Var(&seconds, "duration", 0, "")
	fs.BoolVar(&noReauth, "no-reauth", false, "")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unknown argument %s", fs.Arg(0))
	}
	if c.host == "" || c.port == 0 || c.clusterHost == "" || c.clusterPort == 0 || seconds <= 0 {
		return c, errors.New("--host, --port, --cluster-host, --cluster-port and --duration are needed")
	}
	c.duration = time.Duration(seconds * float64(time.Second))
	c.reauth = !noReauth
	return c, nil
}

func main() {
	cfg, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "redis-e2e-client: %v\n", err)
		os.Exit(2)
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "redis-e2e-client: %v\n", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func generation(tw *tokenwell.Client, name string) uint64 {
	e, _ := tw.Stat(name)
	return e.Generation
}

func run(cfg config) (result, error) {
	tw, err := tokenwell.Open(cfg.dir)
	if err != nil {
		return result{}, err
	}
	defer tw.Close()
	provider := goredis.NewProvider(cfg.name, goredis.Options{Dir: cfg.dir,
		OnError: func(err error) { fmt.Fprintf(os.Stderr, "redis-e2e-client: provider: %v\n", err) }})
	defer provider.Close()

	c := &counts{subSeen: map[int64]bool{}, blpopSeen: map[int64]bool{}}
	obs := observer{counts: c}
	opts := &redis.Options{Addr: net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))}
	clusterOpts := &redis.ClusterOptions{Addrs: []string{net.JoinHostPort(cfg.clusterHost, strconv.Itoa(cfg.clusterPort))}}
	if cfg.reauth {
		obs.provider = provider.Hook()
		opts.StreamingCredentialsProvider = provider
		clusterOpts.StreamingCredentialsProvider = provider
	} else {
		creds, err := provider.Credentials() // read once, never again
		if err != nil {
			return result{}, err
		}
		opts.Username, opts.Password = creds.BasicAuth()
		clusterOpts.Username, clusterOpts.Password = opts.Username, opts.Password
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	obs.attach(rdb)
	cluster := redis.NewClusterClient(clusterOpts)
	defer cluster.Close()
	cluster.OnNewNode(obs.attach)

	key := "tw-e2e-" + cfg.tag + "-key"
	list := "tw-e2e-" + cfg.tag + "-list"
	channel := "tw-e2e-" + cfg.tag + "-channel"
	first := generation(tw, cfg.name)
	end := time.Now().Add(cfg.duration)
	var writerDone atomic.Bool
	var wg sync.WaitGroup
	subscribed := make(chan struct{})
	wg.Add(2)
	go func() { defer wg.Done(); subscriber(cfg, rdb, provider, c, channel, &writerDone, subscribed) }()
	go func() { defer wg.Done(); blpopReader(rdb, c, list, &writerDone) }()
	<-subscribed // the first SUBSCRIBE is in place before the first PUBLISH
	wg.Add(2)
	go func() { defer wg.Done(); writer(rdb, c, key, channel, list, end); writerDone.Store(true) }()
	go func() { defer wg.Done(); clusterWorker(cluster, c, key, end) }()
	wg.Wait()

	clients := int64(2) // the pooled Client and the first subscription
	res := result{
		Client: "go-redis", Reauth: cfg.reauth,
		CommandsOK: c.ok.Load(), CommandsFailed: c.failed.Load(), FirstError: c.firstError,
		Reauths: c.reauths.Load() + c.resubscriptions.Load(), Reconnects: max(0, c.dials.Load()-clients),
		Published: c.published.Load(), SubReceived: c.subReceived.Load(), SubDuplicates: c.subDuplicates.Load(),
		Resubscriptions: c.resubscriptions.Load(), BlpopReceived: c.blpopReceived.Load(),
		ClusterOK: c.clusterOK.Load(), ClusterFailed: c.clusterFailed.Load(), Moved: c.moved.Load(),
		FirstGeneration: first, LastGeneration: generation(tw, cfg.name),
		Notes: "go-redis " + redis.Version() + "; pooled connections re-AUTH through the streaming provider; " +
			"the subscriber subscribes a new connection on each rotation, then closes the old one; " +
			"reconnects counts connections dialed beyond the first two, on the server and the cluster; " +
			"moved stays 0: the ClusterClient routes by CLUSTER SLOTS",
	}
	if !cfg.reauth {
		res.Notes = "go-redis " + redis.Version() + " with the credential read at start as a static Username/Password"
	}
	return res, nil
}

func writer(rdb *redis.Client, c *counts, key, channel, list string, end time.Time) {
	ctx := context.Background()
	do := func(cmd redis.Cmder) bool {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			c.fail(&c.failed, strings.Join(strings.Fields(fmt.Sprint(cmd.Args()[0])), " "), err)
			return false
		}
		c.ok.Add(1)
		return true
	}
	for seq := int64(1); time.Now().Before(end); seq++ {
		do(rdb.Incr(ctx, key+"-counter"))
		do(rdb.Set(ctx, key, seq, 0))
		do(rdb.Get(ctx, key))
		if do(rdb.Publish(ctx, channel, seq)) {
			c.published.Add(1)
		}
		do(rdb.RPush(ctx, list, seq))
		time.Sleep(20 * time.Millisecond) // pacing only: a steady stream of commands
	}
}

// drained: the writer is done and everything it published arrived, or 5 s passed.
func drained(writerDone *atomic.Bool, got, published *atomic.Int64, since *time.Time) bool {
	if !writerDone.Load() {
		return false
	}
	if since.IsZero() {
		*since = time.Now()
	}
	return got.Load() >= published.Load() || time.Since(*since) > 5*time.Second
}

func blpopReader(rdb *redis.Client, c *counts, list string, writerDone *atomic.Bool) {
	ctx := context.Background()
	var drainStart time.Time
	for !drained(writerDone, &c.blpopReceived, &c.published, &drainStart) {
		vals, err := rdb.BLPop(ctx, time.Second, list).Result()
		if errors.Is(err, redis.Nil) {
			c.ok.Add(1)
			continue
		}
		if err != nil {
			c.fail(&c.failed, "BLPOP", err)
			continue
		}
		c.ok.Add(1)
		if seq, err := strconv.ParseInt(vals[1], 10, 64); err == nil && c.seen(c.blpopSeen, seq) {
			c.blpopReceived.Add(1)
		}
	}
}

// subscription is one SUBSCRIBE connection and the goroutine reading it.
type subscription struct {
	ps   *redis.PubSub
	done chan struct{}
}

func subscribe(ctx context.Context, rdb *redis.Client, c *counts, channel string, reauth bool) (*subscription, error) {
	ps := rdb.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil { // the subscribe confirmation
		ps.Close()
		return nil, err
	}
	s := &subscription{ps: ps, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				if !errors.Is(err, redis.ErrClosed) && !errors.Is(err, net.ErrClosed) {
					c.fail(&c.failed, "subscriber connection", err)
					if !reauth {
						// go-redis reconnects (with the static credential) on the next receive
						time.Sleep(100 * time.Millisecond)
						continue
					}
				}
				return
			}
			seq, err := strconv.ParseInt(msg.Payload, 10, 64)
			if err != nil {
				continue
			}
			if c.seen(c.subSeen, seq) {
				c.subReceived.Add(1)
			} else {
				c.subDuplicates.Add(1)
			}
		}
	}()
	return s, nil
}

func (s *subscription) close() {
	s.ps.Close()
	<-s.done
}

func subscriber(cfg config, rdb *redis.Client, provider *goredis.Provider, c *counts, channel string,
	writerDone *atomic.Bool, subscribed chan<- struct{}) {
	ctx := context.Background()
	rotations := &generationListener{ch: make(chan uint64, 1)}
	if cfg.reauth {
		if _, unsubscribe, err := provider.Subscribe(rotations); err == nil {
			defer unsubscribe()
		}
	}
	var sub *subscription
	for sub == nil {
		var err error
		if sub, err = subscribe(ctx, rdb, c, channel, cfg.reauth); err != nil {
			c.fail(&c.failed, "SUBSCRIBE", err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	close(subscribed)
	var drainStart time.Time
	for !drained(writerDone, &c.subReceived, &c.published, &drainStart) {
		select {
		case <-rotations.ch:
			// Make before break: the new subscription is in place (and
			// AUTHed with the new token) before the old one goes.
			fresh, err := subscribe(ctx, rdb, c, channel, cfg.reauth)
			if err != nil {
				c.fail(&c.failed, "SUBSCRIBE", err)
				continue
			}
			sub.close()
			sub = fresh
			c.resubscriptions.Add(1)
		case <-time.After(200 * time.Millisecond):
		}
	}
	sub.close()
}

func clusterWorker(cluster *redis.ClusterClient, c *counts, key string, end time.Time) {
	ctx := context.Background()
	for i := 0; time.Now().Before(end); i++ {
		k := fmt.Sprintf("%s:%d", key, i%300) // 300 keys: every master owns some
		if err := cluster.Set(ctx, k, i, 0).Err(); err != nil {
			c.fail(&c.clusterFailed, "cluster SET", err)
		} else {
			c.clusterOK.Add(1)
		}
		if err := cluster.Get(ctx, k).Err(); err != nil {
			c.fail(&c.clusterFailed, "cluster GET", err)
		} else {
			c.clusterOK.Add(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
