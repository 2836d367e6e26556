package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// overlays are the directories `kubectl apply -k` is pointed at.
var overlays = []string{"minikube", "production"}

// object is one rendered manifest, decoded into its typed API struct.
type object struct {
	Kind, Name, Namespace string
	Obj                   any
}

// rendered is the output of one overlay.
type rendered struct {
	Overlay string
	Objects []object
}

// renderOverlay builds deploy/overlays/<name> the way `kubectl apply -k` does. The tree is copied
// into an in-memory file system first so that the production overlay's uncommitted secrets.env
// can be made from its committed example, and so that edit (may be nil) can change files.
func renderOverlay(t *testing.T, name string, edit func(fs filesys.FileSystem)) rendered {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	for _, dir := range []string{"base", "components", "overlays"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return mem.WriteFile("/deploy/"+filepath.ToSlash(path), b)
		})
		if err != nil {
			t.Fatalf("copy %s: %v", dir, err)
		}
	}
	if name == "production" {
		example, err := mem.ReadFile("/deploy/overlays/production/secrets.env.example")
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.WriteFile("/deploy/overlays/production/secrets.env", example); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(mem)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/deploy/overlays/"+name)
	if err != nil {
		t.Fatalf("kustomize build overlays/%s: %v", name, err)
	}
	out := rendered{Overlay: name}
	for _, res := range resMap.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(res.GetApiVersion(), res.GetKind(), y)
		if err != nil {
			t.Fatalf("overlays/%s: %s %s: %v", name, res.GetKind(), res.GetName(), err)
		}
		out.Objects = append(out.Objects, object{Kind: res.GetKind(), Name: res.GetName(), Namespace: res.GetNamespace(), Obj: obj})
	}
	return out
}

// newTyped returns the typed struct for an apiVersion and kind; every kind the manifests may use
// is listed, so anything else (a typo, a removed API version) fails.
func newTyped(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, true
	case "v1 PersistentVolume":
		return &corev1.PersistentVolume{}, true
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "batch/v1 Job":
		return &batchv1.Job{}, true
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}, true
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, true
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "keda.sh/v1alpha1 ScaledObject":
		return &ScaledObject{}, true
	}
	return nil, false
}

// decodeStrict decodes YAML into the kind's typed struct, failing on unknown or duplicate fields.
func decodeStrict(apiVersion, kind string, y []byte) (any, error) {
	obj, ok := newTyped(apiVersion, kind)
	if !ok {
		return nil, fmt.Errorf("no typed API struct for %s %s", apiVersion, kind)
	}
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("strict decode: %w", err)
	}
	return obj, nil
}

// ScaledObject is the part of KEDA's keda.sh/v1alpha1 ScaledObject these manifests use, written
// here because KEDA's own API module drags in half of Kubernetes. Strict decoding into it still
// catches misspelt or misplaced fields.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion,omitempty"`
			Kind       string `json:"kind,omitempty"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Triggers        []struct {
			Type       string            `json:"type"`
			Name       string            `json:"name,omitempty"`
			MetricType string            `json:"metricType,omitempty"`
			Metadata   map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// workload is a pod template with where it came from.
type workload struct {
	Kind, Name string
	Labels     map[string]string // pod template labels
	Selector   *metav1.LabelSelector
	Spec       *corev1.PodSpec
	LongLived  bool // Deployments and StatefulSets: probed; Jobs run to completion
	Replicas   int32
}

func (r rendered) workloads() []workload {
	var ws []workload
	for _, o := range r.Objects {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			ws = append(ws, workload{"Deployment", v.Name, v.Spec.Template.Labels, v.Spec.Selector, &v.Spec.Template.Spec, true, replicas(v.Spec.Replicas)})
		case *appsv1.StatefulSet:
			ws = append(ws, workload{"StatefulSet", v.Name, v.Spec.Template.Labels, v.Spec.Selector, &v.Spec.Template.Spec, true, replicas(v.Spec.Replicas)})
		case *batchv1.Job:
			ws = append(ws, workload{"Job", v.Name, v.Spec.Template.Labels, v.Spec.Selector, &v.Spec.Template.Spec, false, 1})
		case *batchv1.CronJob:
			ws = append(ws, workload{"CronJob", v.Name, v.Spec.JobTemplate.Spec.Template.Labels, nil, &v.Spec.JobTemplate.Spec.Template.Spec, false, 1})
		}
	}
	return ws
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// find returns the object of that kind and name, or nil.
func (r rendered) find(kind, name string) any {
	for _, o := range r.Objects {
		if o.Kind == kind && o.Name == name {
			return o.Obj
		}
	}
	return nil
}

// findGenerated finds a generated object (a Secret or ConfigMap with kustomize's hash suffix) by the
// name the manifests use.
func (r rendered) findGenerated(kind, name string) any {
	if o := r.find(kind, name); o != nil {
		return o
	}
	for _, o := range r.Objects {
		if o.Kind == kind && strings.HasPrefix(o.Name, name+"-") {
			return o.Obj
		}
	}
	return nil
}

// allContainers returns the containers and the native sidecars (init containers that keep
// running), which are probed like containers, and the plain init containers.
func allContainers(spec *corev1.PodSpec) (running, initOnly []corev1.Container) {
	running = append(running, spec.Containers...)
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			running = append(running, c)
		} else {
			initOnly = append(initOnly, c)
		}
	}
	return running, initOnly
}

// selects reports whether a label selector selects the labels.
func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return !s.Empty() && s.Matches(k8slabels.Set(labels))
}
