package jobs

import (
	"fmt"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/store"
)

// KindReembed describes examples and stored faces again with the current model: those whose
// descriptor version is not the engine's face.ModelVersion, from their originals where they
// still exist (`facecluster reembed`, after an upgrade that changed the descriptor). Examples
// first, then faces, each in id order; the checkpoint is "examples:<id>" or "faces:<id>", the
// last id done. It needs the face engine, so it runs where the engine is: in the recognizer
// role's runner (recognizer.Reembed is its handler), or in `facecluster reembed` itself.
const KindReembed = "reembed"

// DefaultReembedBatch is how many examples or faces a reembed batch describes: a few seconds of
// the engine's time, so cancel and shutdown act soon.
const DefaultReembedBatch = 32

// ReembedParams are a reembed job's parameters.
type ReembedParams struct {
	Batch int `json:"batch,omitempty"` // examples or faces per batch [DefaultReembedBatch]
	// SkipFaces re-embeds only the examples (the gallery), not the faces stored with images.
	SkipFaces bool `json:"skip_faces,omitempty"`
	// Model is the descriptor version to re-embed to [the creating binary's face.ModelVersion].
	// Only a runner whose engine computes it does the job: during a rolling upgrade a replica
	// still on the old version fails the job instead of turning new descriptors back into old.
	Model string `json:"model,omitempty"`
}

// Kind is KindReembed.
func (*ReembedParams) Kind() string { return KindReembed }

// Validate fills in the defaults.
func (p *ReembedParams) Validate() error {
	if p.Model == "" {
		p.Model = face.ModelVersion
	}
	if len(p.Model) > 255 {
		return fmt.Errorf("%w: reembed model version longer than 255 bytes", store.ErrInvalid)
	}
	switch {
	case p.Batch == 0:
		p.Batch = DefaultReembedBatch
	case p.Batch < 0 || p.Batch > 1000:
		return fmt.Errorf("%w: reembed batch %d is not between 1 and 1000", store.ErrInvalid, p.Batch)
	}
	return nil
}
