-- Security hardening (issue #7).

-- Trusted-header sign-in finds users by subject id, so a subject names one user only.
CREATE UNIQUE INDEX users_subject ON users (subject);

-- The periodic sweep prunes what has expired; these keep its deletes from scanning the tables.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX pending_expires ON pending_authorizations (expires_at);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
