package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// loadCompose loads ../compose.yaml as `docker compose` does: schema-validated, interpolated with
// the file's defaults (no environment), extensions and anchors resolved.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../compose.yaml"},
		cli.WithWorkingDirectory(".."), cli.WithEnv(nil), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

var faceclusterRoles = []string{"receiver", "processor", "recognizer", "web", "reconciler"}

func TestComposeMirrorsTheKubernetesTopology(t *testing.T) {
	p := loadCompose(t)
	k8s := renderNamed(t, "minikube")
	want := append([]string{"mysql", "nsqlookupd", "nsqd", "migrate"}, faceclusterRoles...)
	if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("services %v, want %v", got, want)
	}
	// The same third-party images as on Kubernetes.
	for svc, k8sImage := range map[string]string{
		"mysql":      containerNamed(t, k8s.find("StatefulSet", "mysql").(*appsv1.StatefulSet).Spec.Template.Spec.Containers, "mysql").Image,
		"nsqlookupd": containerNamed(t, k8s.find("StatefulSet", "nsqlookupd").(*appsv1.StatefulSet).Spec.Template.Spec.Containers, "nsqlookupd").Image,
		"nsqd":       containerNamed(t, k8s.find("Deployment", "receiver").(*appsv1.Deployment).Spec.Template.Spec.InitContainers, "nsqd").Image,
	} {
		if got := p.Services[svc].Image; got != k8sImage {
			t.Errorf("%s image %q, Kubernetes runs %q", svc, got, k8sImage)
		}
	}
	cm := k8s.findGenerated("ConfigMap", "facecluster-config").(*corev1.ConfigMap)
	for _, role := range faceclusterRoles {
		t.Run(role, func(t *testing.T) {
			s := p.Services[role]
			app := containerNamed(t, k8s.find("Deployment", role).(*appsv1.Deployment).Spec.Template.Spec.Containers, "facecluster")
			if !slices.Equal([]string(s.Command), app.Args) {
				t.Errorf("command %v, Kubernetes runs %v", s.Command, app.Args)
			}
			// The same settings by the same names; addresses differ only where the topology does.
			for key, k8sValue := range cm.Data {
				v, ok := s.Environment[key]
				if !ok || v == nil {
					t.Errorf("%s is not set", key)
					continue
				}
				// Uploads: a shared volume on both, mounted where each can make it writable.
				differs := strings.HasSuffix(key, "_ADDRS") || key == "FACECLUSTER_BLOB_URL"
				if !differs && *v != k8sValue {
					t.Errorf("%s = %q, Kubernetes has %q", key, *v, k8sValue)
				}
			}
			for _, e := range app.Env {
				if _, ok := s.Environment[e.Name]; !ok && strings.HasPrefix(e.Name, "FACECLUSTER_") && e.Name != "FACECLUSTER_API_TOKENS" && e.Name != "FACECLUSTER_SESSION_KEY" {
					t.Errorf("%s is set on Kubernetes, not here", e.Name)
				}
			}
		})
	}
}

func TestComposeServicesAreHealthCheckedHardenedAndOrdered(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		t.Run(name, func(t *testing.T) {
			if s.Image == "" || strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
				t.Errorf("image %q is not pinned", s.Image)
			}
			if s.Privileged {
				t.Error("privileged")
			}
			if name == "migrate" {
				if dep, ok := s.DependsOn["mysql"]; !ok || dep.Condition != types.ServiceConditionHealthy {
					t.Error("migrate must wait for a healthy MySQL")
				}
				return
			}
			if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
				t.Error("no health check")
			}
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("restart %q, want unless-stopped", s.Restart)
			}
			if !slices.Contains(faceclusterRoles, name) {
				return
			}
			if s.Build == nil || s.Build.Context != p.WorkingDir {
				t.Error("facecluster roles build the image from the repository's Dockerfile")
			}
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
				t.Error("want a read-only root file system and every capability dropped, as on Kubernetes")
			}
			if dep, ok := s.DependsOn["migrate"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Error("roles start once the migration has completed")
			}
			if s.HealthCheck != nil && !slices.Contains(s.HealthCheck.Test, "healthcheck") {
				t.Errorf("health check %v does not use `facecluster healthcheck` (the image has no shell or curl)", s.HealthCheck.Test)
			}
		})
	}
	// The receiver and its nsqd share a network namespace, like the containers of a pod.
	if got := p.Services["receiver"].NetworkMode; got != "service:nsqd" {
		t.Errorf("receiver network_mode %q, want service:nsqd", got)
	}
	if v := p.Services["receiver"].Environment["FACECLUSTER_NSQD_TCP_ADDR"]; v == nil || *v != "127.0.0.1:4150" {
		t.Error("the receiver publishes to its sidecar at 127.0.0.1:4150")
	}
	for svc, path := range map[string]string{"mysql": "/var/lib/mysql", "nsqd": "/var/lib/nsqd"} {
		if !slices.ContainsFunc(p.Services[svc].Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Target == path
		}) {
			t.Errorf("%s keeps %s on no named volume: a restart would lose it", svc, path)
		}
	}
	if hc := p.Services["nsqd"].HealthCheck; hc == nil || !slices.ContainsFunc(hc.Test, func(s string) bool {
		return strings.Contains(s, "/topic/create?topic="+topic) && strings.Contains(s, fmt.Sprintf("/channel/create?topic=%s&channel=%s", topic, channel))
	}) {
		t.Error("nsqd's health check does not create the topic and the processors' channel")
	}
	// Uploads are shared: the blob directory is on one named volume in every role that uses it.
	for _, name := range []string{"receiver", "processor", "web"} {
		s := p.Services[name]
		blob := s.Environment["FACECLUSTER_BLOB_URL"]
		if blob == nil || !strings.HasPrefix(*blob, "file://") {
			t.Errorf("%s: FACECLUSTER_BLOB_URL %v is not a file:// URL", name, blob)
			continue
		}
		dir := strings.TrimPrefix(*blob, "file://")
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Source == "blobs" && !v.ReadOnly && strings.HasPrefix(dir+"/", v.Target+"/")
		}) {
			t.Errorf("%s keeps uploads in %s, which is not on the shared writable volume blobs", name, dir)
		}
	}
	if !slices.Contains(p.Services["nsqd"].Command, "--data-path=/var/lib/nsqd") {
		t.Error("nsqd does not keep its queue in /var/lib/nsqd")
	}
}
