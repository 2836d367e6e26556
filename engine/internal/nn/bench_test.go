package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/facecluster/facecluster/internal/testutil"
)

// convShapes are the hot convolutions of the face networks (recognition ResNet, SSD MobileNetV1).
var convShapes = []struct {
	name                     string
	h, w, in, out, k, stride int
	same                     bool
}{
	{"rec-stem-150x150x3-7x7s2-32", 150, 150, 3, 32, 7, 2, false},
	{"rec-35x35x32-3x3-32", 35, 35, 32, 32, 3, 1, true},
	{"rec-17x17x64-3x3-64", 17, 17, 64, 64, 3, 1, true},
	{"rec-8x8x128-3x3-128", 8, 8, 128, 128, 3, 1, true},
	{"rec-4x4x256-3x3-256", 4, 4, 256, 256, 3, 1, true},
	{"rec-35x35x32-3x3s2-64", 35, 35, 32, 64, 3, 2, false},
	{"ssd-conv0-512x512x3-3x3s2-32", 512, 512, 3, 32, 3, 2, true},
	{"ssd-pw-256x256x32-64", 256, 256, 32, 64, 1, 1, true},
	{"ssd-pw-128x128x64-128", 128, 128, 64, 128, 1, 1, true},
	{"ssd-pw-64x64x128-256", 64, 64, 128, 256, 1, 1, true},
	{"ssd-pw-32x32x512-512", 32, 32, 512, 512, 1, 1, true},
	{"ssd-pw-16x16x1024-1024", 16, 16, 1024, 1024, 1, 1, true},
}

// reportGFLOPS reports the speed by wall time and by the process's CPU time (the ops are
// single-threaded, so on a loaded machine cpu-GFLOPS is the kernel's own speed).
func reportGFLOPS(b *testing.B, flopsPerOp float64, cpu time.Duration) {
	total := flopsPerOp * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOPS")
	if cpu > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e9, "cpu-GFLOPS")
	}
}

func BenchmarkConv2D(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range convShapes {
		b.Run(s.name, func(b *testing.B) {
			pad := Padding{}
			if s.same {
				pad = SamePadding(s.h, s.w, s.k, s.k, s.stride)
			}
			conv := NewConv2D(randSlice(r, s.k*s.k*s.in*s.out), s.k, s.k, s.in, s.out, s.stride, pad, nil, randSlice(r, s.out), ActReLU)
			src := randTensor(r, s.h, s.w, s.in)
			oh, ow, oc := conv.OutputShape(s.h, s.w)
			dst := NewTensor(oh, ow, oc)
			b.ReportAllocs()
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				conv.ApplyTo(dst, src)
			}
			reportGFLOPS(b, 2*float64(oh*ow*oc*s.k*s.k*s.in), testutil.CPUTime()-cpu0)
		})
	}
}

func BenchmarkDepthwise3x3(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, s := range []struct{ h, c, stride int }{{256, 32, 1}, {256, 64, 2}, {128, 128, 1}, {64, 256, 1}, {32, 512, 1}, {16, 1024, 1}} {
		b.Run(fmt.Sprintf("%dx%dx%d-s%d", s.h, s.h, s.c, s.stride), func(b *testing.B) {
			dw := NewDepthwiseConv2D(randSlice(r, 9*s.c), 3, 3, s.c, s.stride, SamePadding(s.h, s.h, 3, 3, s.stride), randSlice(r, s.c), randSlice(r, s.c), ActReLU6)
			src := randTensor(r, s.h, s.h, s.c)
			oh, ow, oc := dw.OutputShape(s.h, s.h)
			dst := NewTensor(oh, ow, oc)
			b.ReportAllocs()
			cpu0 := testutil.CPUTime()
			for b.Loop() {
				dw.ApplyTo(dst, src)
			}
			reportGFLOPS(b, 2*float64(oh*ow*oc*9), testutil.CPUTime()-cpu0)
		})
	}
}

func BenchmarkMaxPool(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, s := range []struct{ h, c, k, stride int }{{414, 16, 2, 2}, {13, 512, 2, 1}, {72, 32, 3, 2}} {
		b.Run(fmt.Sprintf("%dx%dx%d-k%d-s%d", s.h, s.h, s.c, s.k, s.stride), func(b *testing.B) {
			src := randTensor(r, s.h, s.h, s.c)
			pad := SamePadding(s.h, s.h, s.k, s.k, s.stride)
			if s.k == 3 {
				pad = Padding{}
			}
			b.ReportAllocs()
			for b.Loop() {
				MaxPool(src, s.k, s.stride, pad)
			}
			b.ReportMetric(float64(s.h*s.h*s.c)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gvalues/s")
		})
	}
}
