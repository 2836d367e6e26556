package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facecluster/facecluster/store"
)

// defaultDescriptorModel is Options.DescriptorModel's default.
const defaultDescriptorModel = "face-api-1.7.15/recognition"

type peopleData struct{ People []store.Person }

func (s *Server) peoplePage(w http.ResponseWriter, r *http.Request) {
	people, err := s.deps.Store.ListPeople(r.Context())
	if err != nil {
		s.fail(w, r, err, "Listing people")
		return
	}
	s.render(w, r, http.StatusOK, "people", page{Title: "People", Nav: "people", Data: peopleData{people}})
}

func (s *Server) createPerson(w http.ResponseWriter, r *http.Request) {
	p, err := s.deps.Store.CreatePerson(r.Context(), r.PostFormValue("name"))
	if err != nil {
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
			redirect(w, r, "/people", "The person was not created: "+invalidDetail(err)+".", true)
			return
		}
		s.fail(w, r, err, "Creating a person")
		return
	}
	redirect(w, r, fmt.Sprintf("/people/%d", p.ID), fmt.Sprintf("%s was created. Add example photos so they can be recognised.", p.Name), false)
}

type historyDay struct {
	Date, Label string
	Sightings   []sighting
}

type sighting struct {
	ImageID  int64
	At       time.Time
	Camera   string
	Source   string
	Distance float64
}

type exampleView struct {
	store.Example
	ImageID int64
	Created time.Time
}

type personData struct {
	Person        store.Person
	Others        []store.PersonName
	Examples      []exampleView
	Days          []historyDay
	MoreHistory   string
	UploadEnabled bool
}

// historyPage is how many sightings one page of a person's history shows.
const historyPage = 100

func (s *Server) personPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this person")
		return
	}
	p, err := s.deps.Store.GetPerson(ctx, id)
	if err != nil {
		s.fail(w, r, err, "Showing this person")
		return
	}
	data := personData{Person: p, UploadEnabled: s.deps.Pipeline != nil}
	people, err := s.deps.Store.PeopleNames(ctx)
	if err != nil {
		s.fail(w, r, err, "Showing this person")
		return
	}
	for _, o := range people {
		if o.ID != id {
			data.Others = append(data.Others, o)
		}
	}
	examples, err := s.deps.Store.ListExamples(ctx, id)
	if err != nil {
		s.fail(w, r, err, "Showing this person")
		return
	}
	for _, e := range examples {
		ev := exampleView{Example: e, Created: e.CreatedAt}
		if e.FaceID != 0 {
			if f, err := s.deps.Store.GetFace(ctx, e.FaceID); err == nil {
				ev.ImageID = f.ImageID
			} else {
				ev.FaceID = 0 // the face was reprocessed away; show the source instead
			}
		}
		data.Examples = append(data.Examples, ev)
	}
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
			s.fail(w, r, &UserError{Msg: "That history link is broken. Start again from the person's page."}, "Showing this person")
			return
		}
	}
	hist, next, err := s.deps.Store.PersonHistory(ctx, id, store.SightingFilter{BeforeID: before, Limit: historyPage})
	if err != nil {
		s.fail(w, r, err, "Showing this person")
		return
	}
	data.Days = groupByDay(hist)
	if next != 0 {
		data.MoreHistory = fmt.Sprintf("/people/%d?before=%d#history-h", id, next)
	}
	s.render(w, r, http.StatusOK, "person", page{Title: p.Name, Nav: "people", Data: data})
}

// groupByDay turns sightings (newest first) into a timeline of UTC days.
func groupByDay(hist []store.Sighting) []historyDay {
	var days []historyDay
	for _, sg := range hist {
		at := sg.SeenAt.UTC()
		date := at.Format("2006-01-02")
		if len(days) == 0 || days[len(days)-1].Date != date {
			days = append(days, historyDay{Date: date, Label: at.Format("Monday 2 January 2006")})
		}
		d := &days[len(days)-1]
		d.Sightings = append(d.Sightings, sighting{ImageID: sg.Face.ImageID, At: at, Camera: sg.Camera, Source: sg.ImageSource, Distance: sg.Face.Distance})
	}
	return days
}

func (s *Server) renamePerson(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this person")
		return
	}
	back := fmt.Sprintf("/people/%d", id)
	if err := s.deps.Store.RenamePerson(r.Context(), id, r.PostFormValue("name")); err != nil {
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
			redirect(w, r, back, "The name was not changed: "+invalidDetail(err)+".", true)
			return
		}
		s.fail(w, r, err, "Renaming this person")
		return
	}
	redirect(w, r, back, "Renamed.", false)
}

type confirmData struct {
	Heading, Question string
	Consequences      []string
	Action, Button    string
	Cancel            string
	Fields            map[string]string
}

func (s *Server) mergeConfirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this person")
		return
	}
	from, err := s.deps.Store.GetPerson(ctx, id)
	if err != nil {
		s.fail(w, r, err, "Merging people")
		return
	}
	intoID, err := strconv.ParseInt(r.URL.Query().Get("into"), 10, 64)
	if err != nil || intoID == id {
		redirect(w, r, fmt.Sprintf("/people/%d", id), "Choose another person to merge into.", true)
		return
	}
	into, err := s.deps.Store.GetPerson(ctx, intoID)
	if err != nil {
		s.fail(w, r, err, "Merging people")
		return
	}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Merge " + from.Name, Nav: "people", Data: confirmData{
		Heading:  fmt.Sprintf("Merge %s into %s?", from.Name, into.Name),
		Question: fmt.Sprintf("%s and %s are the same person, and the name %s should stay.", from.Name, into.Name, into.Name),
		Consequences: []string{
			fmt.Sprintf("move %s's %d example%s and %d sighting%s to %s", from.Name, from.Examples, pluralS(from.Examples), from.Images, pluralS(from.Images), into.Name),
			fmt.Sprintf("in images where both were found, make %s's face unknown", from.Name),
			fmt.Sprintf("delete the name %s", from.Name),
		},
		Action: fmt.Sprintf("/people/%d/merge", id), Button: "Merge", Cancel: fmt.Sprintf("/people/%d", id),
		Fields: map[string]string{"into": strconv.FormatInt(intoID, 10)},
	}})
}

func (s *Server) mergePerson(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this person")
		return
	}
	intoID, err := strconv.ParseInt(r.PostFormValue("into"), 10, 64)
	if err != nil || intoID == id || intoID <= 0 {
		redirect(w, r, fmt.Sprintf("/people/%d", id), "Choose another person to merge into.", true)
		return
	}
	if err := s.deps.Store.MergePeople(r.Context(), intoID, id); err != nil {
		s.fail(w, r, err, "Merging people")
		return
	}
	redirect(w, r, fmt.Sprintf("/people/%d", intoID), "Merged.", false)
}

func (s *Server) deleteConfirm(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this person")
		return
	}
	p, err := s.deps.Store.GetPerson(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, "Deleting a person")
		return
	}
	s.render(w, r, http.StatusOK, "confirm", page{Title: "Delete " + p.Name, Nav: "people", Data: confirmData{
		Heading:  fmt.Sprintf("Delete %s?", p.Name),
		Question: fmt.Sprintf("facecluster will forget %s.", p.Name),
		Consequences: []string{
			fmt.Sprintf("erase %s's %d enrolment example%s, so they are no longer recognised", p.Name, p.Examples, pluralS(p.Examples)),
			fmt.Sprintf("erase their name from %d image%s (those faces become unknown) and their history", p.Images, pluralS(p.Images)),
			"keep the images themselves",
		},
		Action: fmt.Sprintf("/people/%d/delete", id), Button: "Delete " + p.Name, Cancel: fmt.Sprintf("/people/%d", id),
	}})
}

func (s *Server) deletePerson(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this person")
		return
	}
	p, err := s.deps.Store.GetPerson(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, "Deleting a person")
		return
	}
	if err := s.deps.Store.DeletePerson(r.Context(), id); err != nil {
		s.fail(w, r, err, "Deleting "+p.Name)
		return
	}
	redirect(w, r, "/people", fmt.Sprintf("%s and everything recorded about them were deleted.", p.Name), false)
}

func (s *Server) addExamples(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this person")
		return
	}
	back := fmt.Sprintf("/people/%d", id)
	if s.deps.Pipeline == nil {
		redirect(w, r, back, "Adding examples by upload needs the receiver and recognizer, which this server does not run.", true)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 20*s.opts.MaxUploadBytes)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		redirect(w, r, back, "The photos could not be read ("+uploadProblem(err, 20*s.opts.MaxUploadBytes)+").", true)
		return
	}
	defer r.MultipartForm.RemoveAll()
	files := r.MultipartForm.File["file"]
	if len(files) == 0 {
		redirect(w, r, back, "Choose at least one photo.", true)
		return
	}
	added := 0
	var problems []string
	for _, fh := range files {
		if fh.Size > s.opts.MaxUploadBytes {
			problems = append(problems, fmt.Sprintf("%s is larger than %d MB", fh.Filename, s.opts.MaxUploadBytes>>20))
			continue
		}
		f, err := fh.Open()
		if err != nil {
			problems = append(problems, fh.Filename+" could not be read")
			continue
		}
		err = s.deps.Pipeline.EnrolUpload(r.Context(), id, fh.Filename, f)
		f.Close()
		if err != nil {
			problems = append(problems, s.userMessage(r, err, fh.Filename+" was not added"))
			continue
		}
		added++
	}
	if len(problems) > 0 {
		redirect(w, r, back, fmt.Sprintf("%d example%s added. %s.", added, pluralS(added), strings.Join(problems, "; ")), true)
		return
	}
	redirect(w, r, back, fmt.Sprintf("%d example%s added; recognizers use them within seconds.", added, pluralS(added)), false)
}

func (s *Server) removeExample(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this example")
		return
	}
	back := localBack(r.PostFormValue("back"), "/people")
	if err := s.deps.Store.RemoveExample(r.Context(), id); err != nil {
		s.fail(w, r, err, "Removing the example")
		return
	}
	redirect(w, r, back, "Example removed.", false)
}

// assignFace handles "this is X" (optionally also enrolling the face as an example of X).
func (s *Server) assignFace(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, ok := s.faceFromPath(w, r, "Naming the face")
	if !ok {
		return
	}
	id := f.ID
	back := localBack(r.PostFormValue("back"), fmt.Sprintf("/images/%d#face-%d", f.ImageID, id))
	personID, err := strconv.ParseInt(r.PostFormValue("person"), 10, 64)
	if err != nil || personID <= 0 {
		redirect(w, r, back, "Choose who this is.", true)
		return
	}
	p, err := s.deps.Store.GetPerson(ctx, personID)
	if err != nil {
		s.fail(w, r, err, "Naming the face")
		return
	}
	if err := s.deps.Store.AssignFace(ctx, id, personID); err != nil {
		s.fail(w, r, err, "Naming the face")
		return
	}
	msg := fmt.Sprintf("The face is now %s.", p.Name)
	if r.PostFormValue("enrol") != "" {
		if err := s.enrolFace(r, f, personID); err != nil {
			redirect(w, r, back, msg+" "+s.userMessage(r, err, "It was not added as an example")+".", true)
			return
		}
		msg = fmt.Sprintf("The face is now %s and teaches the recognizers what %s looks like.", p.Name, p.Name)
	}
	redirect(w, r, back, msg, false)
}

func (s *Server) enrolFace(r *http.Request, f store.Face, personID int64) error {
	if len(f.Descriptor) == 0 {
		return &UserError{Msg: "this face has no descriptor (the image was processed without one); re-run the image first"}
	}
	_, err := s.deps.Store.AddExample(r.Context(), store.NewExample{PersonID: personID, Descriptor: f.Descriptor,
		Model: s.opts.DescriptorModel, Source: fmt.Sprintf("face:%d", f.ID), FaceID: f.ID})
	return err
}

func (s *Server) unassignFace(w http.ResponseWriter, r *http.Request) {
	f, ok := s.faceFromPath(w, r, "Correcting the face")
	if !ok {
		return
	}
	id := f.ID
	if err := s.deps.Store.AssignFace(r.Context(), id, 0); err != nil {
		s.fail(w, r, err, "Correcting the face")
		return
	}
	msg := "The face is now unknown."
	if f.Person != "" {
		msg = fmt.Sprintf("The face is no longer %s.", f.Person)
	}
	redirect(w, r, fmt.Sprintf("/images/%d#face-%d", f.ImageID, id), msg, false)
}

// newPersonFromFace creates a person, names the face and enrols it as their first example.
func (s *Server) newPersonFromFace(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, ok := s.faceFromPath(w, r, "Creating a person from the face")
	if !ok {
		return
	}
	id := f.ID
	back := localBack(r.PostFormValue("back"), fmt.Sprintf("/images/%d#face-%d", f.ImageID, id))
	if len(f.Descriptor) == 0 {
		redirect(w, r, back, "This face has no descriptor to learn from; re-run the image first.", true)
		return
	}
	p, err := s.deps.Store.CreatePerson(ctx, r.PostFormValue("name"))
	if err != nil {
		if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
			redirect(w, r, back, "The person was not created: "+invalidDetail(err)+". To add this face to an existing person, use “This is”.", true)
			return
		}
		s.fail(w, r, err, "Creating a person from the face")
		return
	}
	if err := s.deps.Store.AssignFace(ctx, id, p.ID); err != nil {
		s.fail(w, r, err, "Creating a person from the face")
		return
	}
	if err := s.enrolFace(r, f, p.ID); err != nil {
		s.fail(w, r, err, "Creating a person from the face")
		return
	}
	redirect(w, r, back, fmt.Sprintf("%s was created from this face; images processed from now on will recognise them.", p.Name), false)
}

type unknownData struct {
	Faces  []unknownFace
	People []store.PersonName
	More   string
}

type unknownFace struct {
	ID, ImageID int64
	Created     time.Time
	Camera      string
}

func (s *Server) unknownPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		var err error
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
			s.fail(w, r, &UserError{Msg: "That page link is broken. Start again from the newest unknown faces."}, "Listing unknown faces")
			return
		}
	}
	faces, next, err := s.deps.Store.UnknownFaces(ctx, store.SightingFilter{BeforeID: before, Limit: 60})
	if err != nil {
		s.fail(w, r, err, "Listing unknown faces")
		return
	}
	people, err := s.deps.Store.PeopleNames(ctx)
	if err != nil {
		s.fail(w, r, err, "Listing unknown faces")
		return
	}
	data := unknownData{People: people}
	for _, sg := range faces {
		data.Faces = append(data.Faces, unknownFace{ID: sg.Face.ID, ImageID: sg.Face.ImageID, Created: sg.SeenAt, Camera: sg.Camera})
	}
	if next != 0 {
		data.More = fmt.Sprintf("/unknown?before=%d", next)
	}
	s.render(w, r, http.StatusOK, "unknown", page{Title: "Unknown faces", Nav: "unknown", Data: data})
}

// faceFromPath reads the face the request's path names, answering the request itself (not
// found, or what went wrong while doing action) when it cannot.
func (s *Server) faceFromPath(w http.ResponseWriter, r *http.Request, action string) (store.Face, bool) {
	id, ok := pathID(r)
	if !ok {
		s.notFound(w, r, "this face")
		return store.Face{}, false
	}
	f, err := s.deps.Store.GetFace(r.Context(), id)
	if err != nil {
		s.fail(w, r, err, action)
		return store.Face{}, false
	}
	return f, true
}
