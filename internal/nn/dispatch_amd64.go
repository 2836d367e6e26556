//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

// useAsm selects the generated AVX2+FMA kernels when the CPU has both (tests switch it off to
// check the portable path too).
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA
