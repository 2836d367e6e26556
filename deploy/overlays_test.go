package deploy

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func renderNamed(t *testing.T, name string) rendered {
	t.Helper()
	for _, r := range renderAll(t) {
		if r.Overlay == name {
			return r
		}
	}
	t.Fatalf("overlay %s not rendered", name)
	return rendered{}
}

func TestMinikubeIsTheOriginalWalkthrough(t *testing.T) {
	r := renderNamed(t, "minikube")
	for _, name := range []string{"receiver", "web"} {
		svc, _ := r.find("Service", name).(*corev1.Service)
		if svc == nil || svc.Spec.Type != corev1.ServiceTypeNodePort {
			t.Errorf("Service %s should be a NodePort", name)
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort < 30000 || p.NodePort > 32767 {
				t.Errorf("Service %s: nodePort %d outside the default range", name, p.NodePort)
			}
		}
	}
	for _, w := range r.workloads() {
		if w.Kind == "Deployment" && w.Replicas != 1 {
			t.Errorf("Deployment %s has %d replicas, want one of each", w.Name, w.Replicas)
		}
	}
	pvc, _ := r.find("PersistentVolumeClaim", "images").(*corev1.PersistentVolumeClaim)
	if pvc == nil {
		t.Fatal("no images PVC")
	}
	pv, _ := r.find("PersistentVolume", pvc.Spec.VolumeName).(*corev1.PersistentVolume)
	if pv == nil || pv.Spec.HostPath == nil {
		t.Fatalf("the images PVC should bind the hostPath PersistentVolume, names %q", pvc.Spec.VolumeName)
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != pv.Spec.StorageClassName {
		t.Error("PVC and PV storage classes differ: the claim would not bind")
	}
	for _, m := range pvc.Spec.AccessModes {
		if !slices.Contains(pv.Spec.AccessModes, m) {
			t.Errorf("PV lacks access mode %s the claim asks for", m)
		}
	}
	if pv.Spec.Capacity.Storage().Cmp(*pvc.Spec.Resources.Requests.Storage()) < 0 {
		t.Error("PV smaller than the claim")
	}
}

func TestProductionIsHighlyAvailableAndExposed(t *testing.T) {
	r := renderNamed(t, "production")
	for _, w := range r.workloads() {
		if w.Kind != "Deployment" {
			continue
		}
		t.Run(w.Name, func(t *testing.T) {
			if len(w.Spec.TopologySpreadConstraints) == 0 {
				t.Error("no topology spread constraints")
			}
			if w.Name != "reconciler" && w.Replicas < 2 {
				t.Errorf("%d replicas: one node going away stops the role", w.Replicas)
			}
			if w.Replicas < 2 {
				return
			}
			var budgets int
			for _, o := range r.Objects {
				if pdb, ok := o.Obj.(*policyv1.PodDisruptionBudget); ok && selects(pdb.Spec.Selector, w.Labels) {
					budgets++
					if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
						t.Errorf("PodDisruptionBudget %s sets no limit", pdb.Name)
					}
				}
			}
			if budgets != 1 {
				t.Errorf("%d PodDisruptionBudgets select it, want 1", budgets)
			}
		})
	}
	ing, _ := r.find("Ingress", "facecluster").(*networkingv1.Ingress)
	if ing == nil {
		t.Fatal("no Ingress")
	}
	backends := map[string]bool{}
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			svc, _ := r.find("Service", p.Backend.Service.Name).(*corev1.Service)
			if svc == nil {
				t.Errorf("Ingress routes %s to Service %q, which is not deployed", rule.Host, p.Backend.Service.Name)
				continue
			}
			servicePort(t, svc, p.Backend.Service.Port.Name)
			backends[svc.Name] = true
		}
	}
	if !backends["receiver"] || !backends["web"] {
		t.Errorf("Ingress reaches %v, want the receiver and the web UI", backends)
	}
}

// TestNetworkPoliciesAllowExactlyTheTopology evaluates the production NetworkPolicies the way a
// CNI does for pods in the namespace and checks the flows the system needs and some it must not.
func TestNetworkPoliciesAllowExactlyTheTopology(t *testing.T) {
	r := renderNamed(t, "production")
	pods := map[string]workload{}
	for _, w := range r.workloads() {
		pods[w.Name] = w
	}
	var policies []*networkingv1.NetworkPolicy
	for _, o := range r.Objects {
		if np, ok := o.Obj.(*networkingv1.NetworkPolicy); ok {
			policies = append(policies, np)
			matched := false
			for _, w := range pods {
				matched = matched || selectsOrAll(&np.Spec.PodSelector, w.Labels)
			}
			if !matched {
				t.Errorf("NetworkPolicy %s selects no pod", np.Name)
			}
		}
	}
	tests := []struct {
		from, to, port string // from "" = outside the namespace (ingress controller, monitoring)
		want           bool
	}{
		{"", "receiver", "http", true},
		{"", "web", "http", true},
		{"", "processor", "http", true}, // /metrics
		{"receiver", "mysql", "mysql", true},
		{"processor", "mysql", "mysql", true},
		{"migrate", "mysql", "mysql", true},
		{"retry-failed", "mysql", "mysql", true},
		{"processor", "nsqlookupd", "http", true},
		{"receiver", "nsqlookupd", "tcp", true},
		{"processor", "receiver", "nsqd-tcp", true},
		{"processor", "reconciler", "nsqd-tcp", true},
		{"retry-failed", "receiver", "nsqd-tcp", true},
		{"processor", "recognizer", "grpc", true},
		{"receiver", "recognizer", "grpc", true},
		{"", "mysql", "mysql", false},
		{"", "recognizer", "grpc", false},
		{"", "receiver", "nsqd-tcp", false},
		{"web", "receiver", "nsqd-tcp", false},
	}
	for _, tt := range tests {
		to, ok := pods[tt.to]
		if !ok {
			t.Fatalf("no workload %s", tt.to)
		}
		var fromLabels map[string]string
		if tt.from != "" {
			from, ok := pods[tt.from]
			if !ok {
				t.Fatalf("no workload %s", tt.from)
			}
			fromLabels = from.Labels
		}
		port, ok := podPort(to.Spec, intstr.FromString(tt.port))
		if !ok {
			t.Fatalf("%s has no port %s", tt.to, tt.port)
		}
		if got := ingressAllowed(policies, fromLabels, to.Labels, port); got != tt.want {
			t.Errorf("from %q to %s:%s allowed = %v, want %v", tt.from, tt.to, tt.port, got, tt.want)
		}
	}
}

func selectsOrAll(sel *metav1.LabelSelector, labels map[string]string) bool {
	if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		return true
	}
	return selects(sel, labels)
}

// ingressAllowed applies NetworkPolicy semantics: a pod no ingress policy selects accepts
// everything; otherwise some rule of a selecting policy must admit the peer and the port.
// from == nil is a client outside the namespace.
func ingressAllowed(policies []*networkingv1.NetworkPolicy, from, to map[string]string, port corev1.ContainerPort) bool {
	isolated := false
	for _, np := range policies {
		if !selectsOrAll(&np.Spec.PodSelector, to) {
			continue
		}
		isolated = true
		for _, rule := range np.Spec.Ingress {
			if peerAllowed(rule.From, from) && portAllowed(rule.Ports, port) {
				return true
			}
		}
	}
	return !isolated
}

func peerAllowed(peers []networkingv1.NetworkPolicyPeer, from map[string]string) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if from != nil && p.NamespaceSelector == nil && p.IPBlock == nil && p.PodSelector != nil && selectsOrAll(p.PodSelector, from) {
			return true
		}
	}
	return false
}

func portAllowed(ports []networkingv1.NetworkPolicyPort, port corev1.ContainerPort) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Port == nil || (p.Port.Type == intstr.String && p.Port.StrVal == port.Name) || (p.Port.Type == intstr.Int && p.Port.IntVal == port.ContainerPort) {
			return true
		}
	}
	return false
}
