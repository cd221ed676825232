-- Banks and their entries, with a change sequence so that an index can follow changes.
-- Kept to types PostgreSQL shares (INTEGER/BIGINT, TEXT, BLOB/BYTEA) so a second backend can
-- use the same shape.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('seq', 0);

CREATE TABLE banks (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    labels      TEXT NOT NULL DEFAULT '[]',      -- JSON array of strings
    policy      TEXT NOT NULL DEFAULT 'review' CHECK (policy IN ('review', 'auto')),
    source      TEXT NOT NULL DEFAULT '',        -- provenance: who shared it, under what terms
    created_at  INTEGER NOT NULL,                -- unix seconds, UTC
    created_by  TEXT NOT NULL,
    seq         INTEGER NOT NULL
);

CREATE TABLE entries (
    id          INTEGER PRIMARY KEY,
    bank_id     INTEGER NOT NULL REFERENCES banks (id),
    signal_type TEXT NOT NULL,                   -- pdq, md5, sha256, vpdq
    value       BLOB NOT NULL,                   -- the signal in binary (PDQ: 32 bytes)
    labels      TEXT NOT NULL DEFAULT '[]',
    source_id   TEXT,                            -- the sharer's id for it, when known
    added_at    INTEGER NOT NULL,
    added_by    TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    seq         INTEGER NOT NULL,                -- change sequence of its last change
    -- Also the lookup index of exact signals (its prefix is signal_type, value).
    UNIQUE (signal_type, value, bank_id)
);
CREATE INDEX entries_by_seq ON entries (seq);
