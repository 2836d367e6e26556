package nets

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/facecluster/facecluster/engine/internal/nn"
)

// TestRowBandsMatchWholeLayer checks that running a layer as bands of rows gives exactly the
// whole layer's output, for the paddings TensorFlow's SAME produces with strides 1 and 2 on odd
// and even sizes, and for more bands than rows.
func TestRowBandsMatchWholeLayer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	for _, tc := range []struct {
		h, w, c, k, stride int
		depthwise          bool
	}{
		{13, 9, 5, 3, 1, true}, {13, 9, 5, 3, 2, true}, {16, 16, 8, 3, 2, true}, {7, 4, 3, 3, 1, true},
		{13, 9, 5, 3, 2, false}, {12, 10, 3, 3, 2, false}, {9, 7, 4, 3, 1, false}, {11, 6, 4, 1, 1, false},
	} {
		src := nn.NewTensor(tc.h, tc.w, tc.c)
		copy(src.Data, random(len(src.Data)))
		pad := nn.SamePadding(tc.h, tc.w, tc.k, tc.k, tc.stride)
		out := 6
		bias := random(out)
		var rl rowLayer
		if tc.depthwise {
			filter, dbias := random(tc.k*tc.k*tc.c), random(tc.c)
			rl = newRowLayer(tc.k, tc.stride, pad, func(p nn.Padding) layer {
				return nn.NewDepthwiseConv2D(filter, tc.k, tc.k, tc.c, tc.stride, p, nil, dbias, nn.ActReLU6)
			})
		} else {
			filter := random(tc.k * tc.k * tc.c * out)
			rl = newRowLayer(tc.k, tc.stride, pad, func(p nn.Padding) layer {
				return nn.NewConv2D(filter, tc.k, tc.k, tc.c, out, tc.stride, p, nil, bias, nn.ActLeaky)
			})
		}
		oh, ow, oc := rl.whole.OutputShape(tc.h, tc.w)
		want := nn.NewTensor(oh, ow, oc)
		rl.whole.ApplyTo(want, src)
		for _, bands := range []int{2, 3, 4, oh + 3} {
			t.Run(fmt.Sprintf("%dx%dx%d_k%d_s%d_dw%v_bands%d", tc.h, tc.w, tc.c, tc.k, tc.stride, tc.depthwise, bands), func(t *testing.T) {
				got := nn.NewTensor(oh, ow, oc)
				rl.apply(got, src, bands)
				for i := range got.Data {
					if got.Data[i] != want.Data[i] {
						t.Fatalf("value %d: %v, the whole layer gives %v", i, got.Data[i], want.Data[i])
					}
				}
			})
		}
	}
}
