-- dataport schema, PostgreSQL dialect. Times are BIGINT microseconds since the Unix epoch, as in
-- the SQLite schema, so that both backends read and write the same model.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    password_hash TEXT,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   TEXT,
    redirect_uris TEXT NOT NULL,          -- JSON array of strings
    public        BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE grants (
    user_id          TEXT NOT NULL REFERENCES users(id),
    client_id        TEXT NOT NULL REFERENCES clients(id),
    resource         TEXT NOT NULL,
    access           TEXT NOT NULL CHECK (access IN ('one-time', 'time-based')),
    granted_at       BIGINT NOT NULL,
    expires_at       BIGINT,
    exhausted_at     BIGINT,
    last_initiate_at BIGINT,
    PRIMARY KEY (user_id, client_id, resource)
);

-- Access and refresh tokens, identified only by the SHA-256 of the token string.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    user_id    TEXT NOT NULL REFERENCES users(id),
    client_id  TEXT NOT NULL REFERENCES clients(id),
    scopes     TEXT NOT NULL,             -- space-separated resource groups
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX tokens_pair ON tokens (user_id, client_id);

-- An archive job is also its own queue item: workers claim it with a lease.
CREATE TABLE jobs (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users(id),
    client_id          TEXT NOT NULL REFERENCES clients(id),
    resources          TEXT NOT NULL,     -- space-separated, catalogue order
    access_type        TEXT NOT NULL,
    start_time         BIGINT,
    end_time           BIGINT,
    export_time        BIGINT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('IN_PROGRESS', 'COMPLETE', 'FAILED', 'CANCELLED')),
    created_at         BIGINT NOT NULL,
    finished_at        BIGINT,
    retry_of           TEXT REFERENCES jobs(id),
    retry_index        BIGINT NOT NULL DEFAULT 0,
    attempt            BIGINT NOT NULL DEFAULT 0,
    lease_owner        TEXT,
    lease_expires_at   BIGINT,
    not_before         BIGINT NOT NULL DEFAULT 0,
    failure_reason     TEXT,
    archive_revoked_at BIGINT,
    blobs_deleted_at   BIGINT
);
CREATE INDEX jobs_pair ON jobs (user_id, client_id, created_at);
CREATE INDEX jobs_runnable ON jobs (state, created_at);
CREATE UNIQUE INDEX jobs_one_retry ON jobs (retry_of);

CREATE TABLE parts (
    job_id   TEXT NOT NULL REFERENCES jobs(id),
    idx      BIGINT NOT NULL,
    blob_key TEXT NOT NULL,
    size     BIGINT NOT NULL,
    sha256   TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);
