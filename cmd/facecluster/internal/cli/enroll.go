package cli

import (
	"fmt"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/facecluster/facecluster/cmd/facecluster/internal/config"
	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/engine/face/imageio"
	"github.com/facecluster/facecluster/enroll"
)

func newEnrollCmd() *cobra.Command {
	var (
		cfg      *config.Config
		allowLow bool
	)
	cmd := &cobra.Command{
		Use:   "enroll DIR",
		Short: "Enrol the known people of a folder (name.jpg, name_2.jpg, …) into the database",
		Long: `Enrol every photo of DIR as an example of the person its file name names ("mary_jane_2.jpg"
is mary_jane). Photos enrolled before are skipped, so it can run again after adding photos.
Each photo is checked first: one with several faces, or a face that is too small, too blurred or
turned too far to the side, is refused with a warning saying what to fix (--allow-low-quality
enrols it anyway, its largest face). A photo in which no face is detected is taken as a tight crop
of one face, with a warning. Running recognizers pick the new examples up within 2 s.
Exit status 1 if any photo could not be enrolled or was refused.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return usageError{fmt.Errorf("enroll needs the known-people folder: %w", err)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.Load(os.LookupEnv); err != nil {
				return usageError{err}
			}
			dir := args[0]
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageError{fmt.Errorf("enroll: %s is not a readable directory", dir)}
			}
			log := newLogger(cfg)
			st, err := openStoreMigrating(cmd, cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			eng, err := face.Load(face.LoadOptions{ModelsDir: cfg.ModelsDir, Logger: log})
			if err != nil {
				return err
			}
			var bar *progressbar.ProgressBar
			progress := func(done, total int, _ enroll.Photo) {
				if bar == nil && term.IsTerminal(int(os.Stderr.Fd())) {
					bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
						progressbar.OptionSetDescription("enrolling"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
				}
				if bar != nil {
					_ = bar.Set(done)
				}
			}
			rep, err := enroll.Folder(cmd.Context(), enroll.Options{
				Engine: eng, Store: st, Dir: dir, Limits: imageio.Limits{MaxPixels: cfg.MaxImagePixels},
				AllowLowQuality: allowLow, Progress: progress, Logger: log,
			})
			if bar != nil {
				_ = bar.Finish()
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, rep)
			stderr := cmd.ErrOrStderr()
			for _, f := range rep.Refused {
				fmt.Fprintln(stderr, "refused:", f)
			}
			for _, f := range rep.LowQuality {
				fmt.Fprintln(stderr, "enrolled despite low quality:", f)
			}
			for _, f := range rep.Whole {
				fmt.Fprintf(stderr, "whole photo used: %s: %s\n", f, enroll.WholeImageNotice)
			}
			for _, f := range rep.Failed {
				fmt.Fprintln(stderr, "failed:", f)
			}
			if err != nil {
				return err
			}
			if len(rep.Failed) > 0 || len(rep.Refused) > 0 {
				return exitError{ExitError}
			}
			return nil
		},
	}
	cfg = config.Register(cmd.Flags(), config.GroupDB|config.GroupEngine)
	cmd.Flags().BoolVar(&allowLow, "allow-low-quality", false, "enrol photos that fail the quality check (several faces, a small, blurred or turned face) anyway, with a warning")
	return cmd
}
