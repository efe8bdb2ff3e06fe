-- The person's own page (/account): their audit entries, newest first and paged by id, and the
-- downloads of each of their jobs.
CREATE INDEX audit_user ON audit (user_id, id);
