// Package models finds the face-api.js weights installed by `make models` (npm package
// @vladmandic/face-api 1.7.15) and loads them after checking every file against its pinned SHA-256,
// so that a missing, truncated or different model is a clear error at start-up instead of wrong
// faces later.
package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/facecluster/facecluster/engine/face/internal/weights"
)

// EnvDir names the environment variable that overrides the models directory.
const EnvDir = "FACECLUSTER_MODELS_DIR"

// RelDir is where `make models` installs the weights, relative to the repository (and looked for
// relative to the working directory and to the executable).
const RelDir = "models/node_modules/@vladmandic/face-api/model"

// SystemDir is where packages install the weights.
const SystemDir = "/usr/share/facecluster/models"

// Package is the npm package (and version) the pinned checksums belong to.
const Package = "@vladmandic/face-api 1.7.15"

// Model names one network's weights: the manifest is Model+"-weights_manifest.json".
type Model string

// The networks facecluster uses.
const (
	SSDMobileNetV1   Model = "ssd_mobilenetv1_model"
	TinyFaceDetector Model = "tiny_face_detector_model"
	Landmark68       Model = "face_landmark_68_model"
	Landmark68Tiny   Model = "face_landmark_68_tiny_model"
	Recognition      Model = "face_recognition_model"
)

// All lists every model facecluster uses.
var All = []Model{SSDMobileNetV1, TinyFaceDetector, Landmark68, Landmark68Tiny, Recognition}

// pinned holds the SHA-256 of every file used, as published in @vladmandic/face-api 1.7.15.
var pinned = map[string]string{
	"ssd_mobilenetv1_model-weights_manifest.json":       "888f744dffbc84f5f060d1f8427d9742341943a2dfaaf9205d10029b7e7a2955",
	"ssd_mobilenetv1_model.bin":                         "2835640602d53718aa6ae9a42896327eaa21beefed056c218d32ca7d79e1e2f8",
	"tiny_face_detector_model-weights_manifest.json":    "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5",
	"tiny_face_detector_model.bin":                      "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871",
	"face_landmark_68_model-weights_manifest.json":      "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9",
	"face_landmark_68_model.bin":                        "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b",
	"face_landmark_68_tiny_model-weights_manifest.json": "9a1a5dd19fd814fd5095c3cb58f8e0d3193b8c5b9a6715b30a69d559aea31ad4",
	"face_landmark_68_tiny_model.bin":                   "b98e9f2f7da76f8a6dda9741a36ed485b224b889d552de2b2c1bb16217f67bfc",
	"face_recognition_model-weights_manifest.json":      "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b",
	"face_recognition_model.bin":                        "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589",
}

// ErrNotInstalled is wrapped by the errors of Dir and Load when the weights are missing.
var ErrNotInstalled = errors.New("face models not installed")

// ErrChecksum is wrapped by Load's error when a file differs from the pinned one.
var ErrChecksum = errors.New("face model file altered")

const hint = "run `make models` (installs " + Package + " with npm) or point --models-dir / " + EnvDir + " at its model directory"

// Dir returns the models directory: explicit if not empty, else $FACECLUSTER_MODELS_DIR, else the
// first of ./models/node_modules/@vladmandic/face-api/model (relative to the working directory,
// then to the executable's directory and its parent) and /usr/share/facecluster/models that holds
// the weights. An explicit or environment directory is used as given and checked.
func Dir(explicit string) (string, error) {
	probe := string(Recognition) + "-weights_manifest.json"
	for _, given := range []struct{ dir, what string }{{explicit, "models directory"}, {os.Getenv(EnvDir), EnvDir}} {
		if given.dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(given.dir, probe)); err != nil {
			return "", fmt.Errorf("%w: %s %s has no %s: %s", ErrNotInstalled, given.what, given.dir, probe, hint)
		}
		return given.dir, nil
	}
	var candidates []string
	if wd, err := os.Getwd(); err == nil {
		candidates = append(candidates, filepath.Join(wd, RelDir))
	}
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		d := filepath.Dir(exe)
		candidates = append(candidates, filepath.Join(d, RelDir), filepath.Join(filepath.Dir(d), RelDir))
	}
	candidates = append(candidates, SystemDir)
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, probe)); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("%w (looked in %s): %s", ErrNotInstalled, strings.Join(candidates, ", "), hint)
}

// Load reads one model's manifest and shards from dir, verifying each file's SHA-256 against the
// pinned value before it is parsed.
func Load(dir string, m Model) (*weights.Set, error) {
	manifestName := string(m) + "-weights_manifest.json"
	manifest, err := readVerified(dir, manifestName)
	if err != nil {
		return nil, err
	}
	set, err := weights.Parse(manifest, func(p string) ([]byte, error) { return readVerified(dir, p) })
	if err != nil {
		return nil, fmt.Errorf("load %s from %s: %w", m, dir, err)
	}
	return set, nil
}

// readVerified reads dir/name and checks it against the pinned checksum; a file without a pinned
// checksum is refused, so a manifest cannot pull in unverified shards.
func readVerified(dir, name string) ([]byte, error) {
	want, ok := pinned[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a file of %s", ErrChecksum, name, Package)
	}
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is missing: %s", ErrNotInstalled, path, hint)
		}
		return nil, fmt.Errorf("read face model %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("%w: %s has SHA-256 %s, want %s (damaged or not %s): run `make models` to reinstall it", ErrChecksum, path, got, want, Package)
	}
	return b, nil
}
