package face

import "testing"

func TestPrimaryIsTheLargestFace(t *testing.T) {
	face := func(w, h, score float64) Face { return Face{Box: Box{W: w, H: h}, Score: score} }
	for _, tc := range []struct {
		name  string
		faces []Face
		want  int // index into faces; -1: none
	}{
		{"none", nil, -1},
		{"one", []Face{face(10, 10, 0.5)}, 0},
		{"largest beats more confident", []Face{face(20, 20, 0.99), face(80, 90, 0.6)}, 1},
		{"area, not width", []Face{face(100, 10, 0.9), face(40, 40, 0.9)}, 1},
		{"equal areas: more confident", []Face{face(30, 30, 0.7), face(30, 30, 0.8)}, 1},
		{"equal areas and scores: first", []Face{face(30, 30, 0.8), face(30, 30, 0.8)}, 0},
		{"whole image (score 0) is the largest", []Face{{Box: Box{W: 150, H: 150}, Whole: true}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.faces {
				tc.faces[i].Box.X = float64(i) // tells equal boxes apart
			}
			got, ok := Primary(tc.faces)
			if tc.want < 0 {
				if ok {
					t.Fatalf("Primary of no faces = %+v, true; want false", got)
				}
				return
			}
			if !ok || got.Box != tc.faces[tc.want].Box {
				t.Fatalf("Primary = %+v (%v), want face %d %+v", got.Box, ok, tc.want, tc.faces[tc.want].Box)
			}
		})
	}
}
