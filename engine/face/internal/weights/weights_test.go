package weights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/internal/testutil"
)

// Golden values were read from the installed 1.7.15 files with an independent Python decoder
// (q·scale+min in float64, then rounded to float32; float32 little-endian at the listed offsets).
func TestLoadRealManifests(t *testing.T) {
	dir := testutil.ModelsDir(t)
	tests := []struct {
		model   string
		tensors int
		checks  []struct {
			name  string
			shape []int
			index int
			want  float32
		}
	}{
		{model: "face_recognition_model", tensors: 117, checks: []struct {
			name  string
			shape []int
			index int
			want  float32
		}{
			// uint8 79 · scale + min: float32 arithmetic would give -0.029459640383720398.
			{"conv32_down/conv/filters", []int{7, 7, 3, 32}, 0, -0.0294596366584301},
			{"conv32_down/conv/filters", []int{7, 7, 3, 32}, 7*7*3*32 - 1, 0.005786714609712362},
			// raw float32 in the middle of the quantised stream
			{"conv64_down/conv1/conv/filters", []int{3, 3, 32, 64}, 0, -0.004492271691560745},
			{"conv64_down/conv1/conv/filters", []int{3, 3, 32, 64}, 1, -0.006515676621347666},
			{"conv64_down/conv1/conv/filters", []int{3, 3, 32, 64}, 3*3*32*64 - 1, 0.001856982707977295},
			{"fc", []int{256, 128}, 0, -0.006796070374548435},
			{"fc", []int{256, 128}, 256*128 - 1, 0.006438382435590029},
		}},
		{model: "ssd_mobilenetv1_model", tensors: 151, checks: []struct {
			name  string
			shape []int
			index int
			want  float32
		}{
			// float32 starting at byte 5535069 (odd offset)
			{"Output/extra_dim", []int{1, 5118, 4}, 0, -0.03437500074505806},
			{"Output/extra_dim", []int{1, 5118, 4}, 2, 0.06562499701976776},
			{"Output/extra_dim", []int{1, 5118, 4}, 5118*4 - 3, 0.22577232122421265},
			{"Output/extra_dim", []int{1, 5118, 4}, 5118*4 - 2, 1.3227652311325073},
			// TensorFlow leftovers (int32 and scalar tensors) parsed for their offsets
			{"Postprocessor/stack/1", []int{}, 0, 5118},
			{"Preprocessor/ResizeImage/size", []int{2}, 1, 512},
			{"concat_1/axis", []int{}, 0, 1},
		}},
		{model: "tiny_face_detector_model", tensors: 19},
		{model: "face_landmark_68_model", tensors: 49},
		{model: "face_landmark_68_tiny_model", tensors: 28},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			set, err := LoadFile(filepath.Join(dir, tc.model+"-weights_manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if set.Len() != tc.tensors {
				t.Errorf("%d tensors, want %d", set.Len(), tc.tensors)
			}
			for _, c := range tc.checks {
				d, err := set.Get(c.name, c.shape...)
				if err != nil {
					t.Fatal(err)
				}
				if d[c.index] != c.want {
					t.Errorf("%s[%d] = %v, want %v", c.name, c.index, d[c.index], c.want)
				}
			}
		})
	}
}

// TestSeveralShards splits a real model into shards at odd byte boundaries (across tensors and
// inside float32 values) and expects exactly the tensors of the single-shard load.
func TestSeveralShards(t *testing.T) {
	src := testutil.ModelsDir(t)
	const model = "face_recognition_model"
	whole, err := LoadFile(filepath.Join(src, model+"-weights_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join(src, model+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := readManifest(t, filepath.Join(src, model+"-weights_manifest.json"))

	tmp := t.TempDir()
	cuts := []int{0, 60672 + 4*1001 + 3, 2_000_001, len(bin)} // the second cut splits a float32
	var paths []string
	for i := 0; i+1 < len(cuts); i++ {
		name := model + "-shard" + string(rune('1'+i))
		paths = append(paths, name)
		if err := os.WriteFile(filepath.Join(tmp, name), bin[cuts[i]:cuts[i+1]], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest[0]["paths"] = paths
	mpath := filepath.Join(tmp, "m.json")
	writeJSON(t, mpath, manifest)

	sharded, err := LoadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sharded.Names(), whole.Names()) {
		t.Fatalf("tensor names differ between sharded and whole load")
	}
	for _, n := range whole.Names() {
		a, b := whole.Tensor(n), sharded.Tensor(n)
		if !slices.Equal(a.Shape, b.Shape) || !slices.Equal(a.Data, b.Data) {
			t.Errorf("tensor %s differs between sharded and whole load", n)
		}
	}
}

func TestBadInput(t *testing.T) {
	src := testutil.ModelsDir(t)
	const model = "tiny_face_detector_model"
	bin, err := os.ReadFile(filepath.Join(src, model+".bin"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		edit    func(m []map[string]any) []byte // returns the shard to write
		rawJSON string
		wantErr string
	}{
		{name: "truncated shard", edit: func([]map[string]any) []byte { return bin[:len(bin)-10] }, wantErr: "only"},
		{name: "trailing bytes", edit: func([]map[string]any) []byte { return append(slices.Clone(bin), 1, 2) }, wantErr: "shards hold"},
		{name: "missing shard", edit: func(m []map[string]any) []byte { m[0]["paths"] = []string{"nope.bin"}; return bin }, wantErr: "nope.bin"},
		{name: "escaping path", edit: func(m []map[string]any) []byte { m[0]["paths"] = []string{"../x.bin"}; return bin }, wantErr: "not a plain relative path"},
		{name: "unknown dtype", edit: func(m []map[string]any) []byte {
			w := m[0]["weights"].([]any)[0].(map[string]any)
			delete(w, "quantization")
			w["dtype"] = "complex64"
			return bin
		}, wantErr: `unsupported dtype "complex64"`},
		{name: "not a manifest", rawJSON: `{"weights": 1}`, wantErr: "not a tfjs weights manifest"},
		{name: "empty manifest", rawJSON: `[]`, wantErr: "no weight groups"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			mpath := filepath.Join(tmp, "m.json")
			if tc.rawJSON != "" {
				if err := os.WriteFile(mpath, []byte(tc.rawJSON), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				m := readManifest(t, filepath.Join(src, model+"-weights_manifest.json"))
				shard := tc.edit(m)
				if err := os.WriteFile(filepath.Join(tmp, model+".bin"), shard, 0o644); err != nil {
					t.Fatal(err)
				}
				writeJSON(t, mpath, m)
			}
			_, err := LoadFile(mpath)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestReader(t *testing.T) {
	set, err := LoadFile(filepath.Join(testutil.ModelsDir(t), "face_recognition_model-weights_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := set.Reader()
	if d := r.Prefixed("conv32_1").Prefixed("conv1").Get("conv/filters", 3, 3, 32, 32); len(d) != 3*3*32*32 || r.Err() != nil {
		t.Fatalf("prefixed get: %d values, err %v", len(d), r.Err())
	}
	r.Get("fc", 128, 256) // wrong shape
	r.Get("missing")      // after the first error nothing changes it
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), `"fc" has shape [256 128], want [128 256]`) {
		t.Fatalf("Err() = %v", err)
	}
	if u := r.Unused(); len(u) != set.Len()-1 || slices.Contains(u, "conv32_1/conv1/conv/filters") {
		t.Fatalf("Unused() has %d names, want %d without the one used", len(u), set.Len()-1)
	}
}

func readManifest(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m []map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
