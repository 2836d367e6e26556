package server

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
)

// In the one-process mode (serve with every role, the default) the embedded nsqd, nsqlookupd and
// the recognizer's gRPC listener are private to the process: only the HTTP address is the
// user's. Their default ports (4150, 4151, 4160, 4161, 9090) are kept when free, so
// `facecluster retry` and nsq's tools find them as before; when another program (another nsqd,
// a second copy) holds one, a free port on 127.0.0.1 is used instead. An address the user gave
// (flag, environment or .env) is always used as given.

// oneProcess reports whether this process runs every role.
func (s *Server) oneProcess() bool {
	for _, r := range config.AllRoles {
		if !s.cfg.Has(r) {
			return false
		}
	}
	return true
}

// fallbackAddr is where a private listener goes when its default port is taken.
const fallbackAddr = "127.0.0.1:0"

// privateAddr is the address to listen on for the setting flag whose value is addr: addr, or
// fallbackAddr when addr is a default taken by another program in the one-process mode.
func (s *Server) privateAddr(flag, addr string) string {
	if !s.oneProcess() || s.cfg.Changed(flag) {
		return addr
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close() // free: the daemon listens there itself
		return addr
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return addr // the daemon reports it
	}
	s.log.Info("default port taken by another program; using a free one (private to this process)", "setting", "--"+flag, "default", addr)
	return fallbackAddr
}

// listenGRPC listens on --grpc-addr (or a free port, as privateAddr) and points this process's
// recognizer client at it unless --recognizer-addr says otherwise.
func (s *Server) listenGRPC() (net.Listener, error) {
	cfg := s.cfg
	addr := s.privateAddr("grpc-addr", cfg.GRPCAddr)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError("grpc-addr", addr, err)
	}
	s.grpcAddr = lis.Addr().String()
	if !cfg.Changed("recognizer-addr") {
		cfg.RecognizerAddr = dialable(lis.Addr())
	}
	return lis, nil
}

// dialable is a listener's address as a client on this machine dials it (a wildcard listen
// address becomes 127.0.0.1).
func dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

// listenError says which setting to change when listening on addr, the value of the setting
// flag, failed: most often another program holds the port.
func listenError(flag, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) || portTaken(addr) {
		return fmt.Errorf("the address %s (--%s) is taken by another program: choose another with --%s or %s: %w",
			addr, flag, flag, config.EnvName(flag), err)
	}
	return fmt.Errorf("listen on --%s %s (%s): %w", flag, addr, config.EnvName(flag), err)
}

// portTaken reports whether another program listens on addr (for errors that do not wrap the
// system's, such as nsqd's).
func portTaken(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
	}
	return errors.Is(err, syscall.EADDRINUSE)
}

// addrsError is listenError for a daemon that listens on two addresses (tcp and http, given
// by their flags) and failed: the first taken one is named, else err is returned as it is.
func addrsError(err error, tcpFlag, tcpAddr, httpFlag, httpAddr string) error {
	switch {
	case portTaken(tcpAddr):
		return listenError(tcpFlag, tcpAddr, err)
	case portTaken(httpAddr):
		return listenError(httpFlag, httpAddr, err)
	}
	return err
}
