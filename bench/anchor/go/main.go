// Command anchor-client MODE is one application process of the side-by-side
// comparison for Go (bench/anchor/compare.js --go-client starts 8 of each):
// go-redis v9 issuing SET/GET every 100 ms through the strict Redis,
// authenticated either by
//
//	tokenwell  the Go binding's provider over the pod's one tokenwell-agent, or
//	entraid    go-redis-entraid's own token manager with azidentity's
//	           DefaultAzureCredential (EnvironmentCredential: client secret),
//	           pointed at the Entra stand-in without patching: the cloud's
//	           authority host (ClientOptions.Cloud), DisableInstanceDiscovery,
//	           and SSL_CERT_FILE for the stand-in's CA.
//
// Prints one JSON line a second, as bench/anchor/client.js does:
// {ok, failed, errors: {text: n}, authErrors, retryable, reconnects, idpCalls}.
// Environment: REDIS_SOCKET, and TOKENWELL_DIR or STANDIN_JSON +
// ENTRAID_CLIENT_ID + ENTRAID_SECRET_FILE (+ SSL_CERT_FILE).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	entraid "github.com/redis/go-redis-entraid"
	"github.com/redis/go-redis-entraid/identity"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/auth"

	"tokenwell.io/tokenwell/goredis"
)

type counts struct {
	mu         sync.Mutex
	OK         int64            `json:"ok"`
	Failed     int64            `json:"failed"`
	Errors     map[string]int64 `json:"errors"`
	AuthErrors int64            `json:"authErrors"`
	Retryable  int64            `json:"retryable"`
	Reconnects int64            `json:"reconnects"`
	IdPCalls   int64            `json:"idpCalls"`
	Fatal      string           `json:"fatal,omitempty"`
}

var tokenPattern = regexp.MustCompile(`eyJ[\w.-]+`)

func (c *counts) note(err error) {
	text := tokenPattern.ReplaceAllString(err.Error(), "<token>")
	if len(text) > 120 {
		text = text[:120]
	}
	c.mu.Lock()
	c.Errors[text]++
	c.mu.Unlock()
}

func (c *counts) print() {
	c.mu.Lock()
	out, _ := json.Marshal(c)
	c.mu.Unlock()
	fmt.Println(string(out))
}

// observer counts connections dialed and refused AUTH/HELLO commands.
type observer struct {
	c     *counts
	dials atomic.Int64
}

func (o *observer) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err == nil && o.dials.Add(1) > 1 {
			o.c.mu.Lock()
			o.c.Reconnects++
			o.c.mu.Unlock()
		}
		return conn, err
	}
}

func (o *observer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && (cmd.Name() == "auth" || cmd.Name() == "hello") {
			o.c.mu.Lock()
			o.c.AuthErrors++
			o.c.mu.Unlock()
			o.c.note(err)
		}
		return err
	}
}

func (o *observer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// countingTransport counts the HTTP requests azidentity makes (ClientOptions.Transport).
type countingTransport struct {
	c    *counts
	http *http.Client
}

func (t countingTransport) Do(req *http.Request) (*http.Response, error) {
	t.c.mu.Lock()
	t.c.IdPCalls++
	t.c.mu.Unlock()
	return t.http.Do(req)
}

func entraidProvider(c *counts) (auth.StreamingCredentialsProvider, error) {
	raw, err := os.ReadFile(os.Getenv("STANDIN_JSON"))
	if err != nil {
		return nil, err
	}
	var s struct {
		BaseURL string `json:"base_url"`
		Tenant  string `json:"tenant"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	secret, err := os.ReadFile(os.Getenv("ENTRAID_SECRET_FILE"))
	if err != nil {
		return nil, err
	}
	// EnvironmentCredential's variables, as a deployment would set them.
	os.Setenv("AZURE_TENANT_ID", s.Tenant)
	os.Setenv("AZURE_CLIENT_ID", os.Getenv("ENTRAID_CLIENT_ID"))
	os.Setenv("AZURE_CLIENT_SECRET", strings.TrimSpace(string(secret)))
	return entraid.NewDefaultAzureCredentialsProvider(entraid.DefaultAzureCredentialsProviderOptions{
		DefaultAzureIdentityProviderOptions: identity.DefaultAzureIdentityProviderOptions{
			AzureOptions: &azidentity.DefaultAzureCredentialOptions{
				ClientOptions: policy.ClientOptions{
					Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.BaseURL},
					Transport: countingTransport{c: c, http: &http.Client{Timeout: 30 * time.Second}},
				},
				DisableInstanceDiscovery: true,
				TenantID:                 s.Tenant,
			},
		},
	})
}

func main() {
	mode := ""
	if len(os.Args) == 2 {
		mode = os.Args[1]
	}
	c := &counts{Errors: map[string]int64{}}
	var provider auth.StreamingCredentialsProvider
	obs := &observer{c: c}
	var hooks []redis.Hook
	switch mode {
	case "tokenwell":
		p := goredis.NewProvider("redis", goredis.Options{OnError: c.note})
		defer p.Close()
		provider = p
		hooks = append(hooks, p.Hook())
	case "entraid":
		p, err := entraidProvider(c)
		if err != nil {
			c.Fatal = err.Error()
			c.print()
			os.Exit(1)
		}
		provider = p
	default:
		fmt.Fprintf(os.Stderr, "anchor-client: mode must be tokenwell or entraid, got %q\n", mode)
		os.Exit(2)
	}
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: os.Getenv("REDIS_SOCKET"), Protocol: 3,
		StreamingCredentialsProvider: provider, MaxRetries: -1}) // every rejected command counts, as node-redis's do
	defer rdb.Close()
	rdb.AddHook(obs)
	for _, h := range hooks {
		rdb.AddHook(h)
	}

	// SIGTERM ends the process with a last report even when a command hangs
	// (go-redis-entraid 1.0.6 can deadlock in Subscribe; see docs/benchmarks-anchor.md).
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		c.print()
		os.Exit(0)
	}()
	report := time.NewTicker(time.Second)
	defer report.Stop()
	ctx := context.Background()
	key := fmt.Sprintf("%s:%d", mode, os.Getpid())
	for i := 0; ; i++ {
		err := rdb.Set(ctx, key, i, 0).Err()
		if err == nil {
			err = rdb.Get(ctx, key).Err()
		}
		c.mu.Lock()
		if err == nil {
			c.OK += 2
		} else {
			c.Failed++
		}
		c.mu.Unlock()
		if err != nil {
			c.note(err)
		}
		select {
		case <-report.C:
			c.print()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
