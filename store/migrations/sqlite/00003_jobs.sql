-- Background jobs (package jobs): long work — bulk retries today; re-embedding, cluster rebuilds,
-- object backfill and retention purges later — done in batches by whichever replica holds the
-- job's lease. checkpoint is the job's own resumption point (e.g. the last image id it did),
-- written after every batch: a runner that takes over an expired lease starts from there.
-- throttled_at: since when the runner has been holding back for live images (NULL: working).

-- +goose Up
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    params           TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    done             INTEGER NOT NULL DEFAULT 0,
    total            INTEGER NOT NULL DEFAULT 0,
    checkpoint       TEXT    NOT NULL DEFAULT '',
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    lease_owner      TEXT    NULL,
    lease_expires_at INTEGER NULL,
    throttled_at     INTEGER NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER NULL,
    finished_at      INTEGER NULL
);
CREATE INDEX jobs_state ON jobs (state, id);

-- +goose Down
DROP TABLE jobs;
