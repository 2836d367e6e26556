package nets

import (
	"sync"

	"github.com/facecluster/facecluster/engine/internal/nn"
)

// layer is what the detectors need of nn's convolutions to run them into reused buffers.
type layer interface {
	OutputShape(h, w int) (int, int, int)
	ApplyTo(dst, src *nn.Tensor)
}

// rowLayer is a convolution that can also run as horizontal bands of its output computed
// concurrently, to spread one image over several cores. A band reads only the input rows its
// window covers, as a view, so it needs the layer's weights with the padding of its position: the
// top band keeps the top padding, the bottom band the bottom padding, inner bands neither
// (their neighbours' rows stand where the padding was). nn layers take their padding at
// construction, hence the variants; for unpadded layers all four are the same layer.
type rowLayer struct {
	whole               layer
	top, middle, bottom layer
	kernel, stride      int
	padTop              int
}

// newRowLayer builds a layer and its band variants with build, which makes the layer for a padding.
func newRowLayer(kernel, stride int, pad nn.Padding, build func(nn.Padding) layer) rowLayer {
	rl := rowLayer{whole: build(pad), kernel: kernel, stride: stride, padTop: pad.Top}
	if pad.Top == 0 && pad.Bottom == 0 {
		rl.top, rl.middle, rl.bottom = rl.whole, rl.whole, rl.whole
		return rl
	}
	sides := nn.Padding{Left: pad.Left, Right: pad.Right}
	top, bottom := sides, sides
	top.Top, bottom.Bottom = pad.Top, pad.Bottom
	rl.top, rl.middle, rl.bottom = build(top), build(sides), build(bottom)
	return rl
}

// apply writes the layer's output for src into dst, in up to bands concurrent bands of rows.
// Every output value is computed exactly as by the whole layer.
func (l *rowLayer) apply(dst, src *nn.Tensor, bands int) {
	bands = min(bands, dst.H)
	if bands <= 1 {
		l.whole.ApplyTo(dst, src)
		return
	}
	var wg sync.WaitGroup
	for i := range bands {
		r0, r1 := dst.H*i/bands, dst.H*(i+1)/bands
		band := l.middle
		switch i {
		case 0:
			band = l.top
		case bands - 1:
			band = l.bottom
		}
		in0 := max(0, r0*l.stride-l.padTop)
		in1 := min(src.H, (r1-1)*l.stride-l.padTop+l.kernel)
		in, out := rowsOf(src, in0, in1), rowsOf(dst, r0, r1)
		if i == bands-1 {
			band.ApplyTo(out, in) // the last band on this goroutine
		} else {
			wg.Go(func() { band.ApplyTo(out, in) })
		}
	}
	wg.Wait()
}

// rowsOf is a view of rows [y0, y1) of t, sharing its data.
func rowsOf(t *nn.Tensor, y0, y1 int) *nn.Tensor {
	row := t.W * t.C
	return &nn.Tensor{H: y1 - y0, W: t.W, C: t.C, Data: t.Data[y0*row : y1*row : y1*row]}
}

// activations hands out the destinations of a chain of layers from two reused buffers: each
// output goes into the buffer the previous output does not occupy, so a layer never overwrites
// its own input. Recycled through a sync.Pool per detector, it spares each call allocating (and
// clearing) a fresh tensor per layer, ~110 MB per SSD image. Not safe for concurrent use.
type activations struct {
	bufs  [2][]float32
	next  int
	input []float32 // the network input, for detectors that keep it apart (SSD, Tiny)
}

// output returns an h×w×c destination in the next buffer, grown if needed. Its contents are
// stale: the layers overwrite every value.
func (a *activations) output(h, w, c int) *nn.Tensor {
	n := h * w * c
	if cap(a.bufs[a.next]) < n {
		a.bufs[a.next] = make([]float32, n)
	}
	t := &nn.Tensor{H: h, W: w, C: c, Data: a.bufs[a.next][:n]}
	a.next ^= 1
	return t
}

// outputOf returns the destination for l's output on src.
func (a *activations) outputOf(l layer, src *nn.Tensor) *nn.Tensor {
	return a.output(l.OutputShape(src.H, src.W))
}
