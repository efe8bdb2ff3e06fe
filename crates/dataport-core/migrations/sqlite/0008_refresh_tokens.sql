-- Refresh tokens that behave like Google's (SPEC §10.3, issue #23).
--
-- The operator's choice of what a refresh does to a client's refresh token: 'never' (it stays,
-- as at Google) or 'rotate' (exchanged for a successor, reuse detected); NULL: the default for
-- the client's type (confidential: never; public: rotate).
ALTER TABLE clients ADD COLUMN refresh_rotation TEXT CHECK (refresh_rotation IN ('never', 'rotate'));
-- The emulator's demo client behaves as Google's clients do; a fresh seed creates it so.
UPDATE clients SET refresh_rotation = 'never' WHERE id = 'demo-client';
-- When a refresh token was last presented: six months without use end it.
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
-- The live refresh tokens of a pair, oldest first: the per-(user, client) cap drops from here.
CREATE INDEX tokens_live_refresh ON tokens (user_id, client_id, created_at)
    WHERE kind = 'refresh' AND revoked_at IS NULL AND rotated_at IS NULL;
