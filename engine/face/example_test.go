package face_test

import (
	"context"
	"fmt"
	"log"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
)

// Load the engine once, analyse photos, compare descriptors.
func Example() {
	engine, err := face.Load(face.LoadOptions{}) // finds the models installed by `make models`
	if err != nil {
		log.Fatal(err) // names `make models` when the weights are missing or altered
	}
	img, _, err := imageio.DecodeFile("group.jpg", imageio.Limits{}) // EXIF orientation applied
	if err != nil {
		log.Fatal(err)
	}
	faces, err := engine.Analyze(context.Background(), img, face.Options{}) // SSD, 0.5, ≤ 100 faces
	if err != nil {
		log.Fatal(err)
	}
	for i, f := range faces {
		fmt.Printf("face %d at %.0f,%.0f (%.0f×%.0f), score %.2f\n", i, f.Box.X, f.Box.Y, f.Box.W, f.Box.H, f.Score)
	}
	if len(faces) >= 2 {
		same := face.Distance(faces[0].Descriptor, faces[1].Descriptor) < face.DefaultThreshold
		fmt.Println("faces 0 and 1 are the same person:", same)
	}
}
