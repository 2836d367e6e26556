// Package charts draws the status page's small charts as SVG on the server, so the page needs
// no charting script and stays within a strict Content-Security-Policy (attributes only, no
// inline styles). Hand-written because a bar chart is a few rectangles; the Go charting
// libraries render PNGs or need a browser.
package charts

import (
	"fmt"
	"html/template"
	"strings"
)

// Point is one bar: a label for its tooltip and a value.
type Point struct {
	Label string
	Value float64
}

// Bars renders values as a bar chart of width×height pixels with an accessible title.
// Values below zero are drawn as zero.
func Bars(title string, points []Point, width, height int) template.HTML {
	var b strings.Builder
	maxV := 0.0
	for _, p := range points {
		maxV = max(maxV, p.Value)
	}
	fmt.Fprintf(&b, `<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d" aria-label="%s">`,
		width, height, width, height, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, height-1, width, height-1)
	if len(points) > 0 && maxV > 0 {
		slot := float64(width) / float64(len(points))
		barW := max(slot*0.8, 1)
		for i, p := range points {
			h := max(p.Value, 0) / maxV * float64(height-14)
			x := float64(i)*slot + (slot-barW)/2
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
				x, float64(height-1)-h, barW, h, template.HTMLEscapeString(p.Label), formatValue(p.Value))
		}
		fmt.Fprintf(&b, `<text class="max" x="2" y="10">%s</text>`, formatValue(maxV))
	} else {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" text-anchor="middle">no data yet</text>`, width/2, height/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated string above is escaped
}

func formatValue(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}
