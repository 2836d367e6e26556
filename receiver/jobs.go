package receiver

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facecluster/facecluster/internal/httpjson"
	"github.com/facecluster/facecluster/jobs"
	"github.com/facecluster/facecluster/store"
)

// jobJSON is a background job as the API shows it.
type jobJSON struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"`
	Params     json.RawMessage `json:"params"`
	State      string          `json:"state"`
	Done       int64           `json:"done"`
	Total      int64           `json:"total"`
	Checkpoint string          `json:"checkpoint"`
	Attempts   int             `json:"attempts"`
	Error      string          `json:"error"`
	Runner     string          `json:"runner"`
	// LeaseExpiresAt: while running, when another replica takes the job over if its runner
	// stops answering.
	LeaseExpiresAt *time.Time `json:"lease_expires_at"`
	// ThrottledSince: the runner has been holding the job back for live images since then.
	ThrottledSince *time.Time `json:"throttled_since"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

func toJobJSON(j store.Job) jobJSON {
	return jobJSON{
		ID: j.ID, Kind: j.Kind, Params: j.Params, State: string(j.State), Done: j.Done, Total: j.Total, Checkpoint: j.Checkpoint,
		Attempts: j.Attempts, Error: j.LastError, Runner: j.LeaseOwner, LeaseExpiresAt: timePtr(j.LeaseExpiresAt),
		ThrottledSince: timePtr(j.ThrottledAt), CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, StartedAt: timePtr(j.StartedAt),
		FinishedAt: timePtr(j.FinishedAt),
	}
}

// GET /api/v1/jobs?state=&before=&limit=
func (rc *Receiver) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f store.JobFilter
	for _, v := range q["state"] {
		for _, s := range strings.Split(v, ",") {
			st, err := store.ParseJobState(s)
			if err != nil {
				rc.fail(w, r, errorf(http.StatusBadRequest, "state: %v", trimStorePrefix(err)))
				return
			}
			f.States = append(f.States, st)
		}
	}
	for name, dst := range map[string]*int64{"before": &f.BeforeID} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				rc.fail(w, r, errorf(http.StatusBadRequest, "%s %q is not a positive integer job id", name, v))
				return
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			rc.fail(w, r, errorf(http.StatusBadRequest, "limit %q must be an integer from 1 to 1000", v))
			return
		}
		f.Limit = n
	}
	list, err := rc.opts.Store.ListJobs(r.Context(), f)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	out := struct {
		Jobs []jobJSON `json:"jobs"`
	}{Jobs: make([]jobJSON, 0, len(list))}
	for _, j := range list {
		out.Jobs = append(out.Jobs, toJobJSON(j))
	}
	httpjson.Write(w, http.StatusOK, out)
}

// POST /api/v1/jobs {"kind": "retry", "params": {"statuses": ["failed"]}}
func (rc *Receiver) createJob(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Kind   string          `json:"kind"`
		Params json.RawMessage `json:"params"`
	}
	if err := rc.decodeJSON(w, r, &req, true); err != nil {
		rc.fail(w, r, err)
		return
	}
	p, err := jobs.ParseParams(req.Kind, req.Params)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	j, err := jobs.Create(r.Context(), rc.opts.Store, p)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/jobs/"+strconv.FormatInt(j.ID, 10))
	httpjson.Write(w, http.StatusAccepted, toJobJSON(j))
}

// GET /api/v1/jobs/{id}
func (rc *Receiver) getJob(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	j, err := rc.opts.Store.GetJob(r.Context(), id)
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, toJobJSON(j))
}

// POST /api/v1/jobs/{id}/cancel
func (rc *Receiver) cancelJob(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	j, err := rc.opts.Store.CancelJob(r.Context(), id)
	if errors.Is(err, store.ErrConflict) {
		rc.fail(w, r, errorf(http.StatusConflict, "job %d is already %s; nothing to cancel", id, j.State))
		return
	}
	if err != nil {
		rc.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, toJobJSON(j))
}
