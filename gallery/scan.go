package gallery

// sqDistsGo is the portable first-stage scan: squared int8 distances to the quantised query.
func sqDistsGo(q *[Dim]int16, x []int8, out []int32) {
	for j := range out {
		v := (*[Dim]int8)(x[j*Dim : (j+1)*Dim])
		var s int32
		for i := range Dim {
			d := int32(q[i]) - int32(v[i])
			s += d * d
		}
		out[j] = s
	}
}
