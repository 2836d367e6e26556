-- Background jobs (package jobs): long work — bulk retries today; re-embedding, cluster rebuilds,
-- object backfill and retention purges later — done in batches by whichever replica holds the
-- job's lease. checkpoint is the job's own resumption point (e.g. the last image id it did),
-- written after every batch: a runner that takes over an expired lease starts from there.
-- throttled_at: since when the runner has been holding back for live images (NULL: working).

-- +goose Up
CREATE TABLE jobs (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind             VARCHAR(64)  NOT NULL,
    params           MEDIUMTEXT   NOT NULL,
    state            VARCHAR(16)  NOT NULL DEFAULT 'queued',
    done             BIGINT       NOT NULL DEFAULT 0,
    total            BIGINT       NOT NULL DEFAULT 0,
    checkpoint       TEXT         NOT NULL,
    attempts         INT          NOT NULL DEFAULT 0,
    last_error       TEXT         NOT NULL,
    lease_owner      VARCHAR(255) NULL,
    lease_expires_at BIGINT       NULL,
    throttled_at     BIGINT       NULL,
    created_at       BIGINT       NOT NULL,
    updated_at       BIGINT       NOT NULL,
    started_at       BIGINT       NULL,
    finished_at      BIGINT       NULL,
    KEY jobs_state (state, id),
    CONSTRAINT jobs_state_valid CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- +goose Down
DROP TABLE jobs;
