-- Which people each gallery version changed, so that recognizers apply only those instead of
-- reloading every example (a full reload of a million descriptors takes seconds). Written in
-- the transaction that bumps gallery_state.version; that row's lock orders versions by commit.
-- changes_from: the log is complete for versions above it (older entries are pruned; a
-- recognizer further behind reloads everything).

-- +goose Up
CREATE TABLE gallery_changes (
    version   INTEGER NOT NULL,
    person_id INTEGER NOT NULL,
    PRIMARY KEY (version, person_id)
) WITHOUT ROWID;
ALTER TABLE gallery_state ADD COLUMN changes_from INTEGER NOT NULL DEFAULT 0;
UPDATE gallery_state SET changes_from = version;

-- +goose Down
ALTER TABLE gallery_state DROP COLUMN changes_from;
DROP TABLE gallery_changes;
