// Package asmgen holds what the avo (github.com/mmcloughlin/avo) generators of the assembly
// kernels share: engine/internal/nn/asmgen, engine/internal/blas/asmgen and
// gallery/internal/asmgen. Each is a command run by `go generate` in its package; Main gives
// every generated file the same build constraint, and ParamAddr reads a parameter in place.
package asmgen

import (
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	"github.com/mmcloughlin/avo/operand"
)

// Main emits the kernels and writes the files the command line names (-out, -stubs, -pkg). The
// files build on amd64 without the purego tag: elsewhere, and with purego, the packages use
// their pure-Go fallbacks. Call it from the generator's main: avo names the generator in each
// file's header after the file that holds main.main.
func Main(emit func()) {
	build.ConstraintExpr("amd64,!purego")
	emit()
	build.Generate()
}

// ParamAddr is the frame address of a scalar parameter, for instructions that read memory
// directly (a broadcast from the argument instead of a load and a move).
func ParamAddr(c gotypes.Component) operand.Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}
