package reftest

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// This file decodes baseline JPEGs to exactly the pixels jpeg-js 0.4.4 (the reference runner's
// decoder) produces, so that parity tests feed the networks the reference's input. It is
// hand-written because no Go decoder reproduces jpeg-js: its IDCT is the fixed-point
// Loeffler–Ligtenberg–Moschytz algorithm with 8/12-bit rounding steps (image/jpeg uses another
// integer IDCT, ±1 level apart on a few percent of the pixels), chroma is upsampled by
// replication and YCbCr→RGB is computed in float64 and truncated. That one-level difference
// moves floored crops by a pixel and with them the landmarks and descriptors of the reference.
// Progressive, arithmetic-coded, 12-bit and CMYK files are not handled (errJPEGUnsupported):
// tests fall back to image/jpeg for those.

var errJPEGUnsupported = errors.New("not a baseline 8-bit JPEG with 1 or 3 components")

// zigzag maps the zig-zag scan index to the natural (row-major) coefficient index.
var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
	41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
	30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

type huffman struct {
	// Canonical decoding (T.81 F.2.2.3): per code length, the largest code and the index of its
	// first value.
	maxCode [17]int32
	valPtr  [17]int32
	minCode [17]int32
	values  []uint8
}

func newHuffman(counts [16]int, values []uint8) *huffman {
	h := &huffman{values: values}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		h.valPtr[l] = k
		h.minCode[l] = code
		code += int32(counts[l-1])
		k += int32(counts[l-1])
		if counts[l-1] == 0 {
			h.maxCode[l] = -1
		} else {
			h.maxCode[l] = code - 1
		}
		code <<= 1
	}
	return h
}

type jpegComponent struct {
	id, h, v, tq                   int
	blocksPerLine, blocksPerColumn int
	blocks                         [][64]int32 // mcusPerColumn·v rows × mcusPerLine·h columns
	stride                         int         // blocks per allocated row
	pred                           int32
	dc, ac                         *huffman
}

type bitReader struct {
	data  []byte
	pos   int
	bits  uint32
	count uint
}

func (r *bitReader) bit() uint32 {
	if r.count == 0 {
		var b byte
		if r.pos < len(r.data) {
			b = r.data[r.pos]
			if b == 0xff {
				if r.pos+1 < len(r.data) && r.data[r.pos+1] == 0 {
					r.pos++ // stuffed zero
				} else {
					b = 0 // a marker: feed zeros, never read past it
					r.pos--
				}
			}
			r.pos++
		}
		r.bits, r.count = uint32(b), 8
	}
	r.count--
	return (r.bits >> r.count) & 1
}

func (r *bitReader) receive(n int) int32 {
	var v int32
	for range n {
		v = v<<1 | int32(r.bit())
	}
	return v
}

func (r *bitReader) extend(n int) int32 {
	if n == 0 {
		return 0
	}
	v := r.receive(n)
	if v < 1<<(n-1) {
		v += -1<<n + 1
	}
	return v
}

func (r *bitReader) decode(h *huffman) (int, error) {
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32(r.bit())
		if h.maxCode[l] >= 0 && code <= h.maxCode[l] {
			i := h.valPtr[l] + code - h.minCode[l]
			if int(i) >= len(h.values) {
				break
			}
			return int(h.values[i]), nil
		}
	}
	return 0, errors.New("invalid huffman code")
}

// decodeJPEGJS decodes data like jpeg-js's decode(…, {useTArray: true}) and returns the pixels
// as an opaque NRGBA image.
func decodeJPEGJS(data []byte) (*image.NRGBA, error) {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return nil, errors.New("not a JPEG")
	}
	var (
		qt            [4][64]int32
		dcTables      [4]*huffman
		acTables      [4]*huffman
		comps         []*jpegComponent
		width, height int
		maxH, maxV    = 1, 1
		mcusPerLine   int
		mcusPerColumn int
		restart       int
	)
	pos := 2
	u16 := func() int { v := int(data[pos])<<8 | int(data[pos+1]); pos += 2; return v }
	for pos+4 <= len(data) {
		if data[pos] != 0xff {
			pos++ // garbage between segments
			continue
		}
		marker := data[pos+1]
		pos += 2
		if marker == 0xff || marker == 0x00 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0xd8 || marker == 0x01 {
			if marker == 0xff {
				pos-- // fill byte
			}
			continue
		}
		if marker == 0xd9 {
			break
		}
		length := u16()
		end := pos + length - 2
		if length < 2 || end > len(data) {
			return nil, errors.New("truncated segment")
		}
		switch {
		case marker == 0xdb: // DQT
			for pos < end {
				spec := data[pos]
				pos++
				for j := range 64 {
					if spec>>4 == 0 {
						qt[spec&3][zigzag[j]] = int32(data[pos])
						pos++
					} else {
						qt[spec&3][zigzag[j]] = int32(u16())
					}
				}
			}
		case marker == 0xc0 || marker == 0xc1: // baseline / extended Huffman
			if data[pos] != 8 {
				return nil, errJPEGUnsupported
			}
			height, width = int(data[pos+1])<<8|int(data[pos+2]), int(data[pos+3])<<8|int(data[pos+4])
			n := int(data[pos+5])
			if n != 1 && n != 3 || width == 0 || height == 0 {
				return nil, errJPEGUnsupported
			}
			for i := range n {
				p := pos + 6 + 3*i
				c := &jpegComponent{id: int(data[p]), h: int(data[p+1] >> 4), v: int(data[p+1] & 15), tq: int(data[p+2] & 3)}
				if c.h < 1 || c.v < 1 {
					return nil, fmt.Errorf("component %d: sampling %dx%d", c.id, c.h, c.v)
				}
				maxH, maxV = max(maxH, c.h), max(maxV, c.v)
				comps = append(comps, c)
			}
			mcusPerLine = int(math.Ceil(float64(width) / 8 / float64(maxH)))
			mcusPerColumn = int(math.Ceil(float64(height) / 8 / float64(maxV)))
			for _, c := range comps {
				c.blocksPerLine = int(math.Ceil(math.Ceil(float64(width)/8) * float64(c.h) / float64(maxH)))
				c.blocksPerColumn = int(math.Ceil(math.Ceil(float64(height)/8) * float64(c.v) / float64(maxV)))
				c.stride = mcusPerLine * c.h
				c.blocks = make([][64]int32, mcusPerColumn*c.v*c.stride)
			}
		case marker >= 0xc2 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
			return nil, errJPEGUnsupported // progressive, lossless, arithmetic
		case marker == 0xc4: // DHT
			for pos < end {
				class, id := data[pos]>>4, data[pos]&3
				var counts [16]int
				total := 0
				for i := range 16 {
					counts[i] = int(data[pos+1+i])
					total += counts[i]
				}
				pos += 17
				if pos+total > end {
					return nil, errors.New("truncated huffman table")
				}
				h := newHuffman(counts, append([]uint8(nil), data[pos:pos+total]...))
				pos += total
				if class == 0 {
					dcTables[id] = h
				} else {
					acTables[id] = h
				}
			}
		case marker == 0xdd: // DRI
			restart = u16()
		case marker == 0xda: // SOS
			if comps == nil {
				return nil, errors.New("scan before frame header")
			}
			n := int(data[pos])
			var scan []*jpegComponent
			for i := range n {
				id, tables := int(data[pos+1+2*i]), data[pos+2+2*i]
				for _, c := range comps {
					if c.id == id {
						c.dc, c.ac = dcTables[tables>>4&3], acTables[tables&3]
						if c.dc == nil || c.ac == nil {
							return nil, fmt.Errorf("component %d: huffman table missing", id)
						}
						scan = append(scan, c)
					}
				}
			}
			pos = end
			used, err := decodeScan(data[pos:], scan, mcusPerLine, mcusPerColumn, restart)
			if err != nil {
				return nil, err
			}
			pos += used
			continue
		}
		pos = end
	}
	if comps == nil {
		return nil, errors.New("no frame")
	}
	planes := make([][]uint8, len(comps))
	for i, c := range comps {
		planes[i] = idctPlane(c, &qt[c.tq])
	}
	return toNRGBA(comps, planes, width, height, maxH, maxV), nil
}

// decodeScan decodes one baseline scan and returns the bytes consumed up to the next marker.
func decodeScan(data []byte, scan []*jpegComponent, mcusPerLine, mcusPerColumn, restart int) (int, error) {
	r := &bitReader{data: data}
	total := mcusPerLine * mcusPerColumn
	if len(scan) == 1 {
		total = scan[0].blocksPerLine * scan[0].blocksPerColumn
	}
	if restart == 0 {
		restart = total
	}
	for mcu := 0; mcu < total; {
		for _, c := range scan {
			c.pred = 0
		}
		for n := 0; n < restart && mcu < total; n++ {
			if len(scan) == 1 {
				c := scan[0]
				row, col := mcu/c.blocksPerLine, mcu%c.blocksPerLine
				if err := decodeBlock(r, c, &c.blocks[row*c.stride+col]); err != nil {
					return 0, err
				}
			} else {
				mr, mc := mcu/mcusPerLine, mcu%mcusPerLine
				for _, c := range scan {
					for j := range c.v {
						for k := range c.h {
							if err := decodeBlock(r, c, &c.blocks[(mr*c.v+j)*c.stride+mc*c.h+k]); err != nil {
								return 0, err
							}
						}
					}
				}
			}
			mcu++
		}
		// Skip to the next marker; a restart marker continues the scan.
		r.count = 0
		for r.pos+1 < len(data) && !(data[r.pos] == 0xff && data[r.pos+1] != 0) {
			r.pos++
		}
		if r.pos+1 < len(data) && data[r.pos+1] >= 0xd0 && data[r.pos+1] <= 0xd7 {
			r.pos += 2
			continue
		}
		break
	}
	return r.pos, nil
}

func decodeBlock(r *bitReader, c *jpegComponent, zz *[64]int32) error {
	t, err := r.decode(c.dc)
	if err != nil {
		return err
	}
	c.pred += r.extend(t)
	zz[0] = c.pred
	for k := 1; k < 64; {
		rs, err := r.decode(c.ac)
		if err != nil {
			return err
		}
		s, run := rs&15, rs>>4
		if s == 0 {
			if run < 15 {
				break
			}
			k += 16
			continue
		}
		k += run
		if k > 63 {
			return errors.New("coefficient index out of range")
		}
		zz[zigzag[k]] = r.extend(s)
		k++
	}
	return nil
}

// Fixed-point constants of the Loeffler IDCT (×4096).
const (
	cos1, sin1     = 4017, 799  // cos, sin(π/16)
	cos3, sin3     = 3406, 2276 // 3π/16
	cos6, sin6     = 1567, 3784 // 6π/16
	sqrt2, sqrt1_2 = 5793, 2896
)

// wrap converts like JavaScript's ToInt32 before a shift: the sums above are exact doubles in
// jpeg-js, then wrapped to 32 bits.
func rshift(v int64, n uint) int64 { return int64(int32(v) >> n) }

// idct1D runs the 1-D transform on 8 values spaced by step; rowPass selects the first pass's
// scaling (8-bit rounding, odd inputs ×16) or the second's (12-bit).
func idct1D(p []int64, base, step int, rowPass bool) {
	at := func(i int) int64 { return p[base+i*step] }
	var v0, v1, v2, v3, v4, v5, v6, v7 int64
	if rowPass {
		v0 = rshift(sqrt2*at(0)+128, 8)
		v1 = rshift(sqrt2*at(4)+128, 8)
		v4 = rshift(sqrt1_2*(at(1)-at(7))+128, 8)
		v7 = rshift(sqrt1_2*(at(1)+at(7))+128, 8)
		v5 = int64(int32(at(3)) << 4)
		v6 = int64(int32(at(5)) << 4)
		t := rshift(at(2)*sin6+at(6)*cos6+128, 8)
		v2 = rshift(at(2)*cos6-at(6)*sin6+128, 8)
		v3 = t
	} else {
		v0 = rshift(sqrt2*at(0)+2048, 12)
		v1 = rshift(sqrt2*at(4)+2048, 12)
		v4 = rshift(sqrt1_2*(at(1)-at(7))+2048, 12)
		v7 = rshift(sqrt1_2*(at(1)+at(7))+2048, 12)
		v5, v6 = at(3), at(5)
		t := rshift(at(2)*sin6+at(6)*cos6+2048, 12)
		v2 = rshift(at(2)*cos6-at(6)*sin6+2048, 12)
		v3 = t
	}
	// stage 3 (the even part's rotation was done above)
	v0, v1 = rshift(v0+v1+1, 1), rshift(v0-v1+1, 1)
	v4, v6 = rshift(v4+v6+1, 1), rshift(v4-v6+1, 1)
	v7, v5 = rshift(v7+v5+1, 1), rshift(v7-v5+1, 1)
	// stage 2
	v0, v3 = rshift(v0+v3+1, 1), rshift(v0-v3+1, 1)
	v1, v2 = rshift(v1+v2+1, 1), rshift(v1-v2+1, 1)
	v4, v7 = rshift(v4*cos3-v7*sin3+2048, 12), rshift(v4*sin3+v7*cos3+2048, 12)
	v5, v6 = rshift(v5*cos1-v6*sin1+2048, 12), rshift(v5*sin1+v6*cos1+2048, 12)
	// stage 1
	out := [8]int64{v0 + v7, v1 + v6, v2 + v5, v3 + v4, v3 - v4, v2 - v5, v1 - v6, v0 - v7}
	for i, v := range out {
		p[base+i*step] = int64(int32(v))
	}
}

// idctPlane dequantises and inverse-transforms every block of c into a plane of
// blocksPerLine·8 × blocksPerColumn·8 samples.
func idctPlane(c *jpegComponent, q *[64]int32) []uint8 {
	w := c.blocksPerLine * 8
	plane := make([]uint8, w*c.blocksPerColumn*8)
	var p [64]int64
	for br := range c.blocksPerColumn {
		for bc := range c.blocksPerLine {
			zz := &c.blocks[br*c.stride+bc]
			for i := range p {
				p[i] = int64(int32(int64(zz[i]) * int64(q[i])))
			}
			for row := range 8 {
				r := p[row*8 : row*8+8]
				if r[1]|r[2]|r[3]|r[4]|r[5]|r[6]|r[7] == 0 {
					t := rshift(sqrt2*r[0]+512, 10)
					for i := range r {
						r[i] = t
					}
					continue
				}
				idct1D(p[:], row*8, 1, true)
			}
			for col := range 8 {
				if p[8+col]|p[16+col]|p[24+col]|p[32+col]|p[40+col]|p[48+col]|p[56+col] == 0 {
					t := rshift(sqrt2*p[col]+8192, 14)
					for i := range 8 {
						p[i*8+col] = t
					}
					continue
				}
				idct1D(p[:], col, 8, false)
			}
			for i, v := range p {
				s := 128 + rshift(v+8, 4)
				plane[(br*8+i/8)*w+bc*8+i%8] = uint8(min(max(s, 0), 255))
			}
		}
	}
	return plane
}

// toNRGBA upsamples by replication and converts YCbCr to RGB like jpeg-js's getData.
func toNRGBA(comps []*jpegComponent, planes [][]uint8, width, height, maxH, maxV int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, width, height))
	sample := func(i, x, y int) float64 {
		c := comps[i]
		sy := int(float64(y) * (float64(c.v) / float64(maxV)))
		sx := int(float64(x) * (float64(c.h) / float64(maxH)))
		return float64(planes[i][sy*c.blocksPerLine*8+sx])
	}
	clamp := func(v float64) uint8 { return uint8(math.Trunc(min(max(v, 0), 255))) }
	for y := range height {
		for x := range width {
			o := img.PixOffset(x, y)
			px := img.Pix[o : o+4 : o+4]
			px[3] = 255
			if len(comps) == 1 {
				v := uint8(sample(0, x, y))
				px[0], px[1], px[2] = v, v, v
				continue
			}
			Y, cb, cr := sample(0, x, y), sample(1, x, y)-128, sample(2, x, y)-128
			// Explicit float64 conversions keep each product rounded on its own (no fused
			// multiply-add), as in JavaScript.
			px[0] = clamp(Y + float64(1.402*cr))
			px[1] = clamp(Y - float64(0.3441363*cb) - float64(0.71413636*cr))
			px[2] = clamp(Y + float64(1.772*cb))
		}
	}
	return img
}
