package bus

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// NewServer builds the *grpc.Server a daemon serves on its socket (see
// [Listen]). It records each client's peer credentials when it connects and
// refuses every call from a client that is neither root nor in the access
// group with PermissionDenied, so the client reads why rather than seeing a
// closed connection. socket names the socket in that message.
func NewServer(socket string, logger *slog.Logger, opts ...SocketOption) *grpc.Server {
	cfg := newSocketConfig(opts)
	logger = orDiscard(logger)
	policy := accessPolicy{socket: socket, accessGroup: cfg.accessGroup, lookupGroup: cfg.lookupGroup}
	check := func(ctx context.Context, method string) error {
		err := authorized(ctx)
		if err != nil {
			who, _ := PeerFromContext(ctx)
			logger.Warn("refused a bus call", "socket", socket, "method", method, "pid", who.PID, "uid", who.UID,
				"gid", who.GID)
		}
		return err
	}
	serverOpts := []grpc.ServerOption{
		grpc.Creds(&peerCredentials{policy: policy}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo,
			handler grpc.UnaryHandler) (any, error) {
			if err := check(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, stream grpc.ServerStream, info *grpc.StreamServerInfo,
			handler grpc.StreamHandler) error {
			if err := check(stream.Context(), info.FullMethod); err != nil {
				return err
			}
			return handler(srv, stream)
		}),
	}
	return grpc.NewServer(append(serverOpts, cfg.grpcOptions...)...)
}

// PeerInfo is the credentials.AuthInfo of a connection to a [NewServer]
// server.
type PeerInfo struct {
	credentials.CommonAuthInfo
	Peer Peer
	// denied is the access decision, made once per connection.
	denied error
}

// AuthType implements credentials.AuthInfo.
func (PeerInfo) AuthType() string { return "peercred" }

// PeerFromContext returns the credentials of the client making a call to a
// [NewServer] server, e.g. to log who asked for a reset.
func PeerFromContext(ctx context.Context) (Peer, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Peer{}, false
	}
	info, ok := p.AuthInfo.(PeerInfo)
	return info.Peer, ok
}

// authorized returns the access decision for the connection of a call.
func authorized(ctx context.Context) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.PermissionDenied, "no peer credentials for this call")
	}
	info, ok := p.AuthInfo.(PeerInfo)
	if !ok {
		return status.Error(codes.PermissionDenied, "no peer credentials for this call")
	}
	return info.denied
}

// peerCredentials is a server-side credentials.TransportCredentials that
// does no encryption (the socket never leaves the host) but records who is
// connecting and whether the policy lets them in.
type peerCredentials struct {
	policy accessPolicy
}

func (c *peerCredentials) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	who, err := peerOf(conn)
	if err != nil {
		return nil, nil, err
	}
	info := PeerInfo{
		// A unix socket is as private as the host: the same level grpc's
		// own local credentials give it.
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		Peer:           who,
		denied:         c.policy.authorize(who),
	}
	return conn, info, nil
}

func (c *peerCredentials) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errServerSideOnly
}

func (c *peerCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

func (c *peerCredentials) Clone() credentials.TransportCredentials {
	clone := *c
	return &clone
}

func (c *peerCredentials) OverrideServerName(string) error { return nil }

var errServerSideOnly = errors.New("peer credentials are for servers: clients dial with bus.Dial")
