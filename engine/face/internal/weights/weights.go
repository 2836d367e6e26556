// Package weights reads TensorFlow.js weights manifests (`*-weights_manifest.json` plus binary
// shards), the format in which the face-api.js networks ship.
//
// It is hand-written because no maintained Go library reads this format: a manifest is an array
// of groups, each listing shard files that are concatenated and the tensors that follow each other
// in that byte stream without padding. Tensors are float32 (possibly at unaligned offsets, so they
// are decoded byte by byte, never by casting the buffer), int32, or uint8/uint16-quantised with
// value = q·scale + min, computed in float64 and stored as float32 exactly as tfjs does.
//
// Every tensor is returned as float32, whatever its stored dtype; the networks look tensors up by
// name and shape through a Reader, which reports the first missing or misshapen tensor.
package weights

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Tensor is one named weight tensor, dequantised to float32.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32 // len(Data) == product of Shape (1 for a scalar)
}

// Set holds every tensor of one manifest, by name.
type Set struct {
	tensors map[string]*Tensor
	names   []string // manifest order
}

// manifestGroup mirrors one element of the tfjs weights manifest.
type manifestGroup struct {
	Paths   []string        `json:"paths"`
	Weights []manifestEntry `json:"weights"`
}

type manifestEntry struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *quantization `json:"quantization"`
}

type quantization struct {
	DType string   `json:"dtype"`
	Scale *float64 `json:"scale"`
	Min   *float64 `json:"min"`
}

// ShardReader returns the bytes of a shard named by a manifest path (relative to the manifest).
type ShardReader func(path string) ([]byte, error)

// LoadFile reads the manifest at manifestPath and its shards from the same directory.
func LoadFile(manifestPath string) (*Set, error) {
	manifest, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("weights: read manifest: %w", err)
	}
	dir := filepath.Dir(manifestPath)
	set, err := Parse(manifest, func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath, err)
	}
	return set, nil
}

// Parse decodes a manifest and the shards it names. Shard paths must be plain relative names
// (no "..", no absolute paths) so that a manifest cannot make the loader read elsewhere.
func Parse(manifest []byte, readShard ShardReader) (*Set, error) {
	var groups []manifestGroup
	if err := json.Unmarshal(manifest, &groups); err != nil {
		return nil, fmt.Errorf("weights: manifest is not a tfjs weights manifest: %w", err)
	}
	if len(groups) == 0 {
		return nil, errors.New("weights: manifest lists no weight groups")
	}
	set := &Set{tensors: make(map[string]*Tensor)}
	for gi, g := range groups {
		if len(g.Paths) == 0 {
			return nil, fmt.Errorf("weights: group %d lists no shard files", gi)
		}
		var buf []byte
		for _, p := range g.Paths {
			if !filepath.IsLocal(filepath.FromSlash(p)) {
				return nil, fmt.Errorf("weights: group %d: shard path %q is not a plain relative path", gi, p)
			}
			b, err := readShard(p)
			if err != nil {
				return nil, fmt.Errorf("weights: group %d: shard %s: %w", gi, p, err)
			}
			if buf == nil && len(g.Paths) == 1 {
				buf = b // the common single-shard case: no copy
			} else {
				buf = append(buf, b...)
			}
		}
		off := 0
		for _, e := range g.Weights {
			t, n, err := decode(e, buf[off:])
			if err != nil {
				return nil, fmt.Errorf("weights: group %d (%s) at byte %d: %w", gi, strings.Join(g.Paths, "+"), off, err)
			}
			if _, dup := set.tensors[t.Name]; dup {
				return nil, fmt.Errorf("weights: tensor %q listed twice", t.Name)
			}
			set.tensors[t.Name] = t
			set.names = append(set.names, t.Name)
			off += n
		}
		if off != len(buf) {
			return nil, fmt.Errorf("weights: group %d (%s): shards hold %d bytes but the manifest describes %d", gi, strings.Join(g.Paths, "+"), len(buf), off)
		}
	}
	return set, nil
}

// decode reads one tensor from the front of b and returns it with the number of bytes used.
func decode(e manifestEntry, b []byte) (*Tensor, int, error) {
	if e.Name == "" {
		return nil, 0, errors.New("tensor without a name")
	}
	count := 1
	for _, d := range e.Shape {
		if d < 0 || (d > 0 && count > math.MaxInt32/d) {
			return nil, 0, fmt.Errorf("tensor %q: invalid shape %v", e.Name, e.Shape)
		}
		count *= d
	}
	t := &Tensor{Name: e.Name, Shape: slices.Clone(e.Shape), Data: make([]float32, count)}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	if q := e.Quantization; q != nil {
		if q.Scale == nil || q.Min == nil {
			return nil, 0, fmt.Errorf("tensor %q: %s quantisation without scale and min", e.Name, q.DType)
		}
		scale, min := *q.Scale, *q.Min
		var width int
		switch q.DType {
		case "uint8":
			width = 1
		case "uint16":
			width = 2
		default:
			return nil, 0, fmt.Errorf("tensor %q: unsupported quantisation dtype %q", e.Name, q.DType)
		}
		if need := count * width; len(b) < need {
			return nil, 0, fmt.Errorf("tensor %q: needs %d bytes, only %d left in the shards", e.Name, need, len(b))
		}
		for i := range t.Data {
			var v uint16
			if width == 1 {
				v = uint16(b[i])
			} else {
				v = binary.LittleEndian.Uint16(b[2*i:])
			}
			t.Data[i] = float32(float64(v)*scale + min)
		}
		return t, count * width, nil
	}
	switch e.DType {
	case "float32", "int32":
	default:
		return nil, 0, fmt.Errorf("tensor %q: unsupported dtype %q", e.Name, e.DType)
	}
	if need := count * 4; len(b) < need {
		return nil, 0, fmt.Errorf("tensor %q: needs %d bytes, only %d left in the shards", e.Name, need, len(b))
	}
	for i := range t.Data {
		u := binary.LittleEndian.Uint32(b[4*i:])
		if e.DType == "int32" {
			t.Data[i] = float32(int32(u))
		} else {
			t.Data[i] = math.Float32frombits(u)
		}
	}
	return t, count * 4, nil
}

// Names lists the tensors in manifest order.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Len is the number of tensors.
func (s *Set) Len() int { return len(s.names) }

// Tensor returns the named tensor, or nil when the manifest has none by that name.
func (s *Set) Tensor(name string) *Tensor { return s.tensors[name] }

// Get returns the data of the named tensor after checking its shape.
func (s *Set) Get(name string, shape ...int) ([]float32, error) {
	t := s.tensors[name]
	if t == nil {
		return nil, fmt.Errorf("weights: tensor %q missing", name)
	}
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("weights: tensor %q has shape %v, want %v", name, t.Shape, shape)
	}
	return t.Data, nil
}

// Reader looks tensors up for a network under construction and remembers the first error, so
// that building a net reads as a list of tensors followed by one error check.
type Reader struct {
	set    *Set
	prefix string
	err    error
	used   map[string]bool
	parent *Reader // nil for the root; derived Readers report errors to the root
}

// Reader returns a Reader over s.
func (s *Set) Reader() *Reader { return &Reader{set: s, used: make(map[string]bool)} }

// Prefixed returns a Reader that prepends prefix+"/" to every name and shares r's error and use
// record (for repeated blocks: r.Prefixed("conv32_1").Get("conv1/conv/filters", …)).
func (r *Reader) Prefixed(prefix string) *Reader {
	p := prefix
	if r.prefix != "" {
		p = r.prefix + "/" + prefix
	}
	return &Reader{set: r.set, prefix: p, used: r.used, parent: r}
}

// Get returns the named tensor's data, or nil after recording an error if it is missing or has
// another shape.
func (r *Reader) Get(name string, shape ...int) []float32 {
	if r.prefix != "" {
		name = r.prefix + "/" + name
	}
	root := r.root()
	if root.err != nil {
		return nil
	}
	d, err := r.set.Get(name, shape...)
	if err != nil {
		root.err = err
		return nil
	}
	root.used[name] = true
	return d
}

// Err returns the first error met by this Reader or any Reader derived from it.
func (r *Reader) Err() error { return r.root().err }

// Unused lists the tensors of the set that no Get asked for, in manifest order (to spot a net
// that forgot a layer).
func (r *Reader) Unused() []string {
	var out []string
	for _, n := range r.set.names {
		if !r.used[n] {
			out = append(out, n)
		}
	}
	return out
}

func (r *Reader) root() *Reader {
	for r.parent != nil {
		r = r.parent
	}
	return r
}
