package nn

import (
	"fmt"

	"github.com/facecluster/facecluster/engine/internal/blas"
)

// ApplyBatch writes the convolution of every src[i] into dst[i]: a batch of images of one
// shape through the same layer. Layers whose weights are large (read from L3 or memory rather
// than L2: the recognition net's 128- and 256-channel layers at a few pixels) multiply the
// patches, or Winograd tiles, of all the images in one gemm, so that the weights are read once
// per batch instead of once per image; the others run image by image. Every image's result is
// the one ApplyTo gives, bit for bit.
func (c *Conv2D) ApplyBatch(dst, src []*Tensor) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("nn: Conv2D.ApplyBatch: %d destinations for %d sources", len(dst), len(src)))
	}
	if len(src) == 0 {
		return
	}
	for i := range src {
		if src[i].H != src[0].H || src[i].W != src[0].W || src[i].C != src[0].C {
			panic(fmt.Sprintf("nn: Conv2D.ApplyBatch: image %d is %s, image 0 %s", i, src[i].Shape(), src[0].Shape()))
		}
	}
	if len(src) == 1 || c.weights.PreferRows() && c.wino == nil || c.strip != nil || c.direct != nil {
		for i := range src {
			c.ApplyTo(dst[i], src[i])
		}
		return
	}
	if src[0].C != c.in {
		panic(fmt.Sprintf("nn: Conv2D: input %s has %d channels, want %d", src[0].Shape(), src[0].C, c.in))
	}
	oh, ow := checkWindow("Conv2D", src[0], c.kh, c.kw, c.stride, c.pad)
	for _, d := range dst {
		if d.H != oh || d.W != ow || d.C != c.out {
			panic(fmt.Sprintf("nn: Conv2D: destination %s, want %dx%dx%d", d.Shape(), oh, ow, c.out))
		}
	}
	if c.wino != nil {
		c.wino.applyBatch(dst, src)
		return
	}
	k := c.kh * c.kw * c.in
	m := oh * ow
	n := len(src)
	bufp := scratch.Get().(*[]float32)
	defer scratch.Put(bufp)
	if cap(*bufp) < n*m*k {
		*bufp = make([]float32, n*m*k)
	}
	cols := (*bufp)[:n*m*k]
	for b, s := range src {
		if c.kh == 1 && c.kw == 1 && c.stride == 1 && c.pad == (Padding{}) {
			copy(cols[b*m*k:(b+1)*m*k], s.Data)
			continue
		}
		for i := range m {
			oy, ox := i/ow, i%ow
			patch(cols[(b*m+i)*k:(b*m+i+1)*k], s, c.kh, c.kw, oy*c.stride-c.pad.Top, ox*c.stride-c.pad.Left)
		}
	}
	out, contiguous := batchOutput(dst, m*c.out)
	if !contiguous {
		op := scratch.Get().(*[]float32)
		defer scratch.Put(op)
		if cap(*op) < n*m*c.out {
			*op = make([]float32, n*m*c.out)
		}
		out = (*op)[:n*m*c.out]
	}
	blas.SgemmEpilogue(n*m, cols, k, c.weights, c.ep, out, c.out)
	if !contiguous {
		for b, d := range dst {
			copy(d.Data, out[b*m*c.out:])
		}
	}
}

// batchOutput returns the one slice that holds the data of every dst back to back (size values
// each), if they are laid out so.
func batchOutput(dst []*Tensor, size int) ([]float32, bool) {
	first := dst[0].Data
	if size == 0 || cap(first) < len(dst)*size {
		return nil, false
	}
	all := first[:len(dst)*size]
	for b, d := range dst {
		if len(d.Data) != size || &all[b*size] != &d.Data[0] {
			return nil, false
		}
	}
	return all, true
}

// applyBatch is applyTo over several images (the caller has checked the shapes): the tiles of
// all of them are transformed and multiplied together, block by block.
func (w *winograd) applyBatch(dst, src []*Tensor) {
	m, a := w.scheme.m, w.scheme.a
	a2 := a * a
	th, tw := (dst[0].H+m-1)/m, (dst[0].W+m-1)/m
	per := th * tw
	tiles := per * len(src)
	C, K := w.in, w.out
	nb := w.tileBlock(tiles)

	s := winogradPool.Get().(*winogradScratch)
	defer winogradPool.Put(s)
	s.v = grow(s.v, nb*a2*C)
	s.m = grow(s.m, nb*a2*K)
	s.d = grow(s.d, a2*C)
	s.tmp = grow(s.tmp, a2*max(C, K))
	s.row = grow(s.row, m*K)

	for base := 0; base < tiles; base += nb {
		n := min(nb, tiles-base)
		for t := range n {
			img, tile := (base+t)/per, (base+t)%per
			ty, tx := tile/tw, tile%tw
			w.inputTile(s, s.v[t*a2*C:(t+1)*a2*C], src[img], m*ty-w.pad.Top, m*tx-w.pad.Left)
		}
		for p := range a2 {
			va, mc := s.v[p*C:], s.m[p*K:]
			if w.u[p].PreferRows() {
				blas.SgemmRows(n, va, a2*C, w.u[p], nil, mc, a2*K)
			} else {
				blas.SgemmEpilogue(n, va, a2*C, w.u[p], nil, mc, a2*K)
			}
		}
		for t := range n {
			img, tile := (base+t)/per, (base+t)%per
			ty, tx := tile/tw, tile%tw
			w.outputTile(s, s.m[t*a2*K:(t+1)*a2*K], dst[img], m*ty, m*tx)
		}
	}
}
