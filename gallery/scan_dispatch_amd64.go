//go:build amd64 && !purego

package gallery

import "golang.org/x/sys/cpu"

// useAsm selects the generated AVX2 scan (tests switch it off to check the portable one too).
var useAsm = cpu.X86.HasAVX2

func sqDists(q *[Dim]int16, x []int8, out []int32) {
	if !useAsm {
		sqDistsGo(q, x, out)
		return
	}
	if len(out) == 0 {
		return
	}
	_ = x[len(out)*Dim-1]
	sqDistsInt8(q, &x[0], len(out), &out[0])
}
