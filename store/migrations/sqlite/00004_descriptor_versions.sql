-- Descriptor versions (issue 10): a face records the model version that computed its descriptor,
-- as an example already does, so that a new alignment or network can tell old descriptors from
-- new ones; an example records its original (the photo it was described from: a blob key of an
-- uploaded photo, or a path under the image root), so that `facecluster reembed` can describe it
-- again with a newer model. Every descriptor stored before this migration was computed by
-- face-api.js 1.7.15's recognition net, the only model there was.
-- original NULL: not kept (examples enrolled by upload before this migration).

-- +goose Up
ALTER TABLE faces ADD COLUMN model TEXT NOT NULL DEFAULT '';
UPDATE faces SET model = 'face-api-1.7.15/recognition' WHERE descriptor IS NOT NULL;
ALTER TABLE examples ADD COLUMN original TEXT NULL;
UPDATE examples SET original = source WHERE source LIKE '/%';
CREATE INDEX examples_model ON examples (model, id);

-- +goose Down
DROP INDEX examples_model;
ALTER TABLE examples DROP COLUMN original;
ALTER TABLE faces DROP COLUMN model;
