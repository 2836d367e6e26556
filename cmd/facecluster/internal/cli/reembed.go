package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/internal/blob"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/recognizer"
	"github.com/facecluster/facecluster/store"
)

func newReembedCmd() *cobra.Command {
	var cfg *config.Config
	var background bool
	var params jobs.ReembedParams
	cmd := &cobra.Command{
		Use:   "reembed",
		Short: "Describe examples and stored faces again with this version's model, from their originals",
		Long: `After an upgrade that changed the face descriptor (a new alignment or network: the model
version ` + face.ModelVersion + ` here), re-embed every enrolment example and every stored face
computed by another version, from its original: an example's photo (the file enrolled from a
folder, or the uploaded photo kept in blob storage), a face's image (a path under --image-root,
or the upload in blob storage). Each is written with its new descriptor and version in one
conditional update.

Until then recognizers leave examples of another version out of their gallery (they never
compare descriptors of different versions): a person whose examples are all old is not
recognised. Examples whose original is gone (photos uploaded before originals were kept) keep
their old descriptor; the API and the person's page ask for them to be enrolled again.

The re-embedding is a background job (facecluster jobs), done in batches in id order with a
checkpoint after each. Without --background this command runs it here, with the face engine
loaded, and shows its progress; if it is interrupted, a serving recognizer resumes it from the
checkpoint. With --background it only queues the job for the serving recognizers (the job runs
where the engine is), which hold it back while live images wait, and prints the job's id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(os.LookupEnv); err != nil {
				return usageError{err}
			}
			if err := params.Validate(); err != nil {
				return usageError{fmt.Errorf("--batch: %w", err)}
			}
			log := newLogger(cfg)
			st, err := openStoreMigrating(cmd, cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			if background {
				job, err := jobs.Create(cmd.Context(), st, &params)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "job %d queued: a serving recognizer runs it (follow it with: facecluster jobs show %d --watch)\n", job.ID, job.ID)
				return nil
			}
			blobs, err := blob.Open(cmd.Context(), cfg.BlobURL)
			if err != nil {
				return usageError{fmt.Errorf("--blob-url: %w", err)}
			}
			defer blobs.Close()
			eng, err := face.Load(face.LoadOptions{ModelsDir: cfg.ModelsDir, Logger: log})
			if err != nil {
				return err
			}
			h, err := recognizer.Reembed(recognizer.ReembedOptions{
				Engine: eng, Store: st, Blobs: blobs, Root: cfg.ImageRoot, Limits: imageio.Limits{MaxPixels: cfg.MaxImagePixels}, Logger: log,
			})
			if err != nil {
				return usageError{fmt.Errorf("--image-root: %w", err)}
			}
			job, err := jobs.Create(cmd.Context(), st, &params)
			if err != nil {
				return err
			}
			// This process is the job's runner (the user asked for it now: no holding back for
			// live images); the bar follows the job's row like `jobs show --watch`.
			r, err := jobs.New(jobs.Options{Store: st, Handlers: map[string]jobs.Handler{jobs.KindReembed: h}, Logger: log})
			if err != nil {
				return err
			}
			watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(cmd.Context()))
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				_, _ = watchJob(watchCtx, st, job, cmd.ErrOrStderr())
			}()
			job, err = r.RunJob(cmd.Context(), job.ID)
			stopWatch()
			<-watched
			if err != nil {
				return err
			}
			switch {
			case cmd.Context().Err() != nil:
				return fmt.Errorf("interrupted after %d examples and faces: job %d was given back and a serving recognizer resumes it (facecluster jobs show %d)", job.Done, job.ID, job.ID)
			case job.State == store.JobCancelled:
				fmt.Fprintf(out, "%d examples and faces looked at\n", job.Done)
				return errors.New("the re-embedding was cancelled (facecluster jobs cancel) before it finished")
			case job.State != store.JobDone:
				fmt.Fprintf(out, "%d examples and faces looked at\n", job.Done)
				return fmt.Errorf("reembed job %d %s: %s", job.ID, job.State, job.LastError)
			}
			sum, err := st.StaleExampleSummary(cmd.Context(), face.ModelVersion)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d examples and faces looked at; %d examples are still of an older model (no original kept: enrol their photos again)\n", job.Done, sum.Examples)
			for _, p := range sum.People {
				fmt.Fprintf(out, "  %s (person %d) has no example of this model and is not recognised until a photo is enrolled again\n", p.Name, p.ID)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&params.Batch, "batch", jobs.DefaultReembedBatch, "examples or faces per batch (the job's checkpoint is written after each)")
	cmd.Flags().BoolVar(&params.SkipFaces, "skip-faces", false, "re-embed only the enrolment examples, not the faces stored with images")
	cmd.Flags().BoolVar(&background, "background", false, "only queue the job for the serving recognizers, and print its id")
	cfg = config.Register(cmd.Flags(), config.GroupDB|config.GroupEngine|config.GroupStorage)
	return cmd
}
