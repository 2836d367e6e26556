//go:build !amd64 || purego

package nn

// useAsm is false: this build has no assembly kernels.
var useAsm = false

func dw3x3Pixels(out, in0, in1, in2, w *float32, n, c, stride int, act *[16]float32) {
	panic("nn: no assembly depthwise kernel in this build")
}
