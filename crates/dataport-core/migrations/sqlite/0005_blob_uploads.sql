-- Multipart uploads to the blob store that have started and not yet completed or been aborted.
-- Not every S3-compatible server can list them, so they are recorded here, and whoever deletes
-- a prefix (a worker taking over a dead worker's job, the sweep) aborts the ones below it.
CREATE TABLE blob_uploads (
    key        TEXT NOT NULL,
    upload_id  TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    PRIMARY KEY (key, upload_id)
);
