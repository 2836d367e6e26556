// Package evaluate measures how well the face pipeline recognises people: face verification
// on pairs (the LFW protocol: k-fold accuracy with thresholds chosen on the other folds, TAR at
// a fixed FAR, accuracy at a given threshold), identification against a known folder (rank-1,
// unknown rate) and the stability of descriptors under changes that leave the face as it was
// (JPEG re-encoding, shifts of a pixel or two).
//
// The metrics (this file) work on distances and know nothing of images; lfw.go, identify.go
// and stability.go run the engine over a data set to get them.
package evaluate

import (
	"fmt"
	"math"
	"slices"
)

// Score is one verification pair's outcome: the distance between the two faces' descriptors,
// whether they are the same person, and whether both faces were found at all. A pair whose face
// was not found is a wrong answer at every threshold (the system cannot say anything about it).
type Score struct {
	Distance float64
	Same     bool
	Found    bool
	Fold     int // 0-based
}

// accepted reports whether the pair is called "same person" at threshold t (distance below t).
func (s Score) accepted(t float64) bool { return s.Found && s.Distance < t }

// correct reports whether the answer at threshold t is right.
func (s Score) correct(t float64) bool {
	if !s.Found {
		return false
	}
	return s.accepted(t) == s.Same
}

// Accuracy is the fraction of pairs answered correctly at threshold t (missed faces are wrong).
func Accuracy(scores []Score, t float64) float64 {
	if len(scores) == 0 {
		return math.NaN()
	}
	n := 0
	for _, s := range scores {
		if s.correct(t) {
			n++
		}
	}
	return float64(n) / float64(len(scores))
}

// Rates are the error rates at one threshold over all pairs: FAR, the fraction of
// different-person pairs accepted; FRR, the fraction of same-person pairs rejected (a missed
// face rejects its pair).
type Rates struct {
	Threshold float64
	FAR, FRR  float64
	Accuracy  float64
}

// RatesAt computes the rates at threshold t.
func RatesAt(scores []Score, t float64) Rates {
	var pos, neg, fa, fr int
	for _, s := range scores {
		if s.Same {
			pos++
			if !s.accepted(t) {
				fr++
			}
		} else {
			neg++
			if s.accepted(t) {
				fa++
			}
		}
	}
	return Rates{Threshold: t, FAR: ratio(fa, neg), FRR: ratio(fr, pos), Accuracy: Accuracy(scores, t)}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// BestThreshold is the threshold with the highest accuracy on scores: the midpoint between two
// consecutive distances of found pairs (the widest-margin choice among equal accuracies is the
// first, the smallest distance). Missed faces are wrong at any threshold and do not move it.
func BestThreshold(scores []Score) (threshold, accuracy float64) {
	var found []Score
	for _, s := range scores {
		if s.Found {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return math.NaN(), 0
	}
	slices.SortFunc(found, func(a, b Score) int { return cmpFloat(a.Distance, b.Distance) })
	// Threshold below every distance: every pair rejected, the different-person ones right.
	correct := 0
	for _, s := range found {
		if !s.Same {
			correct++
		}
	}
	best, bestT := correct, found[0].Distance-1e-6
	for i := 0; i < len(found); {
		// Move the threshold above all pairs at this distance (ties go together).
		j := i
		for j < len(found) && found[j].Distance == found[i].Distance {
			if found[j].Same {
				correct++ // now accepted: right
			} else {
				correct-- // now accepted: wrong
			}
			j++
		}
		if correct > best {
			best = correct
			if j < len(found) {
				bestT = (found[j-1].Distance + found[j].Distance) / 2
			} else {
				bestT = found[j-1].Distance + 1e-6
			}
		}
		i = j
	}
	return bestT, float64(best) / float64(len(scores))
}

// FoldResult is one fold of a k-fold evaluation: the threshold chosen on the other folds and
// the accuracy it gives on this one.
type FoldResult struct {
	Threshold float64
	Accuracy  float64
	Pairs     int
}

// KFold evaluates each fold with the threshold chosen (BestThreshold) on all the other folds,
// as LFW's protocol prescribes, and returns the per-fold results, their mean and standard
// deviation.
func KFold(scores []Score) (folds []FoldResult, mean, std float64, err error) {
	k := 0
	for _, s := range scores {
		if s.Fold < 0 {
			return nil, 0, 0, fmt.Errorf("evaluate: negative fold %d", s.Fold)
		}
		k = max(k, s.Fold+1)
	}
	if k < 2 {
		return nil, 0, 0, fmt.Errorf("evaluate: k-fold needs at least 2 folds, the pairs have %d", k)
	}
	for f := range k {
		var train, test []Score
		for _, s := range scores {
			if s.Fold == f {
				test = append(test, s)
			} else {
				train = append(train, s)
			}
		}
		if len(test) == 0 {
			return nil, 0, 0, fmt.Errorf("evaluate: fold %d has no pairs", f+1)
		}
		t, _ := BestThreshold(train)
		folds = append(folds, FoldResult{Threshold: t, Accuracy: Accuracy(test, t), Pairs: len(test)})
	}
	for _, f := range folds {
		mean += f.Accuracy
	}
	mean /= float64(k)
	for _, f := range folds {
		std += (f.Accuracy - mean) * (f.Accuracy - mean)
	}
	std = math.Sqrt(std / float64(k))
	return folds, mean, std, nil
}

// TARAtFAR is the true-accept rate (same-person pairs accepted, over all same-person pairs) at
// the largest threshold whose false-accept rate (different-person pairs accepted, over all of
// them) does not exceed far. With n different-person pairs, ⌊far·n⌋ of them may be accepted.
func TARAtFAR(scores []Score, far float64) Rates {
	var neg []float64
	var pos []float64
	nPos := 0
	for _, s := range scores {
		switch {
		case s.Same:
			nPos++
			if s.Found {
				pos = append(pos, s.Distance)
			}
		case s.Found:
			neg = append(neg, s.Distance)
		}
	}
	nNeg := len(scores) - nPos
	allowed := int(math.Floor(far * float64(nNeg)))
	slices.Sort(neg)
	// Accepting means distance < t: t at the (allowed+1)-th smallest different-person distance
	// accepts exactly the allowed ones below it.
	t := math.Inf(1)
	if allowed < len(neg) {
		t = neg[allowed]
	}
	tar := 0
	for _, d := range pos {
		if d < t {
			tar++
		}
	}
	fa := 0
	for _, d := range neg {
		if d < t {
			fa++
		}
	}
	return Rates{Threshold: t, FAR: ratio(fa, nNeg), FRR: 1 - ratio(tar, nPos), Accuracy: Accuracy(scores, t)}
}

// Percentile is the p-th percentile (0–100) of xs by linear interpolation between order
// statistics; NaN for no values. xs is not modified.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
