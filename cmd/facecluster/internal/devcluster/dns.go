package devcluster

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// recognizerName is the DNS name of the recognizers, the loopback twin of the Kubernetes
// headless Service "recognizer".
const recognizerName = "recognizer.devcluster."

// nameServer answers A queries for recognizerName with every recognizer's loopback address, so
// that processors and receivers dial dns://<this server>/recognizer.devcluster:<port> and gRPC's
// round_robin balances per request over all recognizers, as in Kubernetes. Each recognizer has an
// address of its own (127.0.0.2x) because a DNS answer carries addresses, not ports.
type nameServer struct {
	addr string
	ips  []net.IP
	srv  *dns.Server
}

func startNameServer(ctx context.Context, ips []net.IP) (*nameServer, error) {
	pc, err := (&net.ListenConfig{}).ListenPacket(ctx, "udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("name server: %w", err)
	}
	ns := &nameServer{addr: pc.LocalAddr().String(), ips: ips}
	ns.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(ns.answer)}
	started := make(chan struct{})
	ns.srv.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	go func() { errc <- ns.srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-errc:
		return nil, fmt.Errorf("name server: %w", err)
	}
	return ns, nil
}

func (ns *nameServer) answer(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	known := false
	for _, q := range req.Question {
		if !strings.EqualFold(q.Name, recognizerName) {
			continue
		}
		known = true
		if q.Qtype != dns.TypeA {
			continue
		}
		for _, ip := range ns.ips {
			resp.Answer = append(resp.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
				A:   ip,
			})
		}
	}
	if !known {
		resp.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(resp)
}

func (ns *nameServer) close() { _ = ns.srv.Shutdown() }

// target is the gRPC target of the recognizers on port.
func (ns *nameServer) target(port string) string {
	return "dns://" + ns.addr + "/" + strings.TrimSuffix(recognizerName, ".") + ":" + port
}
