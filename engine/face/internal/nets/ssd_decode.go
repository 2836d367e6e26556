package nets

import (
	"math"
	"sort"
)

// ssdCandidate is one anchor whose score passed the threshold, with its decoded box in the
// normalised coordinates of the square network input. Candidates are gathered in anchor order,
// which the stable sort keeps among equal scores, as the reference's does.
type ssdCandidate struct {
	score                  float32
	ymin, xmin, ymax, xmax float32
}

// decodeSSDBox applies the box coder of the reference (scales 10, 10, 5, 5) to the regression
// t = (ty, tx, th, tw) relative to anchor a = (ymin, xmin, ymax, xmax).
func decodeSSDBox(a, t [4]float32) (ymin, xmin, ymax, xmax float32) {
	ah := a[2] - a[0]
	aw := a[3] - a[1]
	acy := a[0] + ah/2
	acx := a[1] + aw/2
	halfH := float32(math.Exp(float64(t[2]/5))) * ah / 2
	halfW := float32(math.Exp(float64(t[3]/5))) * aw / 2
	cy := t[0]/10*ah + acy
	cx := t[1]/10*aw + acx
	return cy - halfH, cx - halfW, cy + halfH, cx + halfW
}

// sigmoid is the logistic function in float32, like the reference's tf.sigmoid.
func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// ssdIoU is the reference SSD's intersection over union: corners may come in either order, and a
// degenerate box overlaps nothing.
func ssdIoU(a, b *ssdCandidate) float64 {
	ayMin, ayMax := minmax(a.ymin, a.ymax)
	axMin, axMax := minmax(a.xmin, a.xmax)
	byMin, byMax := minmax(b.ymin, b.ymax)
	bxMin, bxMax := minmax(b.xmin, b.xmax)
	areaA := (ayMax - ayMin) * (axMax - axMin)
	areaB := (byMax - byMin) * (bxMax - bxMin)
	if areaA <= 0 || areaB <= 0 {
		return 0
	}
	ih := math.Max(min(ayMax, byMax)-max(ayMin, byMin), 0)
	iw := math.Max(min(axMax, bxMax)-max(axMin, bxMin), 0)
	inter := ih * iw
	return inter / (areaA + areaB - inter)
}

func minmax(a, b float32) (float64, float64) {
	if a < b {
		return float64(a), float64(b)
	}
	return float64(b), float64(a)
}

// ssdNonMaxSuppression is the reference SSD's greedy suppression: candidates by descending score
// (stable), each kept unless it overlaps an already kept one by IoU > iouThreshold, at most
// maxResults kept. The candidates must already have passed the score threshold.
func ssdNonMaxSuppression(cands []ssdCandidate, iouThreshold float64, maxResults int) []ssdCandidate {
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
	var kept []ssdCandidate
	for i := range cands {
		if len(kept) >= maxResults {
			break
		}
		suppressed := false
		for j := len(kept) - 1; j >= 0; j-- {
			if ssdIoU(&cands[i], &kept[j]) > iouThreshold {
				suppressed = true
				break
			}
		}
		if !suppressed {
			kept = append(kept, cands[i])
		}
	}
	return kept
}

// ssdToImage clips a kept box to the square input, undoes the bottom/right padding and scales it
// to pixels of an imgW×imgH image, as the reference's locateFaces does.
func ssdToImage(c ssdCandidate, imgW, imgH, size int) Detection {
	longer := max(imgW, imgH)
	padX := float64(size) / reshapedSide(imgW, longer, size)
	padY := float64(size) / reshapedSide(imgH, longer, size)
	top := math.Max(0, float64(c.ymin)) * padY
	bottom := math.Min(1, float64(c.ymax)) * padY
	left := math.Max(0, float64(c.xmin)) * padX
	right := math.Min(1, float64(c.xmax)) * padX
	return Detection{
		X:     left * float64(imgW),
		Y:     top * float64(imgH),
		W:     (right - left) * float64(imgW),
		H:     (bottom - top) * float64(imgH),
		Score: float64(c.score),
	}
}

// reshapedSide is the reference's computeReshapedDimensions for one side: the length that side
// has inside the size×size input after scaling the longer side to size (JS Math.round). At
// least 1: for a sliver of an image (1×2000) the reference's 0 would turn every box into
// Infinity; the boxes are divided by it.
func reshapedSide(n, longer, size int) float64 {
	return max(1, math.Floor(float64(n)*(float64(size)/float64(longer))+0.5))
}
