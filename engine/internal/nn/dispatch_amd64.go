//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAsm selects the generated assembly kernels when the CPU has AVX2 and FMA; useAVX512 (only
// ever true with useAsm) selects their AVX-512 variants, which also take channel counts that are
// not multiples of 8. Tests switch them off to check the AVX2 and portable paths too.
var (
	useAsm    = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAVX512 = useAsm && cpu.X86.HasAVX512F && cpu.X86.HasBMI2
)
