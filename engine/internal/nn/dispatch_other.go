//go:build !amd64 || purego

package nn

// useAsm and useAVX512 are false: this build has no assembly kernels.
var (
	useAsm    = false
	useAVX512 = false
)

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

func winoBT4(out *float32, os int, in *float32, is int, n int) {
	panic("nn: no assembly in this build")
}
func winoAT2(out *float32, os int, in *float32, is int, n int) {
	panic("nn: no assembly in this build")
}
func winoBT6(out *float32, os int, in *float32, is int, n int) {
	panic("nn: no assembly in this build")
}
func winoAT4(out *float32, os int, in *float32, is int, n int) {
	panic("nn: no assembly in this build")
}
func winoAT2Epilogue(out *float32, os int, in *float32, is int, n int, scale, bias *float32, act *[16]float32) {
	panic("nn: no assembly in this build")
}
func winoAT4Epilogue(out *float32, os int, in *float32, is int, n int, scale, bias *float32, act *[16]float32) {
	panic("nn: no assembly in this build")
}

func dw3x3S1AVX512(out, in0, in1, in2, w *float32, n, c, cs int, act *[16]float32) {
	panic("nn: no assembly in this build")
}
func dw3x3S2AVX512(out, in0, in1, in2, w *float32, n, c, cs int, act *[16]float32) {
	panic("nn: no assembly in this build")
}

func addVecAVX512(dst, a, b *float32, n int)     { panic("nn: no assembly in this build") }
func reluVecAVX512(dst, a, b *float32, n int)    { panic("nn: no assembly in this build") }
func addReLUVecAVX512(dst, a, b *float32, n int) { panic("nn: no assembly in this build") }

func maxPool2PixelsAVX512(out, in0, in1, in2 *float32, n, c, stride int) {
	panic("nn: no assembly in this build")
}
func maxPool3PixelsAVX512(out, in0, in1, in2 *float32, n, c, stride int) {
	panic("nn: no assembly in this build")
}

func winoBT4AVX512(out *float32, os int, in *float32, is int, n, groups, og, ig int) {
	panic("nn: no assembly in this build")
}
func winoAT2AVX512(out *float32, os int, in *float32, is int, n, groups, og, ig int) {
	panic("nn: no assembly in this build")
}
func winoBT6AVX512(out *float32, os int, in *float32, is int, n, groups, og, ig int) {
	panic("nn: no assembly in this build")
}
func winoAT4AVX512(out *float32, os int, in *float32, is int, n, groups, og, ig int) {
	panic("nn: no assembly in this build")
}
func winoAT2EpilogueAVX512(out *float32, os int, in *float32, is int, n, groups, og, ig int, scale, bias *float32, act *[16]float32) {
	panic("nn: no assembly in this build")
}
func winoAT4EpilogueAVX512(out *float32, os int, in *float32, is int, n, groups, og, ig int, scale, bias *float32, act *[16]float32) {
	panic("nn: no assembly in this build")
}

func convSmallRowAVX512(out, in, w *float32, n, pstep, rstride, kh, seg, ostride int, act *[16]float32) {
	panic("nn: no assembly in this build")
}
func convSmallRow16AVX512(out, in, w *float32, n, pstep, rstride, kh, seg, ostride int, act *[16]float32) {
	panic("nn: no assembly in this build")
}
