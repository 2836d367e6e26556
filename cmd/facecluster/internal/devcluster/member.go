package devcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// State is what a member is doing.
type State string

const (
	StateStopped State = "stopped" // never started, or stopped/killed on purpose
	StateRunning State = "running"
	StateExited  State = "exited" // ended by itself (a crash)
)

// Member is one process of the cluster, like one container of a pod.
type Member struct {
	Name string // e.g. receiver-0, nsqd-0, processor-2
	Role string // nsqlookupd, nsqd, receiver, processor, recognizer, web, reconciler

	// Addresses the member listens on ("" when it has none of that kind).
	HTTPAddr, TCPAddr, GRPCAddr string

	binary   string
	args     []string
	env      []string
	dir      string // working directory (and data directory)
	logStart int64  // size of the log when the current process started: its output follows
	// holds keep the member's planned ports bound until it first starts (see holdPort).
	holds    []net.Listener
	readyURL string // GET answering 2xx once the member can take work
	// afterReady runs once the member is ready, on every start (e.g. creating nsqd's topic).
	afterReady func(ctx context.Context) error
	log        *slog.Logger

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current process has exited
	state   State
	exitErr error
	starts  int
}

// MemberStatus is a snapshot of a member for listings.
type MemberStatus struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	State    State  `json:"state"`
	PID      int    `json:"pid,omitempty"`
	Starts   int    `json:"starts"`
	Binary   string `json:"binary"`
	HTTPAddr string `json:"http_addr,omitempty"`
	TCPAddr  string `json:"tcp_addr,omitempty"`
	GRPCAddr string `json:"grpc_addr,omitempty"`
	LastExit string `json:"last_exit,omitempty"`
	Log      string `json:"log"`
}

func (m *Member) status() MemberStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := MemberStatus{Name: m.Name, Role: m.Role, State: m.state, Starts: m.starts, Binary: m.binary,
		HTTPAddr: m.HTTPAddr, TCPAddr: m.TCPAddr, GRPCAddr: m.GRPCAddr, Log: m.logPath()}
	if m.state == StateRunning && m.cmd != nil && m.cmd.Process != nil {
		s.PID = m.cmd.Process.Pid
	}
	if m.exitErr != nil {
		s.LastExit = m.exitErr.Error()
	}
	return s
}

func (m *Member) logPath() string { return filepath.Join(m.dir, m.Name+".log") }

// start runs the member's process and waits until it is ready (or ctx ends, or it exits).
func (m *Member) start(ctx context.Context) error {
	m.mu.Lock()
	if m.state == StateRunning {
		m.mu.Unlock()
		return fmt.Errorf("%s is already running", m.Name)
	}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		m.mu.Unlock()
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	logFile, err := os.OpenFile(m.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.mu.Unlock()
		return fmt.Errorf("%s: log: %w", m.Name, err)
	}
	if st, err := logFile.Stat(); err == nil {
		m.logStart = st.Size()
	}
	m.releaseLocked()
	cmd := exec.Command(m.binary, m.args...)
	cmd.Dir = m.dir
	cmd.Env = m.env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group: a Ctrl-C in the terminal reaches the cluster, which stops members
	// in order, not every member at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(logFile, "--- %s: %s %q\n", time.Now().Format(time.RFC3339Nano), m.binary, m.args)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		m.mu.Unlock()
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	done := make(chan struct{})
	m.cmd, m.done, m.state, m.exitErr = cmd, done, StateRunning, nil
	m.starts++
	m.mu.Unlock()
	m.log.Info("member started", "member", m.Name, "pid", cmd.Process.Pid)

	go func() {
		err := cmd.Wait()
		logFile.Close()
		m.mu.Lock()
		if m.cmd == cmd {
			if m.state == StateRunning {
				m.state = StateExited
				m.log.Warn("member exited by itself", "member", m.Name, "err", err)
			}
			m.exitErr = err
		}
		m.mu.Unlock()
		close(done)
	}()
	if err := m.waitReady(ctx, done); err != nil {
		return err
	}
	if m.afterReady != nil {
		if err := m.afterReady(ctx); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

// release lets go of the member's planned ports (before it starts, or when the cluster closes).
func (m *Member) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releaseLocked()
}

func (m *Member) releaseLocked() {
	for _, l := range m.holds {
		l.Close()
	}
	m.holds = nil
}

func (m *Member) waitReady(ctx context.Context, done <-chan struct{}) error {
	if m.readyURL == "" {
		return nil
	}
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.readyURL, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s (log %s): %w%s", m.Name, m.readyURL, m.logPath(), ctx.Err(), m.logTail())
		case <-done:
			m.mu.Lock()
			err := m.exitErr
			m.mu.Unlock()
			return fmt.Errorf("%s exited before it was ready (log %s): %v%s", m.Name, m.logPath(), err, m.logTail())
		case <-tick.C:
		}
	}
}

// logTailLines is how much of a member's log an error about it quotes.
const logTailLines = 20

// logTail is the last lines the current (or last) process of the member wrote, indented, for
// an error message: a test's directory (and the log in it) is often gone when one reads it.
func (m *Member) logTail() string {
	m.mu.Lock()
	start := m.logStart
	m.mu.Unlock()
	f, err := os.Open(m.logPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxBytes = 16 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	if st.Size()-start > maxBytes {
		start = st.Size() - maxBytes
	}
	b := make([]byte, st.Size()-start)
	n, _ := f.ReadAt(b, start)
	lines := strings.Split(strings.TrimRight(string(b[:n]), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return "\n\t(the log is empty)"
	}
	return "\n\tlast lines of the log:\n\t" + strings.Join(lines, "\n\t")
}

// ready reports whether the member answers its readiness URL now.
func (m *Member) ready(ctx context.Context) bool {
	if !m.running() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.readyURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

func (m *Member) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == StateRunning
}

// stop sends SIGTERM (a graceful shutdown, as Kubernetes does) and SIGKILL after grace.
func (m *Member) stop(grace time.Duration) error {
	return m.signal(syscall.SIGTERM, grace)
}

// kill ends the process at once, as a crash or an OOM kill would.
func (m *Member) kill() error {
	return m.signal(syscall.SIGKILL, 0)
}

func (m *Member) signal(sig syscall.Signal, grace time.Duration) error {
	m.mu.Lock()
	if m.state != StateRunning {
		m.mu.Unlock()
		return nil
	}
	cmd, done := m.cmd, m.done
	m.state = StateStopped
	m.mu.Unlock()
	m.log.Info("member stopping", "member", m.Name, "signal", sig.String())
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", m.Name, err)
	}
	if sig == syscall.SIGKILL {
		<-done
		return nil
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
		m.log.Warn("member did not stop in time; killing it", "member", m.Name, "grace", grace)
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within %s and was killed", m.Name, grace)
	}
}
