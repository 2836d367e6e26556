package evaluate

import (
	"math"
	"strings"
	"testing"
)

// scoresOf builds scores from (distance, same) lists, one fold each.
func scoresOf(folds ...[]Score) []Score {
	var out []Score
	for f, ss := range folds {
		for _, s := range ss {
			s.Fold = f
			s.Found = true
			out = append(out, s)
		}
	}
	return out
}

func same(ds ...float64) []Score {
	var out []Score
	for _, d := range ds {
		out = append(out, Score{Distance: d, Same: true})
	}
	return out
}

func diff(ds ...float64) []Score {
	var out []Score
	for _, d := range ds {
		out = append(out, Score{Distance: d})
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBestThreshold(t *testing.T) {
	for _, tc := range []struct {
		name      string
		scores    []Score
		threshold float64
		accuracy  float64
	}{
		{"separable", scoresOf(append(same(0.2, 0.3, 0.4), diff(0.7, 0.8, 0.9)...)), 0.55, 1},
		// One different-person pair at 0.35 among the same ones: cutting below it and above
		// 0.4 both get 5 of 6 right; the lower cut comes first and is kept.
		{"overlap", scoresOf(append(same(0.2, 0.3, 0.4), diff(0.35, 0.8, 0.9)...)), 0.325, 5.0 / 6},
		{"ties", scoresOf(append(same(0.5, 0.5), diff(0.5, 0.9)...)), 0.7, 3.0 / 4},
	} {
		th, acc := BestThreshold(tc.scores)
		if !near(th, tc.threshold) || !near(acc, tc.accuracy) {
			t.Errorf("%s: threshold %v accuracy %v, want %v %v", tc.name, th, acc, tc.threshold, tc.accuracy)
		}
		if got := Accuracy(tc.scores, th); !near(got, tc.accuracy) {
			t.Errorf("%s: Accuracy at the best threshold %v, BestThreshold says %v", tc.name, got, tc.accuracy)
		}
	}
}

func TestMissedFacesAreWrong(t *testing.T) {
	s := scoresOf(append(same(0.2, 0.3), diff(0.8, 0.9)...))
	s = append(s, Score{Same: true}, Score{Same: false}) // faces not found
	if got := Accuracy(s, 0.5); !near(got, 4.0/6) {
		t.Errorf("accuracy %v, want 4/6: a missed pair is wrong even when it is a different-person pair", got)
	}
	r := RatesAt(s, 0.5)
	if !near(r.FRR, 1.0/3) || !near(r.FAR, 0) {
		t.Errorf("rates %+v: want FRR 1/3 (the missed same pair rejected), FAR 0", r)
	}
	if th, acc := BestThreshold(s); !near(th, 0.55) || !near(acc, 4.0/6) {
		t.Errorf("best threshold %v accuracy %v, want 0.55 and 4/6", th, acc)
	}
}

// TestKFoldUsesTheOtherFolds: each fold is judged with the threshold learnt on the others, so a
// fold whose own best threshold differs loses accuracy.
func TestKFoldUsesTheOtherFolds(t *testing.T) {
	// Folds 0 and 1 separate at 0.5; fold 2's same pairs are far (0.6–0.65), its different
	// ones farther (0.9): alone it would separate at 0.75, but the others' threshold (~0.5)
	// rejects its same pairs.
	s := scoresOf(
		append(same(0.2, 0.3), diff(0.7, 0.8)...),
		append(same(0.25, 0.35), diff(0.65, 0.75)...),
		append(same(0.6, 0.62), diff(0.9, 0.95)...),
	)
	folds, mean, std, err := KFold(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(folds) != 3 {
		t.Fatalf("%d folds", len(folds))
	}
	// Fold 2's threshold comes from folds 0 and 1: between 0.35 and 0.65.
	if th := folds[2].Threshold; !(th > 0.35 && th < 0.65) {
		t.Errorf("fold 3 threshold %v, want one from folds 1 and 2 (0.35–0.65)", th)
	}
	if folds[2].Accuracy != 0.5 || folds[0].Accuracy != 1 {
		t.Errorf("fold accuracies %v %v %v, want 1, ·, 0.5", folds[0].Accuracy, folds[1].Accuracy, folds[2].Accuracy)
	}
	want := (folds[0].Accuracy + folds[1].Accuracy + folds[2].Accuracy) / 3
	if !near(mean, want) || std <= 0 {
		t.Errorf("mean %v std %v, want mean %v and a spread", mean, std, want)
	}
	if _, _, _, err := KFold(scoresOf(same(0.1))); err == nil {
		t.Error("one fold: no error")
	}
}

func TestTARAtFAR(t *testing.T) {
	// 1 000 different-person pairs at 0.500, 0.501, …; 10 same-person pairs at 0.4995 … 0.5085
	// and one missed.
	var s []Score
	for i := range 1000 {
		s = append(s, Score{Distance: 0.5 + float64(i)/1000, Found: true})
	}
	for i := range 10 {
		s = append(s, Score{Distance: 0.4995 + float64(i)/1000, Same: true, Found: true})
	}
	s = append(s, Score{Same: true})
	// FAR 1 %: 10 different pairs may pass: threshold 0.510 accepts 0.500…0.509 and all ten
	// found same pairs; the missed one is rejected: TAR 10/11.
	r := TARAtFAR(s, 0.01)
	if !near(r.Threshold, 0.510) || !near(r.FAR, 0.01) || !near(1-r.FRR, 10.0/11) {
		t.Errorf("FAR 1 %%: %+v, want threshold 0.510, FAR 1 %%, TAR 10/11", r)
	}
	// FAR 0.1 %: one different pair may pass (0.500): threshold 0.501, same pairs below it:
	// 0.4995 and 0.5005: TAR 2/11.
	r = TARAtFAR(s, 0.001)
	if !near(r.Threshold, 0.501) || !near(r.FAR, 0.001) || !near(1-r.FRR, 2.0/11) {
		t.Errorf("FAR 0.1 %%: %+v, want threshold 0.501, FAR 0.1 %%, TAR 2/11", r)
	}
	// FAR 0: nothing different may pass.
	if r := TARAtFAR(s, 0); !near(r.Threshold, 0.5) || r.FAR != 0 || !near(1-r.FRR, 1.0/11) {
		t.Errorf("FAR 0: %+v", r)
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 3, 2, 4}
	for p, want := range map[float64]float64{0: 1, 50: 3, 100: 5, 25: 2, 99: 4.96} {
		if got := Percentile(xs, p); !near(got, want) {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if xs[0] != 5 {
		t.Error("Percentile sorted its input")
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("no values: want NaN")
	}
}

func TestReadPairs(t *testing.T) {
	pairs, err := ReadPairs(strings.NewReader("2\t1\nAnn\t1\t2\nBob 3 Cy 4\n\nDee 1 5\nEve\t2\tFay\t1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Pair{
		{A: Image{"Ann", 1}, B: Image{"Ann", 2}, Same: true, Fold: 0},
		{A: Image{"Bob", 3}, B: Image{"Cy", 4}, Fold: 0},
		{A: Image{"Dee", 1}, B: Image{"Dee", 5}, Same: true, Fold: 1},
		{A: Image{"Eve", 2}, B: Image{"Fay", 1}, Fold: 1},
	}
	if len(pairs) != len(want) {
		t.Fatalf("%d pairs, want %d", len(pairs), len(want))
	}
	for i := range want {
		if pairs[i] != want[i] {
			t.Errorf("pair %d: %+v, want %+v", i, pairs[i], want[i])
		}
	}
	if p := want[0].A.Path("/lfw"); p != "/lfw/Ann/Ann_0001.jpg" {
		t.Errorf("path %s", p)
	}
	for _, bad := range []struct{ in, msg string }{
		{"", "no header"},
		{"2 x\n", "header"},
		{"1 1\nAnn 1 2\n", "fold 1 ends early"},
		{"1 1\nAnn 1\nBob 1 Cy 2\n", "same-person pair"},
		{"1 1\nAnn 1 2\nBob 1 Cy\n", "different-people pair"},
		{"1 1\nAnn 0 2\nBob 1 Cy 2\n", "image number"},
		{"1 1\nAnn 1 2\nBob 1 Cy 2\nZed 1 2\n", "after the 1 folds"},
	} {
		if _, err := ReadPairs(strings.NewReader(bad.in)); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%q: error %v, want one saying %q", bad.in, err, bad.msg)
		}
	}
}
