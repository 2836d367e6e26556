// Package blas is the single-precision matrix multiply under the convolution layers of
// internal/nn.
//
// It is hand-written because no maintained pure-Go (cgo-free) library reaches the speed the face
// networks need: gonum's sgemm is not vectorised for float32. The public surface is the one
// internal/nn needs: row-major C += A·B (Sgemm) and a variant whose B (the layer weights) is
// packed once when the layer is built (PackB, SgemmPacked).
package blas
