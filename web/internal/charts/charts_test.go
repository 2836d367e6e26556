package charts

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestBars(t *testing.T) {
	tests := []struct {
		name     string
		points   []Point
		wantBars int
		contains string
	}{
		{"empty", nil, 0, "no data yet"},
		{"all zero", []Point{{"a", 0}, {"b", 0}}, 0, "no data yet"},
		{"values", []Point{{"04:00", 3}, {"04:01", 6}, {"04:02", 0}}, 3, ">6<"},
		{"escapes labels", []Point{{`<script>"x"</script>`, 1}}, 1, "&lt;script&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := string(Bars(`images/min <"all">`, tt.points, 300, 60))
			d := xml.NewDecoder(strings.NewReader(svg))
			for {
				if _, err := d.Token(); err != nil {
					if err.Error() != "EOF" {
						t.Fatalf("chart is not well-formed SVG: %v\n%s", err, svg)
					}
					break
				}
			}
			if n := strings.Count(svg, `<rect class="bar"`); n != tt.wantBars {
				t.Fatalf("%d bars, want %d", n, tt.wantBars)
			}
			if !strings.Contains(svg, tt.contains) {
				t.Fatalf("chart lacks %q:\n%s", tt.contains, svg)
			}
			if strings.Contains(svg, "<script") {
				t.Fatalf("unescaped markup in chart: %s", svg)
			}
		})
	}
}
