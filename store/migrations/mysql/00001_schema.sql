-- The facecluster schema for MySQL 8 / MariaDB 10.11. Times are Unix milliseconds (UTC) so that
-- both dialects compare and index them the same way; utf8mb4_bin makes names and keys compare
-- byte for byte, as in SQLite.

-- +goose Up
CREATE TABLE people (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name       VARCHAR(255) NOT NULL,
    created_at BIGINT       NOT NULL,
    updated_at BIGINT       NOT NULL,
    UNIQUE KEY people_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE images (
    id               BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source           TEXT         NOT NULL,
    source_kind      VARCHAR(8)   NOT NULL,
    source_key       TEXT         NOT NULL,
    -- SHA-256 of source_key: the dedupe key (fixed width: InnoDB cannot index long TEXT uniquely).
    key_hash         BINARY(32)   NOT NULL,
    -- Random token of the submit call that inserted the row: tells a caller which ids it created.
    submit_batch     BIGINT       NOT NULL DEFAULT 0,
    camera           VARCHAR(255) NOT NULL DEFAULT '',
    content_hash     VARCHAR(128) NOT NULL DEFAULT '',
    width            INT          NOT NULL DEFAULT 0,
    height           INT          NOT NULL DEFAULT 0,
    status           VARCHAR(16)  NOT NULL DEFAULT 'pending',
    attempts         INT          NOT NULL DEFAULT 0,
    last_error       TEXT         NOT NULL,
    lease_owner      VARCHAR(255) NULL,
    lease_expires_at BIGINT       NULL,
    created_at       BIGINT       NOT NULL,
    updated_at       BIGINT       NOT NULL,
    processed_at     BIGINT       NULL,
    UNIQUE KEY images_key_hash (key_hash),
    KEY images_created (created_at, id),
    KEY images_status_created (status, created_at, id),
    KEY images_status_updated (status, updated_at),
    CONSTRAINT images_source_kind CHECK (source_kind IN ('path', 'upload', 'url')),
    CONSTRAINT images_status CHECK (status IN ('pending', 'processing', 'processed', 'unidentified', 'no_faces', 'failed'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE faces (
    id         BIGINT     NOT NULL AUTO_INCREMENT PRIMARY KEY,
    image_id   BIGINT     NOT NULL,
    idx        INT        NOT NULL,
    x          DOUBLE     NOT NULL,
    y          DOUBLE     NOT NULL,
    w          DOUBLE     NOT NULL,
    h          DOUBLE     NOT NULL,
    score      DOUBLE     NOT NULL,
    landmarks  MEDIUMTEXT NOT NULL,
    descriptor BLOB       NULL,
    person_id  BIGINT     NULL,
    distance   DOUBLE     NULL,
    created_at BIGINT     NOT NULL,
    UNIQUE KEY faces_image_idx (image_id, idx),
    UNIQUE KEY faces_image_person (image_id, person_id),
    KEY faces_person (person_id, image_id),
    CONSTRAINT faces_image FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE,
    CONSTRAINT faces_person_fk FOREIGN KEY (person_id) REFERENCES people (id) ON DELETE SET NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE examples (
    id         BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    person_id  BIGINT       NOT NULL,
    descriptor BLOB         NOT NULL,
    model      VARCHAR(255) NOT NULL,
    source     TEXT         NOT NULL,
    face_id    BIGINT       NULL,
    created_at BIGINT       NOT NULL,
    KEY examples_person (person_id),
    KEY examples_face (face_id),
    CONSTRAINT examples_person_fk FOREIGN KEY (person_id) REFERENCES people (id) ON DELETE CASCADE,
    CONSTRAINT examples_face_fk FOREIGN KEY (face_id) REFERENCES faces (id) ON DELETE SET NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE gallery_state (
    id      INT    NOT NULL PRIMARY KEY,
    version BIGINT NOT NULL,
    CONSTRAINT gallery_state_single CHECK (id = 1)
) ENGINE = InnoDB;
INSERT INTO gallery_state (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE gallery_state;
DROP TABLE examples;
DROP TABLE faces;
DROP TABLE images;
DROP TABLE people;
