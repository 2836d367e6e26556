package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
)

// ExitDifferent is compare's exit status when the two faces are of different people; 0 means the
// same person, and the general codes (1 error, 2 usage, 3 no face) keep their meaning, so a script
// can tell "different" from "failed".
const ExitDifferent = 4

func newCompareCmd() *cobra.Command {
	var (
		flags         engineFlags
		tolerance     float32
		assumeCropped bool
	)
	cmd := &cobra.Command{
		Use:   "compare [flags] IMAGE_A IMAGE_B",
		Short: "Tell whether two photos show the same person",
		Long: `compare describes the face in each of two images and prints

    distance,same      or      distance,different

(same when the distance is below --tolerance, as face-api.js's FaceMatcher decides). When an
image holds several faces the largest one is used, with a warning: the subject of a portrait or
a crop is the face that fills it. POST /api/v1/verify chooses the same face, so both answer alike
for the same photos. An image without a detected face is an error (exit status 3) unless
--assume-cropped, which takes it as a tight crop of one face.

Exit status: 0 same person, 4 different people, 3 no face in an image, 1 other errors, 2 bad flags.`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(tolerance > 0) { // NaN too
				return usageError{fmt.Errorf("--tolerance %g: want a positive distance (%g is the usual)", tolerance, face.DefaultThreshold)}
			}
			return runCompare(cmd, &flags, tolerance, assumeCropped, args[0], args[1])
		},
	}
	flags.register(cmd, false)
	cmd.Flags().Float32Var(&tolerance, "tolerance", face.DefaultThreshold, "faces closer than this distance are the same person")
	cmd.Flags().BoolVar(&assumeCropped, "assume-cropped", false, "an image with no detected face is one face crop")
	return cmd
}

// errNoFace marks an image in which no face was found (exit status 3).
var errNoFace = errors.New("no face found")

func runCompare(cmd *cobra.Command, flags *engineFlags, tolerance float32, assumeCropped bool, a, b string) error {
	opts, err := flags.options()
	if err != nil {
		return err
	}
	eng, err := flags.loadEngine(opts, true)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	w := &warner{stderr: cmd.ErrOrStderr()}
	var ds [2]face.Descriptor
	for i, path := range []string{a, b} {
		ds[i], err = compareDescriptor(ctx, eng, flags, opts, assumeCropped, path, w)
		if errors.Is(err, errNoFace) {
			fmt.Fprintln(cmd.ErrOrStderr(), "facecluster:", err)
			return exitError{ExitNotFound}
		}
		if err != nil {
			return err
		}
	}
	dist := face.Distance(ds[0], ds[1])
	verdict := "same"
	if dist >= tolerance { // same only strictly below, as the reference's matcher decides
		verdict = "different"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%.4f,%s\n", dist, verdict)
	if verdict == "different" {
		return exitError{ExitDifferent}
	}
	return nil
}

// compareDescriptor describes the primary face of the image at path (face.Primary: the largest).
func compareDescriptor(ctx context.Context, eng *face.Engine, flags *engineFlags, opts face.Options, assumeCropped bool, path string, w *warner) (face.Descriptor, error) {
	img, _, err := imageio.DecodeFile(path, flags.limits())
	if err != nil {
		return face.Descriptor{}, err
	}
	faces, err := eng.Analyze(ctx, img, opts)
	if err != nil {
		return face.Descriptor{}, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case len(faces) == 0 && assumeCropped:
		f, err := describeWhole(ctx, eng, img)
		if err != nil {
			return face.Descriptor{}, fmt.Errorf("%s: %w", path, err)
		}
		return f.Descriptor, nil
	case len(faces) == 0:
		return face.Descriptor{}, fmt.Errorf("%s: %w (use --assume-cropped if it is a tight face crop)", path, errNoFace)
	case len(faces) > 1:
		w.printf("facecluster: warning: %d faces in %s: comparing the largest", len(faces), path)
	}
	best, _ := face.Primary(faces)
	return best.Descriptor, nil
}
