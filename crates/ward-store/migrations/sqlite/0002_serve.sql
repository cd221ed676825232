-- What `ward serve` needs: API tokens, and the bank settings HMA's API exposes.

-- Bearer tokens. Only the SHA-256 of a token is kept: a copy of the database does not hand
-- out working credentials.
CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('submitter', 'reviewer', 'curator', 'admin')),
    sha256      BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  INTEGER                          -- NULL while the token works
);

-- HMA's `matching_enabled_ratio`: the share of lookups in which a bank's matches are reported
-- (1 always, 0 never), for trying a new bank on part of the traffic.
ALTER TABLE banks ADD COLUMN matching_enabled_ratio REAL NOT NULL DEFAULT 1.0;
-- A deleted bank is kept, renamed, with its entries disabled: matches and decisions that refer
-- to it stay explainable, and entry ids are never reused.
ALTER TABLE banks ADD COLUMN deleted_at INTEGER;
