package deploy

import (
	"bufio"
	"go/version"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	corev1 "k8s.io/api/core/v1"
)

// dockerfile is ../Dockerfile parsed by BuildKit, the way `docker build` reads it.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs map[string]string // ARGs before the first FROM, with their defaults
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	d := dockerfile{stages: stages, metaArgs: map[string]string{}}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				d.metaArgs[kv.Key] = *kv.Value
			}
		}
	}
	return d
}

func (d dockerfile) stage(t *testing.T, name string) instructions.Stage {
	t.Helper()
	for _, s := range d.stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile has no stage %q", name)
	return instructions.Stage{}
}

// baseImage resolves a stage's FROM through the ARG defaults.
func (d dockerfile) baseImage(s instructions.Stage) string {
	return os.Expand(s.BaseName, func(k string) string { return d.metaArgs[k] })
}

func runLines(s instructions.Stage) []string {
	var lines []string
	for _, c := range s.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			lines = append(lines, strings.Join(r.CmdLine, " "))
		}
	}
	return lines
}

func envOf(s instructions.Stage) map[string]string {
	env := map[string]string{}
	for _, c := range s.Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				env[kv.Key] = kv.Value
			}
		}
	}
	return env
}

func argsOf(s instructions.Stage) []string {
	var args []string
	for _, c := range s.Commands {
		if a, ok := c.(*instructions.ArgCommand); ok {
			for _, kv := range a.Args {
				args = append(args, kv.Key)
			}
		}
	}
	return args
}

// makefile reads the variables and recipes of ../Makefile that the image must agree with.
type makefile struct {
	vars    map[string]string
	recipes map[string][]string
}

func parseMakefile(t *testing.T) makefile {
	t.Helper()
	f, err := os.Open("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := makefile{vars: map[string]string{}, recipes: map[string][]string{}}
	assign := regexp.MustCompile(`^([A-Z_]+)\s*[:?]?=\s*(.*)$`)
	target := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "\t") && target != "":
			m.recipes[target] = append(m.recipes[target], strings.TrimSpace(line))
		case assign.MatchString(line):
			g := assign.FindStringSubmatch(line)
			m.vars[g[1]] = g[2]
			target = ""
		case strings.Contains(line, ":") && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "export"):
			target = strings.TrimSpace(line[:strings.Index(line, ":")])
		default:
			target = ""
		}
	}
	return m
}

func (m makefile) expand(s string) string {
	for range 3 {
		s = regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(s, func(v string) string {
			if val, ok := m.vars[v[2:len(v)-1]]; ok {
				return val
			}
			return v
		})
	}
	return s
}

func (m makefile) recipeLine(t *testing.T, target, contains string) string {
	t.Helper()
	for _, l := range m.recipes[target] {
		if strings.Contains(l, contains) {
			return m.expand(l)
		}
	}
	t.Fatalf("Makefile target %s has no recipe line with %q", target, contains)
	return ""
}

var ldflagX = regexp.MustCompile(`-X ([^ ="]+)=`)

func TestDockerfileBuildsWhatTheMakefileBuilds(t *testing.T) {
	d, m := parseDockerfile(t), parseMakefile(t)

	// The weights: the same lockfile, the same npm ci flags (no install scripts) as `make models`.
	models := d.stage(t, "models")
	wantNPM := m.recipeLine(t, "models/node_modules/.stamp", "npm ci")
	wantNPM = wantNPM[strings.Index(wantNPM, "npm ci"):]
	if !slices.Contains(runLines(models), wantNPM) {
		t.Errorf("models stage runs %q, the Makefile runs %q", runLines(models), wantNPM)
	}
	if !strings.Contains(wantNPM, "--ignore-scripts") {
		t.Error("npm ci must not run install scripts")
	}
	copiesLock := slices.ContainsFunc(models.Commands, func(c instructions.Command) bool {
		cp, ok := c.(*instructions.CopyCommand)
		return ok && slices.Contains(cp.SourcePaths, "models/package-lock.json")
	})
	if !copiesLock {
		t.Error("models stage does not install from models/package-lock.json")
	}

	// The binary: the same package and version variable as `make build`, static.
	build := d.stage(t, "build")
	wantBuild := m.recipeLine(t, "build", " build ")
	wantPkg := strings.Fields(wantBuild)[len(strings.Fields(wantBuild))-1]
	var goBuild string
	for _, l := range runLines(build) {
		if strings.Contains(l, "go build") {
			goBuild = l
		}
	}
	if goBuild == "" {
		t.Fatal("build stage runs no go build")
	}
	if f := strings.Fields(goBuild); f[len(f)-1] != wantPkg {
		t.Errorf("image builds %q, the Makefile builds %q", f[len(f)-1], wantPkg)
	}
	wantX, gotX := ldflagX.FindAllStringSubmatch(wantBuild, -1), ldflagX.FindAllStringSubmatch(goBuild, -1)
	if len(wantX) == 0 || len(gotX) != len(wantX) || gotX[0][1] != wantX[0][1] {
		t.Errorf("version is linked into %v by the image, %v by the Makefile", gotX, wantX)
	}
	if !strings.Contains(goBuild, "=${VERSION}") || !slices.Contains(argsOf(build), "VERSION") {
		t.Error("the build stage must take the version from its VERSION build argument")
	}
	if envOf(build)["CGO_ENABLED"] != "0" {
		t.Error("CGO_ENABLED=0 is needed for a static binary on distroless/static")
	}
	src, err := os.ReadFile("../cmd/facecluster/internal/cli/version.go")
	if err != nil {
		t.Fatal(err)
	}
	if v := gotX[0][1]; !strings.HasSuffix(v, "internal/cli.version") || !strings.Contains(string(src), "\nvar version = ") {
		t.Errorf("-X %s does not name the string variable internal/cli.version", v)
	}
	goImage := d.baseImage(build)
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	needGo := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(goMod)
	imageGo := regexp.MustCompile(`^golang:(\d+\.\d+(?:\.\d+)?)`).FindStringSubmatch(goImage)
	if needGo == nil || imageGo == nil || version.Compare("go"+imageGo[1], "go"+string(needGo[1])) < 0 {
		t.Errorf("build image %q is older than go.mod's go %s", goImage, needGo)
	}
}

func TestImageIsSmallNonRootLabelledAndCarriesTheWeights(t *testing.T) {
	d, m := parseDockerfile(t), parseMakefile(t)
	final := d.stages[len(d.stages)-1]
	base := d.baseImage(final)
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final image on %q, want distroless/static or scratch", base)
	}
	for _, s := range d.stages {
		checkImagePinned(t, "stage "+s.Name, d.baseImage(s))
	}
	var user string
	var entrypoint []string
	labels := map[string]string{}
	var modelsDest string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entrypoint = c.CmdLine
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = strings.Trim(kv.Value, `"`)
			}
		case *instructions.CopyCommand:
			if c.From == "models" && len(c.SourcePaths) == 1 && strings.HasSuffix(c.SourcePaths[0], "/"+m.vars["MODELS"]) {
				modelsDest = c.DestPath
			}
		}
	}
	uid, err := strconv.Atoi(strings.Split(user, ":")[0])
	if err != nil || uid == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (Kubernetes' runAsNonRoot checks numbers)", user)
	}
	if len(entrypoint) != 1 || entrypoint[0] != "/usr/bin/facecluster" {
		t.Errorf("ENTRYPOINT %v: the image runs any role by its arguments", entrypoint)
	}
	for _, k := range []string{"title", "description", "source", "version", "revision", "licenses"} {
		if labels["org.opencontainers.image."+k] == "" {
			t.Errorf("OCI label org.opencontainers.image.%s missing", k)
		}
	}
	if labels["org.opencontainers.image.version"] != "${VERSION}" {
		t.Errorf("version label %q does not follow the VERSION argument", labels["org.opencontainers.image.version"])
	}
	if modelsDest != "/usr/share/facecluster/models" {
		t.Errorf("weights (%s) copied to %q, want /usr/share/facecluster/models", m.vars["MODELS"], modelsDest)
	}
	if envOf(final)["FACECLUSTER_MODELS_DIR"] != modelsDest {
		t.Error("FACECLUSTER_MODELS_DIR does not point at the weights in the image")
	}
	for _, r := range renderAll(t) {
		cm := r.findGenerated("ConfigMap", "facecluster-config").(*corev1.ConfigMap)
		if cm.Data["FACECLUSTER_MODELS_DIR"] != modelsDest {
			t.Errorf("%s: ConfigMap FACECLUSTER_MODELS_DIR %q is not where the image keeps the weights", r.Overlay, cm.Data["FACECLUSTER_MODELS_DIR"])
		}
	}
}

func TestDockerignoreSendsTheSourcesAndNothingElse(t *testing.T) {
	f, err := os.Open("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		ignored bool
	}{
		{"go.mod", false},
		{"go.sum", false},
		{"cmd/facecluster/main.go", false},
		{"cmd/facecluster/internal/cli/root.go", false},
		{"models/package.json", false},
		// Files the binary embeds.
		{"receiver/openapi.yaml", false},
		{"store/migrations/mysql/00001_init.sql", false},
		{"web/templates/layout.html", false},
		{"web/static/app.css", false},
		{"models/package-lock.json", false},
		{"models/node_modules/@vladmandic/face-api/model/face_recognition_model.bin", true},
		{".git/HEAD", true},
		{"bin/facecluster", true},
		{"data/facecluster.db", true},
		{".env", true},
		{"deploy/overlays/production/secrets.env", true},
	}
	for _, tt := range tests {
		got, err := pm.MatchesOrParentMatches(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.ignored {
			t.Errorf("%s: ignored = %v, want %v", tt.path, got, tt.ignored)
		}
	}
}
