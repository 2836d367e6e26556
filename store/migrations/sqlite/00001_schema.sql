-- The facecluster schema for SQLite (embedded mode). Times are Unix milliseconds (UTC) so that
-- both dialects compare and index them the same way.

-- +goose Up
CREATE TABLE people (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE images (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    source           TEXT    NOT NULL,
    source_kind      TEXT    NOT NULL CHECK (source_kind IN ('path', 'upload', 'url')),
    source_key       TEXT    NOT NULL,
    -- SHA-256 of source_key: the dedupe key (fixed width, so MySQL can index keys of any length).
    key_hash         BLOB    NOT NULL UNIQUE,
    -- Random token of the submit call that inserted the row: tells a caller which ids it created.
    submit_batch     INTEGER NOT NULL DEFAULT 0,
    camera           TEXT    NOT NULL DEFAULT '',
    content_hash     TEXT    NOT NULL DEFAULT '',
    width            INTEGER NOT NULL DEFAULT 0,
    height           INTEGER NOT NULL DEFAULT 0,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'processed', 'unidentified', 'no_faces', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT    NOT NULL DEFAULT '',
    lease_owner      TEXT    NULL,
    lease_expires_at INTEGER NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    processed_at     INTEGER NULL
);
CREATE INDEX images_created ON images (created_at, id);
CREATE INDEX images_status_created ON images (status, created_at, id);
CREATE INDEX images_status_updated ON images (status, updated_at);

CREATE TABLE faces (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id   INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    x          REAL    NOT NULL,
    y          REAL    NOT NULL,
    w          REAL    NOT NULL,
    h          REAL    NOT NULL,
    score      REAL    NOT NULL,
    landmarks  TEXT    NOT NULL DEFAULT '[]',
    descriptor BLOB    NULL,
    person_id  INTEGER NULL REFERENCES people (id) ON DELETE SET NULL,
    distance   REAL    NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (image_id, idx),
    UNIQUE (image_id, person_id)
);
CREATE INDEX faces_person ON faces (person_id, image_id);

CREATE TABLE examples (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id  INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    descriptor BLOB    NOT NULL,
    model      TEXT    NOT NULL,
    source     TEXT    NOT NULL DEFAULT '',
    face_id    INTEGER NULL REFERENCES faces (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX examples_person ON examples (person_id);
CREATE INDEX examples_face ON examples (face_id);

CREATE TABLE gallery_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO gallery_state (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE gallery_state;
DROP TABLE examples;
DROP TABLE faces;
DROP TABLE images;
DROP TABLE people;
