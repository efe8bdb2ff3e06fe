-- OAuth 2.0 authorization server: codes, token families, sessions, pending authorizations, audit.

-- A refresh token and the access tokens minted with it share a family; reusing a rotated refresh
-- token revokes the family (RFC 9700 §4.14.2). `code_hash` ties tokens to the code they came from,
-- so a replayed code revokes them (RFC 6749 §4.1.2).
ALTER TABLE tokens ADD COLUMN family TEXT;
ALTER TABLE tokens ADD COLUMN code_hash TEXT;
ALTER TABLE tokens ADD COLUMN rotated_at BIGINT;
-- Lifetime of the grant behind a refresh token (time-based grants), for refresh_token_expires_in.
ALTER TABLE tokens ADD COLUMN access TEXT;
CREATE INDEX tokens_family ON tokens (family);
CREATE INDEX tokens_code ON tokens (code_hash);

CREATE TABLE auth_codes (
    hash           TEXT PRIMARY KEY,          -- SHA-256 of the code
    client_id      TEXT NOT NULL REFERENCES clients(id),
    user_id        TEXT NOT NULL REFERENCES users(id),
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,                      -- S256 challenge, if the request carried one
    scopes         TEXT NOT NULL,             -- granted groups, space-separated
    access         TEXT NOT NULL,             -- one-time, 30d or 180d
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

-- Browser sessions of the login and consent pages; the cookie holds the id, the table its hash.
-- Forms carry a CSRF token derived from the cookie, so nothing about it is stored.
CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Authorization requests waiting for login and consent, bound to the session that made them.
CREATE TABLE pending_authorizations (
    id             TEXT PRIMARY KEY,
    session_hash   TEXT NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients(id),
    redirect_uri   TEXT NOT NULL,
    state          TEXT,
    scopes         TEXT NOT NULL,
    code_challenge TEXT,
    include_granted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);

-- Append-only audit trail (SPEC §11). Nothing updates or deletes rows.
CREATE TABLE audit (
    id        BIGSERIAL PRIMARY KEY,
    at        BIGINT NOT NULL,
    event     TEXT NOT NULL,
    user_id   TEXT,
    client_id TEXT,
    resources TEXT,
    job_id    TEXT,
    detail    TEXT
);
CREATE INDEX audit_at ON audit (at);
