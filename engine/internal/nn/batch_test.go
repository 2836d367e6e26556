package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestConv2DApplyBatchMatchesApplyTo runs batches of images through convolutions of every path
// (strip, im2col with small and large weights, Winograd F(2×2) and F(4×4), 1×1) and expects
// each image's ApplyTo result bit for bit (where the images share one gemm, each row is still
// computed as alone, in a full tile or an edge tile).
func TestConv2DApplyBatchMatchesApplyTo(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	same := SamePadding
	cases := []struct {
		name                     string
		h, w, in, out, k, stride int
		pad                      func(h, w, kh, kw, s int) Padding
	}{
		{"stem strip", 20, 20, 3, 32, 7, 2, valid},
		{"strip same", 9, 7, 3, 16, 3, 1, same},
		{"im2col small weights", 9, 9, 16, 24, 3, 2, valid},
		{"down large weights", 8, 8, 128, 256, 3, 2, valid},
		{"256 at 4x4", 4, 4, 256, 256, 3, 1, same},
		{"256 at 1x1", 1, 1, 256, 256, 3, 1, same},
		{"winograd F4", 17, 17, 64, 64, 3, 1, same},
		{"winograd F2", 8, 8, 128, 128, 3, 1, same},
		{"1x1", 5, 5, 200, 300, 1, 1, valid},
	}
	for _, c := range cases {
		for _, n := range []int{1, 2, 5} {
			for _, contiguous := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/n=%d/contiguous=%v", c.name, n, contiguous), func(t *testing.T) {
					pad := c.pad(c.h, c.w, c.k, c.k, c.stride)
					conv := NewConv2D(randSlice(r, c.k*c.k*c.in*c.out), c.k, c.k, c.in, c.out, c.stride, pad,
						randSlice(r, c.out), randSlice(r, c.out), ActReLU)
					oh, ow, oc := conv.OutputShape(c.h, c.w)
					src, dst := make([]*Tensor, n), make([]*Tensor, n)
					all := make([]float32, n*oh*ow*oc)
					for i := range n {
						src[i] = randTensor(r, c.h, c.w, c.in)
						if contiguous {
							dst[i] = &Tensor{H: oh, W: ow, C: oc, Data: all[i*oh*ow*oc : (i+1)*oh*ow*oc]}
						} else {
							dst[i] = NewTensor(oh, ow, oc)
						}
						for j := range dst[i].Data {
							dst[i].Data[j] = 42
						}
					}
					conv.ApplyBatch(dst, src)
					for i := range n {
						assertTensorClose(t, dst[i], conv.Apply(src[i]), 0)
					}
				})
			}
		}
	}
}
