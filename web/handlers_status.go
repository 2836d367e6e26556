package web

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/facecluster/facecluster/engine/face"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/store"
	"github.com/facecluster/facecluster/web/internal/charts"
)

type statusCount struct {
	Status store.Status
	N      int64
}

type failure struct {
	ID     int64
	Reason string
	At     time.Time
}

type statusData struct {
	StatusReport
	SourceError     string
	PerMinute       float64
	Latency         string
	Counts          []statusCount
	ThroughputChart template.HTML
	LatencyChart    template.HTML
	Failures        []failure
	Jobs            []jobRow
	// Stale: examples of an older descriptor version than this binary's engine, which the
	// recognizers leave out until re-embedded, and the people left with none current.
	Stale store.StaleExamples
}

// jobRow is a background job as the status page shows it.
type jobRow struct {
	store.Job
	Percent  int    // of Total, when known
	HeldBack bool   // running, but waiting for live images
	Note     string // what it waits for, or why it ended
}

// statusJobs is how many background jobs the status page lists: the newest, running or not.
const statusJobs = 10

func toJobRow(j store.Job, now time.Time) jobRow {
	row := jobRow{Job: j}
	if j.Total > 0 {
		row.Percent = int(100 * j.Done / j.Total)
	}
	switch {
	case j.State == store.JobRunning && !j.ThrottledAt.IsZero():
		row.HeldBack = true
		row.Note = "Held back for live images for " + now.Sub(j.ThrottledAt).Round(time.Second).String()
	case j.State == store.JobRunning && j.LeaseExpiresAt.Before(now):
		row.Note = "Its runner stopped answering; another replica takes it over"
	case j.State == store.JobRunning:
		row.Note = "Run by " + j.LeaseOwner
	case j.State == store.JobQueued && j.Attempts > 0:
		row.Note = "Given back; waiting for a runner to resume it"
	case j.State == store.JobQueued:
		row.Note = "Waiting for a runner (the " + jobs.RunnerRole(j.Kind) + " role)"
	case j.State == store.JobFailed:
		row.Note = j.LastError
	}
	return row
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var data statusData
	if s.deps.Status != nil {
		rep, err := s.deps.Status.Status(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "status source", "err", err)
			data.SourceError = "Queue and role health could not be read just now; the numbers below come from the database."
		} else {
			data.StatusReport = rep
		}
	}
	counts, err := s.deps.Store.CountByStatus(ctx)
	if err != nil {
		s.fail(w, r, err, "Showing the status")
		return
	}
	for _, st := range store.Statuses {
		data.Counts = append(data.Counts, statusCount{st, counts[st]})
	}
	now := time.Now()
	finished, err := s.deps.Store.FinishedSince(ctx, now.Add(-time.Hour), 0)
	if err != nil {
		s.fail(w, r, err, "Showing the status")
		return
	}
	data.PerMinute, data.Latency, data.ThroughputChart, data.LatencyChart = summarise(finished, now)
	failed, err := s.deps.Store.ListImages(ctx, store.ImageFilter{Statuses: []store.Status{store.StatusFailed}, Limit: 20})
	if err != nil {
		s.fail(w, r, err, "Showing the status")
		return
	}
	for _, im := range failed.Images {
		data.Failures = append(data.Failures, failure{ID: im.ID, Reason: im.LastError, At: im.UpdatedAt})
	}
	jobs, err := s.deps.Store.ListJobs(ctx, store.JobFilter{Limit: statusJobs})
	if err != nil {
		s.fail(w, r, err, "Showing the status")
		return
	}
	for _, j := range jobs {
		data.Jobs = append(data.Jobs, toJobRow(j, now))
	}
	if data.Stale, err = s.deps.Store.StaleExampleSummary(ctx, face.ModelVersion); err != nil {
		s.fail(w, r, err, "Showing the status")
		return
	}
	s.render(w, r, http.StatusOK, "status", page{Title: "Status", Nav: "status", Data: data})
}

// summarise turns the last hour's finished images into the page's numbers and charts.
func summarise(fin []store.FinishedImage, now time.Time) (perMinute float64, median string, throughput, latency template.HTML) {
	const minutes = 60
	counts := make([]float64, minutes)
	sums := make([]float64, minutes)
	var lat []time.Duration
	recent := 0
	for _, f := range fin {
		age := now.Sub(f.ProcessedAt)
		if age < 0 || age >= time.Hour {
			continue
		}
		b := minutes - 1 - int(age/time.Minute)
		d := f.ProcessedAt.Sub(f.CreatedAt)
		counts[b]++
		sums[b] += d.Seconds()
		lat = append(lat, d)
		if age < 10*time.Minute {
			recent++
		}
	}
	perMinute = float64(recent) / 10
	median = "—"
	if len(lat) > 0 {
		slices.Sort(lat)
		median = lat[len(lat)/2].Round(time.Millisecond).String()
	}
	tp := make([]charts.Point, minutes)
	lp := make([]charts.Point, minutes)
	for i := range minutes {
		label := now.Add(-time.Duration(minutes-1-i) * time.Minute).UTC().Format("15:04")
		tp[i] = charts.Point{Label: label + " images", Value: counts[i]}
		avg := 0.0
		if counts[i] > 0 {
			avg = sums[i] / counts[i]
		}
		lp[i] = charts.Point{Label: label + " mean seconds", Value: avg}
	}
	return perMinute, median, charts.Bars("Images finished per minute, last hour", tp, 600, 80),
		charts.Bars("Mean seconds from receipt to result per minute, last hour", lp, 600, 80)
}
