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
	// LabelSize is the name's font size in picture pixels: a fixed share of the picture, so the
	// label reads the same on a 400-pixel snapshot and a 4000-pixel photo.
	LabelSize float64
}

// LabelStroke is the width of the dark outline that keeps the label readable on any background.
func (f faceView) LabelStroke() float64 { return f.LabelSize / 5 }

// Label is what is written over the face's box.
func (f faceView) Label() string {
	if f.PersonID == 0 {
		return "unknown"
	}
	return f.Person
}

// LabelY places the label above the box, or inside it at the top edge of the picture.
func (f faceView) LabelY() float64 {
	if f.Y > f.LabelSize*1.2 {
		return f.Y - f.LabelSize*0.3
	}
	return f.Y + f.LabelSize
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
	if im.SourceKind == store.SourceUpload {
		// Uploads are stored under their content hash; that name means nothing to people.
		v.Name = "uploaded picture"
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
			Score: f.Score, PersonID: f.PersonID, Person: f.Person, Distance: d,
			LabelSize: math.Max(12, float64(max(im.Width, im.Height))/32)})
		if f.PersonID != 0 {
			v.People = append(v.People, personRef{ID: f.PersonID, Name: f.Person, Distance: d})
		}
	}
	if v.People == nil {
		v.People = []personRef{}
	}
	return v
}
