package deploy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

var built struct {
	sync.Once
	path string
	err  error
}

// facecluster builds ../cmd/facecluster once per test binary.
func facecluster(t *testing.T) string {
	t.Helper()
	built.Do(func() {
		dir, err := os.MkdirTemp("", "deploy-test-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "facecluster")
		cmd := exec.Command("go", "build", "-o", built.path, "./cmd/facecluster")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = errors.New(string(out))
		}
	})
	if built.err != nil {
		t.Fatalf("go build ../cmd/facecluster: %v", built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

// containerEnv resolves a container's environment the way the kubelet does, from the rendered
// ConfigMaps and Secrets.
func containerEnv(t *testing.T, r rendered, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			for k, v := range r.findGenerated("ConfigMap", ef.ConfigMapRef.Name).(*corev1.ConfigMap).Data {
				env[k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = string(r.findGenerated("Secret", e.ValueFrom.SecretKeyRef.Name).(*corev1.Secret).Data[e.ValueFrom.SecretKeyRef.Key])
		case e.ValueFrom.ConfigMapKeyRef != nil:
			env[e.Name] = r.findGenerated("ConfigMap", e.ValueFrom.ConfigMapKeyRef.Name).(*corev1.ConfigMap).Data[e.ValueFrom.ConfigMapKeyRef.Key]
		}
	}
	return env
}

// TestTheBinaryAcceptsEveryRolesConfiguration runs the real facecluster with each container's
// arguments and environment as rendered by every overlay. It cannot reach MySQL here, so success is
// getting past flag and configuration validation to the database connection (exit code 1 with a
// store error, not 2, the usage error). Only the host paths are redirected into a temporary
// directory (the pod's volumes do not exist here).
func TestTheBinaryAcceptsEveryRolesConfiguration(t *testing.T) {
	bin := facecluster(t)
	for _, r := range renderAll(t) {
		t.Run(r.Overlay, func(t *testing.T) { checkBinaryAccepts(t, bin, r) })
	}
}

func checkBinaryAccepts(t *testing.T, bin string, r rendered) {
	models, _ := filepath.Abs("../models/node_modules/@vladmandic/face-api/model")
	if d := os.Getenv("FACECLUSTER_MODELS_DIR"); d != "" {
		models = d
	}
	var cases []struct {
		name string
		c    corev1.Container
	}
	for _, o := range r.Objects {
		var spec *corev1.PodSpec
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			spec = &v.Spec.Template.Spec
		case *batchv1.Job:
			spec = &v.Spec.Template.Spec
		case *batchv1.CronJob:
			spec = &v.Spec.JobTemplate.Spec.Template.Spec
		default:
			continue
		}
		for _, c := range spec.Containers {
			if strings.Contains(c.Image, "facecluster") {
				cases = append(cases, struct {
					name string
					c    corev1.Container
				}{o.Name, c})
			}
		}
	}
	if len(cases) < 7 {
		t.Fatalf("only %d facecluster containers rendered", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			env := containerEnv(t, r, tc.c)
			env["FACECLUSTER_DATA_DIR"] = filepath.Join(tmp, "data")
			env["FACECLUSTER_IMAGE_ROOT"] = tmp
			env["FACECLUSTER_BLOB_URL"] = "file://" + filepath.Join(tmp, "uploads")
			env["FACECLUSTER_MODELS_DIR"] = models
			env["FACECLUSTER_HTTP_ADDR"] = "127.0.0.1:0"
			env["FACECLUSTER_GRPC_ADDR"] = "127.0.0.1:0"
			// An address that refuses at once instead of a name that does not resolve here.
			env["FACECLUSTER_DB_DSN"] = strings.Replace(env["FACECLUSTER_DB_DSN"], "mysql-0.mysql:3306", "127.0.0.1:1", 1)
			// The manifests wait minutes for the database at start; here a second is enough to
			// see the wait end with the database's error.
			env["FACECLUSTER_DB_WAIT"] = "1s"
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.c.Args...)
			cmd.Dir = tmp
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				return // still running: configuration accepted, waiting on something
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "store") {
				t.Errorf("facecluster %v: %v, want it to get as far as the database\n%s", tc.c.Args, err, out)
			}
		})
	}
}
