// Package nets holds the five face-api.js networks ported to Go on top of engine/internal/nn: the SSD
// MobileNetV1 and TinyFaceDetector face detectors, the 68-point landmark nets (full and tiny) and
// the ResNet recognition net. Each is built once from a weights.Set (weights prepacked, batch
// norm and scale layers folded at load), is immutable afterwards and safe for concurrent use.
// Inputs are RGB images as nn.Tensor with values 0..255 (HWC); each net does its own padding,
// resizing and normalisation exactly as the reference does (see NETWORKS.md in the shared
// fixtures).
package nets

// Detection is one face found by a detector, in pixels of the image given to Detect.
type Detection struct {
	X, Y, W, H float64
	Score      float64
}
