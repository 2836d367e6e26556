package web

import (
	"math"
	"path"
	"time"

	"github.com/facecluster/facecluster/store"
)

// imageView is an image as the templates show it.
type imageView struct {
	ID            int64
	Name          string // the file name part of the source, for people
	Source        string
	Camera        string
	Status        string
	Reason        string
	Attempts      int
	Width, Height int
	HasPicture    bool
	Created       time.Time
	Processed     *time.Time
	Faces         []faceView
	People        []personRef // the people found, each once, in face order
}

type faceView struct {
	ID         int64
	Number     int // 1-based, as people count
	X, Y, W, H float64
	Score      float64
	PersonID   int64
	Person     string
	Distance   float64
}

// Label is what is written over the face's box.
func (f faceView) Label() string {
	if f.PersonID == 0 {
		return "unknown"
	}
	return f.Person
}

// LabelY places the label above the box, or inside it at the top edge of the picture.
func (f faceView) LabelY() float64 {
	if f.Y > 18 {
		return f.Y - 5
	}
	return f.Y + 16
}

type personRef struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Distance float64 `json:"distance"`
}

func newImageView(im *store.Image) imageView {
	v := imageView{
		ID: im.ID, Name: path.Base(im.Source), Source: im.Source, Camera: im.Camera, Status: string(im.Status),
		Reason: im.LastError, Attempts: im.Attempts, Width: im.Width, Height: im.Height, Created: im.CreatedAt,
		HasPicture: true,
	}
	if !im.ProcessedAt.IsZero() {
		t := im.ProcessedAt
		v.Processed = &t
	}
	for i, f := range im.Faces {
		d := f.Distance
		if math.IsNaN(d) {
			d = -1
		}
		v.Faces = append(v.Faces, faceView{ID: f.ID, Number: i + 1, X: f.Box.X, Y: f.Box.Y, W: f.Box.W, H: f.Box.H,
			Score: f.Score, PersonID: f.PersonID, Person: f.Person, Distance: d})
		if f.PersonID != 0 {
			v.People = append(v.People, personRef{ID: f.PersonID, Name: f.Person, Distance: d})
		}
	}
	if v.People == nil {
		v.People = []personRef{}
	}
	return v
}
