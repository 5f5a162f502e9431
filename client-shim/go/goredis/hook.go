package goredis

import (
	"context"
	"net"

	"github.com/redis/go-redis/v9"
)

// Hook returns a go-redis hook that tells the provider when the server
// refused an AUTH or HELLO ... AUTH (say WRONGPASS because it saw the new
// token a moment before it could validate it), so the provider pushes that
// generation again instead of leaving the connection on the old token until
// the next rotation. go-redis runs its re-AUTH commands through the client's
// hooks, but reports their failure only to its log: this hook is how the
// provider learns of it.
//
//	rdb.AddHook(p.Hook())                                                  // a Client
//	cluster.OnNewNode(func(node *redis.Client) { node.AddHook(p.Hook()) }) // a ClusterClient, before its first command
func (p *Provider) Hook() redis.Hook { return reAuthHook{p} }

type reAuthHook struct{ p *Provider }

func (h reAuthHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

func (h reAuthHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && isAuthCommand(cmd) {
			h.p.ReAuthFailed(err)
		}
		return err
	}
}

func (h reAuthHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func isAuthCommand(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "auth":
		return true
	case "hello":
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && (s == "auth" || s == "AUTH") {
				return true
			}
		}
	}
	return false
}
