package recognizer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	recognizerv1 "github.com/facecluster/facecluster/api/gen/facecluster/recognizer/v1"
)

// MaxMessageBytes bounds gRPC messages both ways: an image sent as bytes (uploads are limited
// well below this by the receiver) or a response with many faces.
const MaxMessageBytes = 64 << 20

// DefaultMaxConnectionAge is how long a recognizer keeps a client connection before asking the
// client to reconnect. grpc-go's dns resolver looks the name up again only when a connection
// ends, so without an age limit the recognizer pods added by scaling up would never get traffic
// from processors already running.
const DefaultMaxConnectionAge = 30 * time.Second

// ServerOptions are the gRPC server options a recognizer runs with: message limits both ways and
// connections that end gracefully after maxConnectionAge (0 = DefaultMaxConnectionAge), so that
// clients re-resolve and spread over new replicas.
func ServerOptions(maxConnectionAge time.Duration) []grpc.ServerOption {
	if maxConnectionAge <= 0 {
		maxConnectionAge = DefaultMaxConnectionAge
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      maxConnectionAge,
			MaxConnectionAgeGrace: 30 * time.Second, // lets in-flight recognitions finish
		}),
	}
}

// serviceConfig balances every call across all addresses the resolver returns. With the
// dns:/// resolver and a Kubernetes headless service that is every recognizer pod, per request
// — not one long-lived connection to one pod.
const serviceConfig = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// Client talks to the recognizers. It is safe for concurrent use.
type Client struct {
	conn   *grpc.ClientConn
	rec    recognizerv1.RecognizerServiceClient
	health healthpb.HealthClient
	target string
}

// Dial returns a client for target: host:port, or dns:///name:port for every address of a
// name (headless service). It connects lazily; Probe checks health. extra options come after
// the defaults (e.g. another resolver). The call latencies are registered with reg
// (MetricRequestSeconds); nil registers nothing.
func Dial(target string, reg prometheus.Registerer, extra ...grpc.DialOption) (*Client, error) {
	if target == "" {
		return nil, errors.New("recognizer: no target to dial")
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
		// Reconnect to a recognizer that comes back within seconds, not grpc's default two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if reg != nil {
		seconds, err := newClientMetrics(reg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
			start := time.Now()
			err := invoker(ctx, method, req, reply, cc, o...)
			seconds.WithLabelValues(shortMethod(method), status.Code(err).String()).Observe(time.Since(start).Seconds())
			return err
		}))
	}
	conn, err := grpc.NewClient(target, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("recognizer: client for %s: %w", target, err)
	}
	return &Client{conn: conn, rec: recognizerv1.NewRecognizerServiceClient(conn), health: healthpb.NewHealthClient(conn), target: target}, nil
}

// Recognizer is the generated client (for processors).
func (c *Client) Recognizer() recognizerv1.RecognizerServiceClient { return c.rec }

// Recognize, Describe and Verify call the service.
func (c *Client) Recognize(ctx context.Context, req *recognizerv1.RecognizeRequest) (*recognizerv1.RecognizeResponse, error) {
	return c.rec.Recognize(ctx, req)
}

func (c *Client) Describe(ctx context.Context, req *recognizerv1.DescribeRequest) (*recognizerv1.DescribeResponse, error) {
	return c.rec.Describe(ctx, req)
}

func (c *Client) Verify(ctx context.Context, req *recognizerv1.VerifyRequest) (*recognizerv1.VerifyResponse, error) {
	return c.rec.Verify(ctx, req)
}

// Probe asks the standard health service whether the recognizer serves (the breaker's probe).
func (c *Client) Probe(ctx context.Context) error {
	resp, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: ServiceName})
	if err != nil {
		return fmt.Errorf("recognizer %s health: %w", c.target, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("recognizer %s health: %s", c.target, resp.GetStatus())
	}
	return nil
}

// Target is the address the client dials.
func (c *Client) Target() string { return c.target }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func shortMethod(full string) string {
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '/' {
			return full[i+1:]
		}
	}
	return full
}
