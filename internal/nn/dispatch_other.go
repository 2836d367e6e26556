//go:build !amd64 || purego

package nn

// useAsm is false: this build has no assembly kernels.
var useAsm = false

func dw3x3Pixels(out, in0, in1, in2, w *float32, n, c, stride int, act *[16]float32) {
	panic("nn: no assembly depthwise kernel in this build")
}

func addVec(dst, a, b *float32, n int)     { panic("nn: no assembly in this build") }
func reluVec(dst, a, b *float32, n int)    { panic("nn: no assembly in this build") }
func addReLUVec(dst, a, b *float32, n int) { panic("nn: no assembly in this build") }

func maxPool2Pixels(out, in0, in1, in2 *float32, n, c, stride int) {
	panic("nn: no assembly in this build")
}
func maxPool3Pixels(out, in0, in1, in2 *float32, n, c, stride int) {
	panic("nn: no assembly in this build")
}

func winoBT4(o0, o1, o2, o3, i0, i1, i2, i3 *float32, n int) { panic("nn: no assembly in this build") }
func winoAT4(o0, o1, i0, i1, i2, i3 *float32, n int)         { panic("nn: no assembly in this build") }
func winoAT4Epilogue(o0, o1, i0, i1, i2, i3, scale, bias *float32, n int, act *[16]float32) {
	panic("nn: no assembly in this build")
}
