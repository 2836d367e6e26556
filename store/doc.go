// Package store is facecluster's SQL data layer: images and their processing state, the faces
// found in them, the people they are matched to and the enrolment examples behind the gallery.
//
// One Store speaks two dialects: SQLite through the pure-Go modernc.org/sqlite driver (the
// embedded, one-machine default: WAL, busy timeout, foreign keys on, immediate write
// transactions) and MySQL 8 / MariaDB 10.11 through go-sql-driver/mysql (production). The schema
// lives in goose migrations embedded per dialect (migrations/sqlite, migrations/mysql) and is
// described in docs/architecture.md.
//
// The image lifecycle is pending → processing → processed | unidentified | no_faces | failed.
// Every transition is a single conditional UPDATE, so the database decides races:
// ClaimImage lets exactly one owner hold an image under a lease, RecordOutcome and RecordFailure
// only act for the owner still holding it, and ExpireLeases returns images of dead processors to
// pending. Submitting the same source twice yields the same image (dedupe on a SHA-256 of the
// source key under a UNIQUE index), also under concurrent duplicates.
//
// Every change to people or examples bumps gallery_state.version in the same transaction and
// logs the people it touched in gallery_changes; recognizers poll GalleryVersion, load
// everything once with StreamGallery (row by row, without a list of every example; LoadGallery
// returns that list) and then apply GalleryChanges (only the people changed).
package store
