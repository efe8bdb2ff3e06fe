-- The database of "Notes", a fictional notes-with-photos app: what an operator already has.
-- dataport only reads it, through the queries in catalogue.toml.
--
-- Loading this file drops and recreates the app's three tables, so that the example can be run
-- again on the same database. Do not load it into a database you care about.

DROP TABLE IF EXISTS photos;
DROP TABLE IF EXISTS notes;
DROP TABLE IF EXISTS users;

-- The app's accounts. `subject` is the id the app's sign-in knows a user by; dataport selects a
-- user's data by it (`dataportd admin user add --subject`, or a trusted sign-in header).
CREATE TABLE users (
    subject      text PRIMARY KEY,
    display_name text NOT NULL
);

CREATE TABLE notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner      text NOT NULL REFERENCES users (subject),
    title      text NOT NULL,
    body       text,                        -- NULL: a note with a title only
    tags       jsonb,                       -- e.g. ["travel", "photos"]; NULL: never tagged
    price      numeric(12, 2),              -- a shopping note's total; NULL for the others
    created_at timestamptz NOT NULL
);
CREATE INDEX notes_owner_created_at ON notes (owner, created_at);

-- Photo metadata; the bytes live on disk under <photo root>/<owner>/<file_name>.
CREATE TABLE photos (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    note_id   bigint NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    owner     text NOT NULL REFERENCES users (subject),
    file_name text NOT NULL,                -- relative to the owner's photo folder
    taken_at  timestamptz,                  -- NULL: the camera did not say
    UNIQUE (owner, file_name)
);
CREATE INDEX photos_note_id ON photos (note_id);
