package deploy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// renderAll renders every overlay once per test binary.
var renderCache = map[string]rendered{}

func renderAll(t *testing.T) []rendered {
	t.Helper()
	var rs []rendered
	for _, o := range overlays {
		r, ok := renderCache[o]
		if !ok {
			r = renderOverlay(t, o, nil)
			renderCache[o] = r
		}
		rs = append(rs, r)
	}
	return rs
}

func TestEveryOverlayRendersIntoOneNamespace(t *testing.T) {
	for _, r := range renderAll(t) {
		t.Run(r.Overlay, func(t *testing.T) {
			if len(r.Objects) < 20 {
				t.Fatalf("only %d objects rendered", len(r.Objects))
			}
			for _, o := range r.Objects {
				clusterScoped := o.Kind == "Namespace" || o.Kind == "PersistentVolume"
				if !clusterScoped && o.Namespace != "facecluster" {
					t.Errorf("%s %s is in namespace %q, want facecluster", o.Kind, o.Name, o.Namespace)
				}
			}
			if r.find("Namespace", "facecluster") == nil {
				t.Error("the Namespace facecluster is not part of the deploy")
			}
		})
	}
}

func TestWorkloadsAreHardenedProbedAndSized(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, w := range r.workloads() {
			t.Run(r.Overlay+"/"+w.Kind+"/"+w.Name, func(t *testing.T) {
				checkWorkload(t, r, w)
			})
		}
	}
}

func checkWorkload(t *testing.T, r rendered, w workload) {
	spec := w.Spec
	if w.Selector != nil && !selects(w.Selector, w.Labels) {
		t.Errorf("selector %v does not select the pod template's labels %v", w.Selector.MatchLabels, w.Labels)
	}
	if (w.Kind == "Deployment" || w.Kind == "StatefulSet") && w.Selector == nil {
		t.Error("no selector")
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		t.Error("pod runs as uid 0")
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("pod shares a host namespace")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
		if v.PersistentVolumeClaim != nil && r.find("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName) == nil {
			t.Errorf("volume %s claims PVC %q, which is not deployed", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	if w.Kind == "StatefulSet" {
		for _, pvc := range r.find("StatefulSet", w.Name).(*appsv1.StatefulSet).Spec.VolumeClaimTemplates {
			volumes[pvc.Name] = corev1.Volume{Name: pvc.Name}
		}
	}
	running, initOnly := allContainers(spec)
	for _, c := range append(slices.Clone(running), initOnly...) {
		checkContainer(t, r, c, volumes)
	}
	if w.LongLived {
		for _, c := range running {
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("container %s lacks a readiness or liveness probe", c.Name)
			}
			for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
				if p != nil {
					checkProbePort(t, c, p)
				}
			}
		}
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkContainer(t *testing.T, r rendered, c corev1.Container, volumes map[string]corev1.Volume) {
	t.Helper()
	checkImagePinned(t, c.Name, c.Image)
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("container %s has no securityContext", c.Name)
	default:
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s: capabilities are not exactly drop ALL", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("container %s runs as uid 0", c.Name)
		}
	}
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Errorf("container %s: needs CPU and memory requests and a memory limit, has requests %v limits %v", c.Name, req, lim)
	}
	if !lim.Memory().IsZero() && lim.Memory().Cmp(*req.Memory()) < 0 {
		t.Errorf("container %s: memory limit below its request", c.Name)
	}
	for _, p := range c.Ports {
		if p.HostPort != 0 {
			t.Errorf("container %s: port %s uses hostPort %d", c.Name, p.Name, p.HostPort)
		}
	}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("container %s mounts volume %q, which the pod does not have", c.Name, m.Name)
		}
	}
	defined := map[string]bool{}
	for _, e := range c.Env {
		defined[e.Name] = true
		if e.ValueFrom == nil {
			continue
		}
		if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
			cm, _ := r.findGenerated("ConfigMap", ref.Name).(*corev1.ConfigMap)
			if cm == nil {
				t.Errorf("container %s: env %s names ConfigMap %q, which is not deployed", c.Name, e.Name, ref.Name)
			} else if _, ok := cm.Data[ref.Key]; !ok {
				t.Errorf("container %s: env %s names key %q, which ConfigMap %s lacks", c.Name, e.Name, ref.Key, ref.Name)
			}
		}
		if ref := e.ValueFrom.SecretKeyRef; ref != nil {
			s, _ := r.findGenerated("Secret", ref.Name).(*corev1.Secret)
			if s == nil {
				t.Errorf("container %s: env %s names Secret %q, which is not deployed", c.Name, e.Name, ref.Name)
			} else if _, ok := secretKeys(s)[ref.Key]; !ok {
				t.Errorf("container %s: env %s names key %q, which Secret %s lacks", c.Name, e.Name, ref.Key, ref.Name)
			}
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && r.findGenerated("ConfigMap", ef.ConfigMapRef.Name) == nil {
			t.Errorf("container %s: envFrom names ConfigMap %q, which is not deployed", c.Name, ef.ConfigMapRef.Name)
		}
		if ef.SecretRef != nil && r.findGenerated("Secret", ef.SecretRef.Name) == nil {
			t.Errorf("container %s: envFrom names Secret %q, which is not deployed", c.Name, ef.SecretRef.Name)
		}
	}
	for _, arg := range append(slices.Clone(c.Command), c.Args...) {
		for _, m := range envRef.FindAllStringSubmatch(arg, -1) {
			if !defined[m[1]] {
				t.Errorf("container %s: argument %q refers to $(%s), which is not in its env", c.Name, arg, m[1])
			}
		}
	}
}

func secretKeys(s *corev1.Secret) map[string]bool {
	keys := map[string]bool{}
	for k := range s.Data {
		keys[k] = true
	}
	for k := range s.StringData {
		keys[k] = true
	}
	return keys
}

// checkImagePinned requires a registry path with an explicit tag other than latest (or a digest).
func checkImagePinned(t *testing.T, container, image string) {
	t.Helper()
	if strings.Contains(image, "@sha256:") {
		return
	}
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if image == "" || colon < slash || colon == len(image)-1 {
		t.Errorf("container %s: image %q has no tag", container, image)
		return
	}
	if tag := image[colon+1:]; tag == "latest" {
		t.Errorf("container %s: image %q uses the latest tag", container, image)
	}
}

func checkProbePort(t *testing.T, c corev1.Container, p *corev1.Probe) {
	t.Helper()
	var port intstr.IntOrString
	switch {
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	case p.GRPC != nil:
		port = intstr.FromInt32(p.GRPC.Port)
	case p.Exec != nil:
		return
	default:
		t.Errorf("container %s: a probe has no handler", c.Name)
		return
	}
	if _, ok := containerPort(c, port); !ok {
		t.Errorf("container %s: a probe uses port %s, which the container does not declare", c.Name, port.String())
	}
}

// containerPort resolves a named or numbered port against a container's ports.
func containerPort(c corev1.Container, port intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

// podPort resolves a port against every running container of a pod.
func podPort(spec *corev1.PodSpec, port intstr.IntOrString) (corev1.ContainerPort, bool) {
	running, _ := allContainers(spec)
	for _, c := range running {
		if p, ok := containerPort(c, port); ok {
			return p, true
		}
	}
	return corev1.ContainerPort{}, false
}

func TestServicesSelectPodsAndNamedPortsExist(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, o := range r.Objects {
			svc, ok := o.Obj.(*corev1.Service)
			if !ok {
				continue
			}
			t.Run(r.Overlay+"/"+svc.Name, func(t *testing.T) {
				var selected []workload
				for _, w := range r.workloads() {
					if w.LongLived && len(svc.Spec.Selector) > 0 && selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w.Labels) {
						selected = append(selected, w)
					}
				}
				if len(selected) != 1 {
					t.Fatalf("selector %v selects %d workloads, want exactly 1", svc.Spec.Selector, len(selected))
				}
				for _, p := range svc.Spec.Ports {
					if p.TargetPort.Type != intstr.String {
						t.Errorf("port %s: targetPort %s is not a named port", p.Name, p.TargetPort.String())
						continue
					}
					cp, ok := podPort(selected[0].Spec, p.TargetPort)
					if !ok {
						t.Errorf("port %s: targetPort %q is no port of %s", p.Name, p.TargetPort.StrVal, selected[0].Name)
					}
					if svc.Spec.ClusterIP == corev1.ClusterIPNone && p.Port != cp.ContainerPort {
						// Headless: clients dial the pod directly, on the Service's port number.
						t.Errorf("headless port %s: %d differs from the container's %d", p.Name, p.Port, cp.ContainerPort)
					}
				}
			})
		}
	}
}

func TestStatefulSetsHaveHeadlessServices(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, o := range r.Objects {
			ss, ok := o.Obj.(*appsv1.StatefulSet)
			if !ok {
				continue
			}
			svc, _ := r.find("Service", ss.Spec.ServiceName).(*corev1.Service)
			if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("%s: StatefulSet %s needs the headless Service %q for stable DNS", r.Overlay, ss.Name, ss.Spec.ServiceName)
			}
		}
	}
}

func TestRecognizerIsReachedPerPodThroughAHeadlessService(t *testing.T) {
	for _, r := range renderAll(t) {
		svc, _ := r.find("Service", "recognizer").(*corev1.Service)
		if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Fatalf("%s: the recognizer Service must be headless so gRPC balances per request over pods", r.Overlay)
		}
		want := fmt.Sprintf("dns:///recognizer:%d", servicePort(t, svc, "grpc"))
		if got := configValue(t, r, "FACECLUSTER_RECOGNIZER_ADDR"); got != want {
			t.Errorf("%s: FACECLUSTER_RECOGNIZER_ADDR = %q, want %q", r.Overlay, got, want)
		}
	}
}

func servicePort(t *testing.T, svc *corev1.Service, name string) int32 {
	t.Helper()
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return p.Port
		}
	}
	t.Fatalf("Service %s has no port %q", svc.Name, name)
	return 0
}

func configValue(t *testing.T, r rendered, key string) string {
	t.Helper()
	cm, _ := r.findGenerated("ConfigMap", "facecluster-config").(*corev1.ConfigMap)
	if cm == nil {
		t.Fatalf("%s: ConfigMap facecluster-config missing", r.Overlay)
	}
	v, ok := cm.Data[key]
	if !ok {
		t.Fatalf("%s: ConfigMap facecluster-config lacks %s", r.Overlay, key)
	}
	return v
}

func TestReceiverRollsWithoutLosingCapacity(t *testing.T) {
	for _, r := range renderAll(t) {
		t.Run(r.Overlay, func(t *testing.T) {
			d, _ := r.find("Deployment", "receiver").(*appsv1.Deployment)
			if d == nil {
				t.Fatal("no receiver Deployment")
			}
			s := d.Spec.Strategy
			if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil {
				t.Fatalf("strategy %s, want RollingUpdate", s.Type)
			}
			if mu := s.RollingUpdate.MaxUnavailable; mu == nil || (mu.String() != "0" && mu.String() != "0%") {
				t.Errorf("maxUnavailable %v, want 0", mu)
			}
			if ms := s.RollingUpdate.MaxSurge; ms == nil || ms.String() == "0" || ms.String() == "0%" {
				t.Errorf("maxSurge %v: with maxUnavailable 0 the rollout needs a surge", ms)
			}
			spec := d.Spec.Template.Spec
			app := containerNamed(t, spec.Containers, "facecluster")
			if app.Lifecycle == nil || app.Lifecycle.PreStop == nil || app.Lifecycle.PreStop.Sleep == nil || app.Lifecycle.PreStop.Sleep.Seconds < 5 {
				t.Fatal("the receiver needs a preStop pause of at least 5 s so load balancers stop sending first")
			}
			pause := app.Lifecycle.PreStop.Sleep.Seconds
			if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < pause+30 {
				t.Errorf("terminationGracePeriodSeconds %v leaves under 30 s to drain after the %d s pause", spec.TerminationGracePeriodSeconds, pause)
			}
			if app.ReadinessProbe == nil || app.ReadinessProbe.HTTPGet == nil || app.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Error("readiness must be the receiver's /readyz")
			}
			if app.LivenessProbe == nil || app.LivenessProbe.HTTPGet == nil || app.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Error("liveness must be the receiver's /healthz")
			}
		})
	}
}

func containerNamed(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

// flagValues returns every value of --name=value in args.
func flagValues(args []string, name string) []string {
	var vs []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

func TestEveryPublisherHasAnNSQDSidecarRegisteredWithEveryLookupd(t *testing.T) {
	for _, r := range renderAll(t) {
		lookupd, _ := r.find("StatefulSet", "nsqlookupd").(*appsv1.StatefulSet)
		svc, _ := r.find("Service", "nsqlookupd").(*corev1.Service)
		if lookupd == nil || svc == nil {
			t.Fatalf("%s: nsqlookupd StatefulSet or Service missing", r.Overlay)
		}
		if replicas(lookupd.Spec.Replicas) != 3 {
			t.Errorf("%s: %d nsqlookupd, want 3", r.Overlay, replicas(lookupd.Spec.Replicas))
		}
		var wantTCP, wantHTTP []string
		for i := range replicas(lookupd.Spec.Replicas) {
			host := fmt.Sprintf("%s-%d.%s", lookupd.Name, i, lookupd.Spec.ServiceName)
			wantTCP = append(wantTCP, fmt.Sprintf("%s:%d", host, servicePort(t, svc, "tcp")))
			wantHTTP = append(wantHTTP, fmt.Sprintf("%s:%d", host, servicePort(t, svc, "http")))
		}
		if got := configValue(t, r, "FACECLUSTER_NSQLOOKUPD_HTTP_ADDRS"); got != strings.Join(wantHTTP, ",") {
			t.Errorf("%s: FACECLUSTER_NSQLOOKUPD_HTTP_ADDRS = %q, want every nsqlookupd: %q", r.Overlay, got, strings.Join(wantHTTP, ","))
		}
		for _, name := range []string{"receiver", "reconciler"} {
			t.Run(r.Overlay+"/"+name, func(t *testing.T) {
				d, _ := r.find("Deployment", name).(*appsv1.Deployment)
				if d == nil {
					t.Fatalf("no %s Deployment", name)
				}
				spec := d.Spec.Template.Spec
				nsqd := containerNamed(t, spec.InitContainers, "nsqd")
				if nsqd.RestartPolicy == nil || *nsqd.RestartPolicy != corev1.ContainerRestartPolicyAlways {
					t.Error("nsqd must be a native sidecar (restartPolicy Always): up before the publisher, down after it")
				}
				if got := flagValues(nsqd.Args, "lookupd-tcp-address"); !slices.Equal(got, wantTCP) {
					t.Errorf("nsqd registers with %v, want every nsqlookupd %v", got, wantTCP)
				}
				if got := flagValues(nsqd.Args, "broadcast-address"); !slices.Equal(got, []string{"$(POD_IP)"}) {
					t.Errorf("nsqd broadcasts %v, want the pod IP", got)
				}
				dataPath := flagValues(nsqd.Args, "data-path")
				if len(dataPath) != 1 || !slices.ContainsFunc(nsqd.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == dataPath[0] }) {
					t.Errorf("nsqd --data-path %v is not on a volume: queued messages would not survive a restart", dataPath)
				}
				for _, create := range []string{"/topic/create?topic=" + topic, fmt.Sprintf("/channel/create?topic=%s&channel=%s", topic, channel)} {
					if h := nsqd.Lifecycle; h == nil || h.PostStart == nil || h.PostStart.Exec == nil || !strings.Contains(strings.Join(h.PostStart.Exec.Command, " "), create) {
						t.Errorf("nsqd does not call %s at start: processors would stay unready until the first publish", create)
					}
				}
				tcp, ok := containerPort(nsqd, intstr.FromString("nsqd-tcp"))
				if !ok {
					t.Fatal("nsqd has no nsqd-tcp port")
				}
				app := containerNamed(t, spec.Containers, "facecluster")
				want := fmt.Sprintf("127.0.0.1:%d", tcp.ContainerPort)
				if got := envValue(app, "FACECLUSTER_NSQD_TCP_ADDR"); got != want {
					t.Errorf("FACECLUSTER_NSQD_TCP_ADDR = %q, want the sidecar %q", got, want)
				}
			})
		}
	}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func TestRolesRunAsTheirOwnDeployments(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, role := range []string{"receiver", "processor", "recognizer", "web", "reconciler"} {
			d, _ := r.find("Deployment", role).(*appsv1.Deployment)
			if d == nil {
				t.Errorf("%s: no %s Deployment", r.Overlay, role)
				continue
			}
			app := containerNamed(t, d.Spec.Template.Spec.Containers, "facecluster")
			if want := []string{"serve", "--roles=" + role}; !slices.Equal(app.Args, want) {
				t.Errorf("%s: %s runs %v, want %v", r.Overlay, role, app.Args, want)
			}
		}
	}
}

var namespacedDNS = regexp.MustCompile(`\.svc\.cluster\.local|[a-z0-9-]+\.[a-z0-9-]+\.svc\b`)

func TestNoNamespaceIsWrittenIntoDNSNames(t *testing.T) {
	// Rendering into another namespace must move everything, the KEDA trigger included.
	r := renderOverlay(t, "production", func(mem filesys.FileSystem) {
		p := "/deploy/overlays/production/kustomization.yaml"
		b, err := mem.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.WriteFile(p, []byte(strings.Replace(string(b), "namespace: facecluster", "namespace: vision", 1))); err != nil {
			t.Fatal(err)
		}
	})
	for _, o := range r.Objects {
		if o.Kind != "Namespace" && o.Kind != "PersistentVolume" && o.Namespace != "vision" {
			t.Errorf("%s %s stayed in namespace %q", o.Kind, o.Name, o.Namespace)
		}
		b, _ := json.Marshal(o.Obj)
		for _, m := range namespacedDNS.FindAllString(string(b), -1) {
			if o.Kind == "ScaledObject" && m == "nsqlookupd.vision.svc" {
				continue // KEDA's operator resolves from its own namespace; derived, not written
			}
			t.Errorf("%s %s: DNS name %q carries a namespace", o.Kind, o.Name, m)
		}
	}
	so, _ := r.find("ScaledObject", "processor").(*ScaledObject)
	if so == nil {
		t.Fatal("no ScaledObject rendered")
	}
	if got := so.Spec.Triggers[0].Metadata["nsqLookupdHTTPAddresses"]; !strings.HasPrefix(got, "nsqlookupd.vision.svc:") {
		t.Errorf("KEDA trigger address %q does not follow the namespace", got)
	}
}

func TestProcessorsScaleOnQueueDepthWithKEDAAndOnCPUWithout(t *testing.T) {
	for _, r := range renderAll(t) {
		t.Run(r.Overlay, func(t *testing.T) {
			so, _ := r.find("ScaledObject", "processor").(*ScaledObject)
			hpa, _ := r.find("HorizontalPodAutoscaler", "processor").(*autoscalingv2.HorizontalPodAutoscaler)
			if (so == nil) == (hpa == nil) {
				t.Fatalf("want exactly one autoscaler for processors, have ScaledObject %v and HPA %v", so != nil, hpa != nil)
			}
			if hpa != nil {
				if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || r.find("Deployment", hpa.Spec.ScaleTargetRef.Name) == nil {
					t.Errorf("HPA targets %v, which is not a deployed Deployment", hpa.Spec.ScaleTargetRef)
				}
				if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
					t.Errorf("the fallback HPA should scale on CPU, has %v", hpa.Spec.Metrics)
				}
				return
			}
			if r.find("Deployment", so.Spec.ScaleTargetRef.Name) == nil {
				t.Errorf("ScaledObject targets %q, which is not a deployed Deployment", so.Spec.ScaleTargetRef.Name)
			}
			var nsq map[string]string
			for _, tr := range so.Spec.Triggers {
				if tr.Type == "nsq" {
					nsq = tr.Metadata
				}
			}
			if nsq == nil {
				t.Fatal("no nsq trigger")
			}
			if nsq["topic"] != topic || nsq["channel"] != channel {
				t.Errorf("trigger watches %s/%s, want the processors' %s/%s", nsq["topic"], nsq["channel"], topic, channel)
			}
			svc, _ := r.find("Service", "nsqlookupd").(*corev1.Service)
			want := fmt.Sprintf("%s.%s.svc:%d", svc.Name, svc.Namespace, servicePort(t, svc, "http"))
			if got := nsq["nsqLookupdHTTPAddresses"]; got != want {
				t.Errorf("trigger asks %q, want the nsqlookupd Service %q", got, want)
			}
			if d, err := strconv.Atoi(nsq["depthThreshold"]); err != nil || d < 1 {
				t.Errorf("depthThreshold %q is not a positive number", nsq["depthThreshold"])
			}
		})
	}
}

// topic and channel are the processors' NSQ topic and channel (issue 3, docs/architecture.md).
const topic, channel = "images", "processors"

// Uploads are kept on the shared image volume: every role that writes or reads them must mount
// it writable (blob storage creates its directory), and the recognizers must see the image root.
func TestUploadsAndImagesAreOnTheSharedVolume(t *testing.T) {
	for _, r := range renderAll(t) {
		blob := strings.TrimPrefix(configValue(t, r, "FACECLUSTER_BLOB_URL"), "file://")
		root := configValue(t, r, "FACECLUSTER_IMAGE_ROOT")
		for _, role := range []string{"receiver", "processor", "web", "recognizer"} {
			d := r.find("Deployment", role).(*appsv1.Deployment)
			spec := d.Spec.Template.Spec
			app := containerNamed(t, spec.Containers, "facecluster")
			mountOf := func(path string) (corev1.VolumeMount, bool) {
				for _, m := range app.VolumeMounts {
					if strings.HasPrefix(path+"/", m.MountPath+"/") {
						for _, v := range spec.Volumes {
							if v.Name == m.Name && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "images" {
								return m, true
							}
						}
					}
				}
				return corev1.VolumeMount{}, false
			}
			if m, ok := mountOf(root); !ok {
				t.Errorf("%s/%s: the image root %s is not on the images volume", r.Overlay, role, root)
			} else if role != "recognizer" {
				if m, ok = mountOf(blob); !ok || m.ReadOnly {
					t.Errorf("%s/%s: uploads (%s) are not on a writable mount of the images volume", r.Overlay, role, blob)
				}
			}
		}
	}
}

// TestRolesOutwaitTheDatabaseOnAFirstDeploy: on a first deploy every role starts before MySQL
// and the migrate Job are done and waits up to FACECLUSTER_DB_WAIT for them with /healthz
// answering. No probe may kill a role during that wait: its liveness probe is /healthz on the
// facecluster listener (up from the start), and a startup probe, which holds liveness back but
// fails until the role has started, allows the whole wait plus a minute to load the engine.
func TestRolesOutwaitTheDatabaseOnAFirstDeploy(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, role := range []string{"receiver", "processor", "recognizer", "web", "reconciler"} {
			d, _ := r.find("Deployment", role).(*appsv1.Deployment)
			if d == nil {
				t.Errorf("%s: no %s Deployment", r.Overlay, role)
				continue
			}
			app := containerNamed(t, d.Spec.Template.Spec.Containers, "facecluster")
			env := containerEnv(t, r, app)
			if env["FACECLUSTER_MIGRATE"] != "false" {
				t.Errorf("%s/%s: FACECLUSTER_MIGRATE=%q: the roles must leave migrating to the Job", r.Overlay, role, env["FACECLUSTER_MIGRATE"])
			}
			wait := 2 * time.Minute // the binary's default
			if v, ok := env["FACECLUSTER_DB_WAIT"]; ok {
				var err error
				if wait, err = time.ParseDuration(v); err != nil {
					t.Fatalf("%s/%s: FACECLUSTER_DB_WAIT=%q: %v", r.Overlay, role, v, err)
				}
			}
			if wait < 2*time.Minute {
				t.Errorf("%s/%s: FACECLUSTER_DB_WAIT=%s is shorter than a first MySQL start", r.Overlay, role, wait)
			}
			if p := app.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
				t.Errorf("%s/%s: liveness probe %+v, want /healthz on the http port (it answers while waiting for the database)", r.Overlay, role, p)
			}
			if p := app.StartupProbe; p != nil {
				window := time.Duration(max(p.PeriodSeconds, 10)*max(p.FailureThreshold, 3)) * time.Second
				if window < wait+time.Minute {
					t.Errorf("%s/%s: the startup probe gives up after %s, before FACECLUSTER_DB_WAIT %s plus a minute", r.Overlay, role, window, wait)
				}
			}
		}
	}
}
