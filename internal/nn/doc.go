// Package nn holds the tensors and layers the face networks are built from: 2-D convolution
// (lowered to internal/blas sgemm; 3×3 stride-1 layers with 32–256 channels through Winograd
// F(4×4,3×3) or F(2×2,3×3), winograd.go; inputs of up to 4 channels through a strip layout
// instead of im2col, convstrip.go), depthwise convolution, pooling, element-wise ops, fully
// connected layers and tfjs-compatible bilinear resizing.
//
// Activations are NHWC with batch 1 (Tensor); Conv2D.ApplyBatch takes several images of one
// shape through a layer at once (batch.go), reading large weights once for all of them. Layers are built once from loaded weights, which
// they prepack for the kernels, and are then immutable and safe for concurrent use. Each layer
// computes on one goroutine: throughput comes from running several images in parallel.
//
// It is hand-written because the networks must run natively in Go without cgo and the available
// Go tensor libraries neither match TensorFlow's padding/resize semantics nor reach the speed the
// engine needs.
package nn

//go:generate sh -c "cd asmgen && go run . -out ../dw_amd64.s -stubs ../dw_amd64.go -pkg nn"
