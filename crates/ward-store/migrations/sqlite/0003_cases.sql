-- Content, cases, decisions, the webhook outbox and the hash-chained audit log.
-- Times are unix seconds, UTC. Nothing here is ever deleted.

-- Every submission (`POST /v1/content`), matched or not, so the platform can ask about it later.
CREATE TABLE contents (
    id           INTEGER PRIMARY KEY,
    content_id   TEXT NOT NULL,                  -- the platform's id (not unique: resubmissions)
    received_at  INTEGER NOT NULL,
    submitted_by TEXT NOT NULL,
    media_type   TEXT NOT NULL CHECK (media_type IN ('photo', 'video')),
    content_type TEXT NOT NULL,                  -- MIME type found in the bytes
    sha256       BLOB NOT NULL,
    md5          BLOB NOT NULL,
    pdq          BLOB,                           -- 32 bytes; NULL for video
    pdq_quality  INTEGER,
    metadata     TEXT NOT NULL DEFAULT 'null',   -- JSON object or null
    outcome      TEXT NOT NULL CHECK (outcome IN ('pending', 'quarantined', 'allowed', 'no_match')),
    decision_id  INTEGER,                        -- the decision that set the outcome (or an earlier newsworthy one)
    has_media    INTEGER NOT NULL DEFAULT 0      -- bytes kept in the media folder
);
CREATE INDEX contents_by_content_id ON contents (content_id, id);
CREATE INDEX contents_by_sha256 ON contents (sha256);

CREATE TABLE cases (
    id         INTEGER PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    media_type TEXT NOT NULL CHECK (media_type IN ('photo', 'video')),
    decision   TEXT CHECK (decision IN ('confirm', 'reject', 'newsworthy'))  -- set when closed
);
CREATE INDEX cases_by_status ON cases (status, id);

-- A case groups several contents (a flood of copies); one decision applies to all of them.
CREATE TABLE case_items (
    id       INTEGER PRIMARY KEY,
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    content  INTEGER NOT NULL UNIQUE REFERENCES contents (id),
    added_at INTEGER NOT NULL
);
CREATE INDEX case_items_by_case ON case_items (case_id, id);

-- What a content matched, with the entry's labels and the bank's provenance as they were then.
-- case_id is NULL for content allowed by an earlier newsworthy decision (never queued).
CREATE TABLE case_matches (
    id          INTEGER PRIMARY KEY,
    content     INTEGER NOT NULL REFERENCES contents (id),
    case_id     INTEGER REFERENCES cases (id),
    entry_id    INTEGER NOT NULL REFERENCES entries (id),
    bank        TEXT NOT NULL,
    signal_type TEXT NOT NULL,
    distance    INTEGER NOT NULL,
    via         TEXT NOT NULL,
    labels      TEXT NOT NULL DEFAULT '[]',
    bank_source TEXT NOT NULL DEFAULT '',
    source_id   TEXT,
    policy      TEXT NOT NULL,
    segments    TEXT NOT NULL DEFAULT '[]',      -- JSON: aligned video segments
    region      TEXT                             -- JSON {x, y, width, height}: the part of the upload that matched
);
CREATE INDEX case_matches_by_content ON case_matches (content);
CREATE INDEX case_matches_by_case ON case_matches (case_id);
CREATE INDEX case_matches_by_entry ON case_matches (entry_id, case_id);

CREATE TABLE decisions (
    id       INTEGER PRIMARY KEY,
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    decision TEXT NOT NULL CHECK (decision IN ('confirm', 'reject', 'newsworthy', 'escalate')),
    reviewer TEXT NOT NULL,
    note     TEXT,
    at       INTEGER NOT NULL
);
CREATE INDEX decisions_by_case ON decisions (case_id, id);

-- Rejections (false positives) counted against the entry that matched.
ALTER TABLE entries ADD COLUMN false_positives INTEGER NOT NULL DEFAULT 0;

-- The outbox: one event per item outcome, written in the decision's transaction, delivered
-- by webhook until a 2xx and readable by polling (`GET /v1/events`).
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,            -- the event id; delivery and polling follow it
    at           INTEGER NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,                  -- the JSON body sent
    attempts     INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER,
    last_error   TEXT
);
CREATE INDEX events_undelivered ON events (id) WHERE delivered_at IS NULL;

-- Hash-chained: hash = SHA-256(prev_hash || length-prefixed id, at, actor, action, subject,
-- detail); the first entry's prev_hash is 32 zero bytes. Appended in the same transaction as
-- the write it records.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,                     -- JSON, hashed as stored
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
