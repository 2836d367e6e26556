package cli

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/store"
)

// After an upgrade, `facecluster reembed` re-embeds the examples of an older descriptor version
// from their originals, here, and names the people left with no example of this version.
func TestReembedAfterAnUpgrade(t *testing.T) {
	db, known := newTestDB(t, store.DriverSQLite), t.TempDir()
	cropFace(t, "sample1.jpg", 0, filepath.Join(known, "mary.jpg"))
	if r := db.run(t, "enroll", "--env-file", "", known); r.code != ExitOK {
		t.Fatalf("enroll: exit %d\n%s", r.code, r.stderr)
	}
	st := db.open(t)
	ctx := context.Background()
	mary, err := st.PersonByName(ctx, "mary")
	if err != nil {
		t.Fatal(err)
	}
	enrolled, err := st.ListExamples(ctx, mary.ID)
	if err != nil || len(enrolled) != 1 || enrolled[0].Original == "" {
		t.Fatalf("enrolled %+v, %v", enrolled, err)
	}
	// The upgrade: Mary's example is now of an older version; Otto's photo was never kept.
	old := make([]float32, store.DescriptorLen)
	old[0] = 1
	if ok, err := st.ReembedExample(ctx, enrolled[0].ID, face.ModelVersion, old, "an-older-model"); !ok || err != nil {
		t.Fatalf("mark the example old: %v %v", ok, err)
	}
	otto, _ := st.CreatePerson(ctx, "Otto")
	if _, err := st.AddExample(ctx, store.NewExample{PersonID: otto.ID, Descriptor: old, Model: "an-older-model", Source: "upload:otto.jpg"}); err != nil {
		t.Fatal(err)
	}

	r := db.run(t, "reembed", "--env-file", "")
	if r.code != ExitOK {
		t.Fatalf("reembed: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"2 examples and faces looked at; 1 examples are still of an older model", "Otto (person", "is not recognised until a photo is enrolled again"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	after, err := st.ListExamples(ctx, mary.ID)
	if err != nil || len(after) != 1 || after[0].Model != face.ModelVersion || !slices.Equal(after[0].Descriptor, enrolled[0].Descriptor) {
		t.Fatalf("Mary's example after reembed: %+v, %v (want the enrolment's descriptor back)", after, err)
	}
}
