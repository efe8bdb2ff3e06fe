-- Sign-in attempts, counted before the password is checked and shared by every node, so that the
-- throttle (SPEC §10.2) holds across processes. A successful attempt is deleted again.
CREATE TABLE sign_in_attempts (
    attempt TEXT NOT NULL,
    key     TEXT NOT NULL,           -- 'u:<username>' or 'a:<client address>'
    at      BIGINT NOT NULL
);
CREATE INDEX sign_in_attempts_key ON sign_in_attempts (key, at);
CREATE INDEX sign_in_attempts_attempt ON sign_in_attempts (attempt);
