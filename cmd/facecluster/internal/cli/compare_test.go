package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	a1, a2 := filepath.Join(dir, "a1.jpg"), filepath.Join(dir, "a2.png")
	cropFace(t, "sample6.jpg", 0, a1)
	cropFace(t, "sample6.jpg", 0, a2)
	b := filepath.Join(dir, "b.jpg")
	cropFace(t, "sample1.jpg", 1, b) // reference distance to a: above 0.64
	empty := filepath.Join(dir, "empty.png")
	blank(t, empty)

	tests := []struct {
		name    string
		args    []string
		code    int
		verdict string // "" when nothing is printed
	}{
		{"same face", []string{a1, a2}, ExitOK, "same"},
		{"different people", []string{a1, b}, ExitDifferent, "different"},
		{"strict tolerance", []string{"--tolerance", "0.0001", a1, a2}, ExitDifferent, "different"},
		{"no face", []string{a1, empty}, ExitNotFound, ""},
		{"whole image when cropped", []string{"--assume-cropped", empty, empty}, ExitOK, "same"},
		{"one argument", []string{a1}, ExitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, append([]string{"compare"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.verdict == "" {
				if r.stdout != "" || r.stderr == "" {
					t.Errorf("stdout %q, stderr %q: want only an error message", r.stdout, r.stderr)
				}
				return
			}
			f := strings.Split(strings.TrimSpace(r.stdout), ",")
			if len(f) != 2 || f[1] != tt.verdict {
				t.Fatalf("stdout %q, want distance,%s", r.stdout, tt.verdict)
			}
			d, err := strconv.ParseFloat(f[0], 64)
			if err != nil || d < 0 {
				t.Errorf("distance %q: %v", f[0], err)
			}
			if tt.verdict == "same" && d > 0.3 || tt.verdict == "different" && tt.name == "different people" && d < 0.6 {
				t.Errorf("distance %v does not fit %q", d, tt.name)
			}
		})
	}
}

// TestCompareAndVerifyAgree: `facecluster compare` and POST /api/v1/verify choose the same face
// of a photo with several (face.Primary: the largest), so they give the same answer for the
// same two photos. The first pair is a crop of sample1's most confident face against the whole
// photo, whose largest face is someone else: compare used to say different (0.67) and verify,
// which took the most confident face, the same (0.11).
func TestCompareAndVerifyAgree(t *testing.T) {
	root := t.TempDir()
	photo, err := os.ReadFile(filepath.Join(testutil.DemoDir(t), "sample1.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sample1.jpg"), photo, 0o644); err != nil {
		t.Fatal(err)
	}
	cropFace(t, "sample1.jpg", 0, filepath.Join(root, "most-confident.jpg")) // reference score 0.995, not the largest
	cropFace(t, "sample1.jpg", 2, filepath.Join(root, "largest.jpg"))

	p := startProc(t, "serve", "--image-root", root, "--grpc-addr", testutil.FreeAddr(t),
		"--nsqd-tcp-addr", testutil.FreeAddr(t), "--nsqd-http-addr", testutil.FreeAddr(t),
		"--nsqlookupd-tcp-addrs", testutil.FreeAddr(t), "--nsqlookupd-http-addrs", testutil.FreeAddr(t))

	for _, tc := range []struct {
		crop    string
		verdict string
	}{
		{"most-confident.jpg", "different"},
		{"largest.jpg", "same"},
	} {
		t.Run(tc.crop, func(t *testing.T) {
			r := run(t, "compare", filepath.Join(root, tc.crop), filepath.Join(root, "sample1.jpg"))
			f := strings.Split(strings.TrimSpace(r.stdout), ",")
			if len(f) != 2 {
				t.Fatalf("compare: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			cliDist, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				t.Fatal(err)
			}

			body, _ := json.Marshal(map[string]string{"a": tc.crop, "b": "sample1.jpg"})
			resp, err := http.Post("http://"+p.http+"/api/v1/verify", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v struct {
				Distance float64
				Same     bool
				FacesB   int `json:"faces_b"`
			}
			if err := decodeJSON(resp, &v); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("verify: %d, %v", resp.StatusCode, err)
			}
			apiVerdict := map[bool]string{true: "same", false: "different"}[v.Same]
			t.Logf("compare: %.4f,%s; verify: %.4f, same %v", cliDist, f[1], v.Distance, v.Same)

			if f[1] != tc.verdict || apiVerdict != tc.verdict {
				t.Errorf("compare says %s (%.4f), verify says %s (%.4f); want both %s", f[1], cliDist, apiVerdict, v.Distance, tc.verdict)
			}
			if math.Abs(cliDist-v.Distance) > 1e-4 || v.FacesB != 3 {
				t.Errorf("compare's distance %.4f, verify's %.4f over %d faces: want the same distance, sample1's 3 faces", cliDist, v.Distance, v.FacesB)
			}
		})
	}
}
