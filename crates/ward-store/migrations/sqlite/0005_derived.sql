-- Derived signals: extra PDQ hashes ward computed from the media of an entry it hashed itself
-- (crops, small rotations: `ward bank add`), matched as that entry. They are ward's own, never
-- exported; an entry's status (active/disabled) governs its derived signals too, so they have
-- no status of their own.
CREATE TABLE derived_signals (
    id          INTEGER PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES entries (id),
    name        TEXT NOT NULL,                   -- e.g. crop-5-centre, rotate+2
    value       BLOB NOT NULL,                   -- PDQ: 32 bytes
    quality     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,                -- change sequence of its insertion
    UNIQUE (entry_id, name)
);
CREATE INDEX derived_signals_by_seq ON derived_signals (seq);

-- Per-bank thresholds of edit-robust matching; NULL: the deployment's default.
ALTER TABLE banks ADD COLUMN region_threshold INTEGER;
ALTER TABLE banks ADD COLUMN derived_threshold INTEGER;
