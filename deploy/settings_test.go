package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// settings returns every FACECLUSTER_* variable the binary reads, from docs/config.md's
// reference table (generated from the flag set and checked against it by cmd/facecluster/internal/config).
func settings(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile("\\| `(FACECLUSTER_[A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
	}
	if len(names) < 10 {
		t.Fatalf("docs/config.md lists only %d settings", len(names))
	}
	return names
}

func TestEverySettingGivenIsOneTheBinaryReads(t *testing.T) {
	known := settings(t)
	check := func(where, name string) {
		if strings.HasPrefix(name, "FACECLUSTER_") && !known[name] {
			t.Errorf("%s sets %s, which is no setting of facecluster (docs/config.md)", where, name)
		}
	}
	for _, r := range renderAll(t) {
		for _, o := range r.Objects {
			switch v := o.Obj.(type) {
			case *corev1.ConfigMap:
				for k := range v.Data {
					check(r.Overlay+" ConfigMap "+v.Name, k)
				}
			case *corev1.Secret:
				for k := range secretKeys(v) {
					check(r.Overlay+" Secret "+v.Name, k)
				}
			}
		}
		for _, w := range r.workloads() {
			running, initOnly := allContainers(w.Spec)
			for _, c := range append(running, initOnly...) {
				for _, e := range c.Env {
					check(r.Overlay+" "+w.Name+"/"+c.Name, e.Name)
				}
			}
		}
	}
	for name, s := range loadCompose(t).Services {
		for k := range s.Environment {
			check("compose service "+name, k)
		}
	}
}

// queueConst reads a string constant of the product's queue package.
func queueConst(t *testing.T, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../queue/queue.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if n.Name == name && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						v, err := strconv.Unquote(lit.Value)
						if err == nil {
							return v
						}
					}
				}
			}
		}
	}
	t.Fatalf("queue.%s not found in ../queue/queue.go", name)
	return ""
}

func TestTheTopicIsTheProductsTopic(t *testing.T) {
	if got := queueConst(t, "Topic"); got != topic {
		t.Errorf("queue.Topic is %q; the KEDA trigger watches %q", got, topic)
	}
	if got := queueConst(t, "Channel"); got != channel {
		t.Errorf("queue.Channel is %q; the KEDA trigger watches %q", got, channel)
	}
}

func TestRetryCronJobPublishesToAReceiversNSQD(t *testing.T) {
	for _, r := range renderAll(t) {
		cj, _ := r.find("CronJob", "retry-failed").(*batchv1.CronJob)
		if cj == nil {
			t.Fatalf("%s: no retry CronJob", r.Overlay)
		}
		c := containerNamed(t, cj.Spec.JobTemplate.Spec.Template.Spec.Containers, "retry")
		addr := envValue(c, "FACECLUSTER_NSQD_TCP_ADDR")
		host, port, ok := strings.Cut(addr, ":")
		if !ok {
			t.Fatalf("%s: FACECLUSTER_NSQD_TCP_ADDR %q is no host:port", r.Overlay, addr)
		}
		svc, _ := r.find("Service", host).(*corev1.Service)
		if svc == nil {
			t.Fatalf("%s: retry publishes to %q, which is no Service", r.Overlay, host)
		}
		var target intstr.IntOrString
		for _, p := range svc.Spec.Ports {
			if strconv.Itoa(int(p.Port)) == port {
				target = p.TargetPort
			}
		}
		recv := r.find("Deployment", "receiver").(*appsv1.Deployment)
		if !selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, recv.Spec.Template.Labels) || target.StrVal != "nsqd-tcp" {
			t.Errorf("%s: %s does not reach a receiver's nsqd TCP port", r.Overlay, addr)
		}
	}
}
