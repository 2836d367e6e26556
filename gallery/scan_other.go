//go:build !amd64 || purego

package gallery

var useAsm = false

func sqDists(q *[Dim]int16, x []int8, out []int32) { sqDistsGo(q, x, out) }
