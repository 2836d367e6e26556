package nn

import "github.com/facecluster/facecluster/engine/internal/blas"

// A convolution with few input channels (the first layer of a network: 3 colours) spends as
// much time gathering im2col patches as multiplying them: each patch is kh·kw·in values for
// a handful of multiply-adds per weight column. The strip layout gathers every output row
// once, kw/stride times fewer copies, and lets the gemm read the patches in place:
//
//	strip[x][ky][c] = input[oy·stride − pad.Top + ky][x − pad.Left][c]   (zero outside)
//
// for every padded input column x. The patch of output pixel ox is then the kw·kh·in values
// from strip[ox·stride] on — contiguous, in (kx, ky, c) order — and consecutive output pixels
// are stride·kh·in values apart: a matrix with that row stride, multiplied by the filter
// reordered to (kx, ky, c, out).

// useStrip reports whether a convolution takes the strip path: few input channels, windows
// that overlap (stride < kw) and weights small enough for SgemmRows.
func useStrip(kh, kw, in, out, stride int) bool {
	return in <= 4 && kh > 1 && stride < kw && kh*kw*in*out*4 <= 64<<10
}

// packStrip reorders an HWIO filter [kh,kw,in,out] to (kx, ky, c) rows and packs it.
func packStrip(filter []float32, kh, kw, in, out int) *blas.PackedB {
	w := make([]float32, len(filter))
	for ky := range kh {
		for kx := range kw {
			for c := range in {
				src := ((ky*kw+kx)*in + c) * out
				dst := ((kx*kh+ky)*in + c) * out
				copy(w[dst:dst+out], filter[src:src+out])
			}
		}
	}
	return blas.PackB(kh*kw*in, out, w, out)
}

// applyStrip is ApplyTo through the strip layout; the caller has checked the shapes.
func (c *Conv2D) applyStrip(dst, src *Tensor, oh, ow int) {
	C := src.C
	col := c.kh * C       // values per strip column
	lda := c.stride * col // between consecutive output pixels
	k := c.kw * col
	cols := (ow-1)*c.stride + c.kw // padded input columns the row reads
	// SgemmRows reads whole groups of PanelRows patches: room for the last group's extra rows.
	groups := (ow + blas.PanelRows - 1) / blas.PanelRows
	n := max(cols*col, (groups*blas.PanelRows-1)*lda+k)
	bufp := scratch.Get().(*[]float32)
	defer scratch.Put(bufp)
	if cap(*bufp) < n {
		*bufp = make([]float32, n)
	}
	strip := (*bufp)[:n]
	clear(strip[cols*col:])
	// Padded columns inside the input.
	x0 := min(max(c.pad.Left, 0), cols)
	x1 := max(min(src.W+c.pad.Left, cols), x0)
	rowLen := src.W * C
	for oy := range oh {
		for ky := range c.kh {
			iy := oy*c.stride - c.pad.Top + ky
			if iy < 0 || iy >= src.H {
				for x := range cols {
					clear(strip[x*col+ky*C : x*col+ky*C+C])
				}
				continue
			}
			for x := 0; x < x0; x++ {
				clear(strip[x*col+ky*C : x*col+ky*C+C])
			}
			for x := x1; x < cols; x++ {
				clear(strip[x*col+ky*C : x*col+ky*C+C])
			}
			row := src.Data[iy*rowLen+(x0-c.pad.Left)*C : iy*rowLen+(x1-c.pad.Left)*C]
			if C == 3 {
				for i := 0; i+3 <= len(row); i += 3 {
					o := strip[(x0+i/3)*col+ky*3:]
					o[0], o[1], o[2] = row[i], row[i+1], row[i+2]
				}
				continue
			}
			for i := 0; i < x1-x0; i++ {
				copy(strip[(x0+i)*col+ky*C:(x0+i)*col+ky*C+C], row[i*C:(i+1)*C])
			}
		}
		blas.SgemmRows(ow, strip, lda, c.strip, c.ep, dst.Data[oy*ow*c.out:(oy+1)*ow*c.out], c.out)
	}
}
