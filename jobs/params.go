package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/facecluster/facecluster/store"
)

// Params are a job kind's parameters: Create validates and stores them.
type Params interface {
	Kind() string
	Validate() error
}

// kinds makes empty Params for each kind that can be created from JSON (ParseParams). A new
// kind adds itself here.
var kinds = map[string]func() Params{
	KindRetry:   func() Params { return &RetryParams{} },
	KindReembed: func() Params { return &ReembedParams{} },
}

// KnownKinds lists the kinds ParseParams accepts, sorted.
func KnownKinds() []string {
	out := make([]string, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ParseParams decodes and validates a kind's JSON parameters (unknown fields refused).
func ParseParams(kind string, raw json.RawMessage) (Params, error) {
	mk, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("%w: unknown job kind %q (known: %v)", store.ErrInvalid, kind, KnownKinds())
	}
	p := mk()
	if len(raw) > 0 {
		if err := strictJSON(raw, p); err != nil {
			return nil, fmt.Errorf("%w: %s job parameters: %v", store.ErrInvalid, kind, err)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Creator is what Create needs of *store.Store.
type Creator interface {
	CreateJob(ctx context.Context, kind string, params json.RawMessage) (store.Job, error)
}

// Create validates p and queues a job for it: a runner that knows the kind picks it up.
func Create(ctx context.Context, st Creator, p Params) (store.Job, error) {
	if err := p.Validate(); err != nil {
		return store.Job{}, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return store.Job{}, fmt.Errorf("jobs: encode %s parameters: %w", p.Kind(), err)
	}
	return st.CreateJob(ctx, p.Kind(), raw)
}

func strictJSON(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// RunnerRole names the facecluster serve role whose runner runs jobs of kind: the recognizer
// for the kinds that need the face engine, the reconciler for the others.
func RunnerRole(kind string) string {
	if kind == KindReembed {
		return "recognizer"
	}
	return "reconciler"
}
