package deploy

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestWebStatusPageReadsEveryRolesPods: the web Deployment's FACECLUSTER_STATUS_PEERS names,
// for every other facecluster role, a headless Service (so the name resolves to each pod) that
// selects that role's pods, listed even when not ready (so a failing pod shows as down), on the
// port the URL uses.
func TestWebStatusPageReadsEveryRolesPods(t *testing.T) {
	for _, r := range renderAll(t) {
		web, _ := r.find("Deployment", "web").(*appsv1.Deployment)
		if web == nil {
			t.Fatalf("%s: no web Deployment", r.Overlay)
		}
		peers := envValue(containerNamed(t, web.Spec.Template.Spec.Containers, "facecluster"), "FACECLUSTER_STATUS_PEERS")
		var roles []string
		for _, entry := range strings.Split(peers, ",") {
			name, raw, ok := strings.Cut(entry, "=")
			u, err := url.Parse(raw)
			if !ok || err != nil || u.Scheme != "http" {
				t.Errorf("%s: FACECLUSTER_STATUS_PEERS entry %q is not name=http://host:port", r.Overlay, entry)
				continue
			}
			roles = append(roles, name)
			host, portText, err := net.SplitHostPort(u.Host)
			port, _ := strconv.Atoi(portText)
			if err != nil {
				t.Errorf("%s: status peer %s: %q has no port", r.Overlay, name, u.Host)
				continue
			}
			svc, _ := r.find("Service", host).(*corev1.Service)
			switch {
			case svc == nil:
				t.Errorf("%s: status peer %s: no Service %q", r.Overlay, name, host)
			case svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses:
				t.Errorf("%s: status peer %s: Service %s must be headless and publish not-ready pods", r.Overlay, name, host)
			case svc.Spec.Selector["app.kubernetes.io/component"] != name:
				t.Errorf("%s: status peer %s: Service %s selects %v", r.Overlay, name, host, svc.Spec.Selector)
			case servicePort(t, svc, "http") != int32(port):
				t.Errorf("%s: status peer %s: URL port %d is not the Service's http port", r.Overlay, name, port)
			}
		}
		slices.Sort(roles)
		if want := []string{"processor", "receiver", "recognizer", "reconciler"}; !slices.Equal(roles, want) {
			t.Errorf("%s: the status page reads %v, want every other role %v", r.Overlay, roles, want)
		}
	}
}

// TestWebSendsWorkToTheReceivers: a web Deployment runs without a receiver of its own, so its
// uploads, pasted paths and enrolment go to FACECLUSTER_RECEIVER_URL, which must name the
// receiver Service on a port that Service exposes.
func TestWebSendsWorkToTheReceivers(t *testing.T) {
	for _, r := range renderAll(t) {
		web, _ := r.find("Deployment", "web").(*appsv1.Deployment)
		if web == nil {
			t.Fatalf("%s: no web Deployment", r.Overlay)
		}
		raw := envValue(containerNamed(t, web.Spec.Template.Spec.Containers, "facecluster"), "FACECLUSTER_RECEIVER_URL")
		u, err := url.Parse(raw)
		if raw == "" || err != nil || u.Scheme != "http" {
			t.Errorf("%s: web's FACECLUSTER_RECEIVER_URL = %q, want http://receiver[:port]", r.Overlay, raw)
			continue
		}
		port := 80
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		}
		svc, _ := r.find("Service", u.Hostname()).(*corev1.Service)
		if svc == nil || svc.Spec.Selector["app.kubernetes.io/component"] != "receiver" {
			t.Errorf("%s: FACECLUSTER_RECEIVER_URL %q does not name the receiver Service", r.Overlay, raw)
			continue
		}
		exposed := false
		for _, sp := range svc.Spec.Ports {
			exposed = exposed || int(sp.Port) == port
		}
		if !exposed {
			t.Errorf("%s: Service %s has no port %d for FACECLUSTER_RECEIVER_URL", r.Overlay, svc.Name, port)
		}
	}
}
