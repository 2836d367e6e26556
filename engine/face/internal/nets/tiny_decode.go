package nets

import (
	"math"
	"sort"
)

// tinyAnchors are TinyFaceDetector's five box priors (width, height) in grid cells.
var tinyAnchors = [5][2]float64{
	{1.603231, 2.094468},
	{6.041143, 7.080126},
	{2.882459, 3.518061},
	{4.266906, 5.178857},
	{9.041765, 10.66308},
}

const (
	tinyBoxEncoding  = 5 // tx, ty, tw, th, objectness
	tinyIoUThreshold = 0.4
)

// tinyBox is a decoded TinyFaceDetector box, relative to the image (0..1 on both axes).
type tinyBox struct {
	score                    float64
	left, top, right, bottom float64
}

func (b tinyBox) area() float64 { return (b.right - b.left) * (b.bottom - b.top) }

// decodeTiny turns the grid×grid×25 head output into the boxes scoring above threshold, in the
// reference's order (row, column, anchor). correctX/correctY undo the bottom/right padding
// (input size / the image's reshaped side).
func decodeTiny(out []float32, grid int, threshold, correctX, correctY float64) []tinyBox {
	var boxes []tinyBox
	g := float64(grid)
	for row := range grid {
		for col := range grid {
			for a, anchor := range tinyAnchors {
				t := out[((row*grid+col)*len(tinyAnchors)+a)*tinyBoxEncoding:]
				score := float64(sigmoid(t[4]))
				if score <= threshold {
					continue
				}
				ctX := (float64(col) + float64(sigmoid(t[0]))) / g * correctX
				ctY := (float64(row) + float64(sigmoid(t[1]))) / g * correctY
				w := math.Exp(float64(t[2])) * anchor[0] / g * correctX
				h := math.Exp(float64(t[3])) * anchor[1] / g * correctY
				x, y := ctX-w/2, ctY-h/2
				boxes = append(boxes, tinyBox{score: score, left: x, top: y, right: x + w, bottom: y + h})
			}
		}
	}
	return boxes
}

// tinyIoUOf is plain intersection over union.
func tinyIoUOf(a, b tinyBox) float64 {
	w := math.Max(0, math.Min(a.right, b.right)-math.Max(a.left, b.left))
	h := math.Max(0, math.Min(a.bottom, b.bottom)-math.Max(a.top, b.top))
	inter := w * h
	return inter / (a.area() + b.area() - inter)
}

// tinyNonMaxSuppression is the reference's generic greedy suppression: repeatedly take the
// highest score (among equal scores the later box, as the reference pops the end of a stable
// ascending sort) and drop every remaining box overlapping it by IoU > iouThreshold. No cap.
func tinyNonMaxSuppression(boxes []tinyBox, iouThreshold float64) []tinyBox {
	order := make([]int, len(boxes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return boxes[order[i]].score < boxes[order[j]].score })
	var kept []tinyBox
	for len(order) > 0 {
		best := boxes[order[len(order)-1]]
		order = order[:len(order)-1]
		kept = append(kept, best)
		rest := order[:0]
		for _, i := range order {
			if tinyIoUOf(best, boxes[i]) <= iouThreshold {
				rest = append(rest, i)
			}
		}
		order = rest
	}
	return kept
}
