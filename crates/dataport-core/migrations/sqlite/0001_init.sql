-- dataport schema, SQLite dialect. Times are INTEGER microseconds since the Unix epoch.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   TEXT,
    redirect_uris TEXT NOT NULL,          -- JSON array of strings
    public        INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE grants (
    user_id          TEXT NOT NULL REFERENCES users(id),
    client_id        TEXT NOT NULL REFERENCES clients(id),
    resource         TEXT NOT NULL,
    access           TEXT NOT NULL CHECK (access IN ('one-time', 'time-based')),
    granted_at       INTEGER NOT NULL,
    expires_at       INTEGER,
    exhausted_at     INTEGER,
    last_initiate_at INTEGER,
    PRIMARY KEY (user_id, client_id, resource)
);

-- Access and refresh tokens, identified only by the SHA-256 of the token string.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    user_id    TEXT NOT NULL REFERENCES users(id),
    client_id  TEXT NOT NULL REFERENCES clients(id),
    scopes     TEXT NOT NULL,             -- space-separated resource groups
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX tokens_pair ON tokens (user_id, client_id);

-- An archive job is also its own queue item: workers claim it with a lease.
CREATE TABLE jobs (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users(id),
    client_id          TEXT NOT NULL REFERENCES clients(id),
    resources          TEXT NOT NULL,     -- space-separated, catalogue order
    access_type        TEXT NOT NULL,
    start_time         INTEGER,
    end_time           INTEGER,
    export_time        INTEGER NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('IN_PROGRESS', 'COMPLETE', 'FAILED', 'CANCELLED')),
    created_at         INTEGER NOT NULL,
    finished_at        INTEGER,
    retry_of           TEXT REFERENCES jobs(id),
    retry_index        INTEGER NOT NULL DEFAULT 0,
    attempt            INTEGER NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_expires_at   INTEGER,
    not_before         INTEGER NOT NULL DEFAULT 0,
    failure_reason     TEXT,
    archive_revoked_at INTEGER,
    blobs_deleted_at   INTEGER
);
CREATE INDEX jobs_pair ON jobs (user_id, client_id, created_at);
CREATE INDEX jobs_runnable ON jobs (state, created_at);
CREATE UNIQUE INDEX jobs_one_retry ON jobs (retry_of);

CREATE TABLE parts (
    job_id   TEXT NOT NULL REFERENCES jobs(id),
    idx      INTEGER NOT NULL,
    blob_key TEXT NOT NULL,
    size     INTEGER NOT NULL,
    sha256   TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);
