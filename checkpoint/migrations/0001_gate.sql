-- The checkpoint's local database (issue-3 gate protocol, docs/sync-protocol.md): who this
-- device is, the signed bundle files it decides with, and the chained log of every scan.
-- Later migrations add columns with ALTER TABLE … ADD COLUMN (nullable or with a default),
-- so rows written by earlier versions stay valid.

-- Exactly one row, written by `enroll` in the same transaction as the first bundle file.
CREATE TABLE config (
    id                     INTEGER PRIMARY KEY CHECK (id = 1),
    server_url             TEXT    NOT NULL,
    token                  TEXT    NOT NULL,
    device_id              INTEGER NOT NULL,
    checkpoint_id          INTEGER NOT NULL,
    checkpoint_name        TEXT    NOT NULL,
    device_name            TEXT,
    -- JSON array of IssuerKey: the bundle-signing keys new bundle files must verify with
    -- (pinned at enrolment, replaced by each applied file's `bundle_keys`: rotation).
    bundle_keys            TEXT    NOT NULL,
    -- The highest bundle version ever applied: a file below it is a rollback, even when a
    -- damaged stored file made the gate fall back to an older good one.
    highest_bundle_version INTEGER NOT NULL,
    enrolled_at            INTEGER NOT NULL,  -- unix seconds, gate clock
    last_sync_at           INTEGER            -- unix seconds of the last complete sync
);

-- Bundle files exactly as the server sent them, re-verified whenever they are loaded. A
-- snapshot starts a new generation; deltas follow it in `id` order. The held bundle is the
-- newest generation's snapshot with its deltas applied; when a stored file no longer
-- verifies (damaged disk), the gate uses the files before it, or the previous generation.
-- Each row keeps the bundle-signing keys that verified it on arrival, so a later key
-- rotation does not make a good stored file unreadable.
CREATE TABLE bundle_files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    generation   INTEGER NOT NULL CHECK (generation >= 1),
    is_delta     INTEGER NOT NULL CHECK (is_delta IN (0, 1)),
    version      INTEGER NOT NULL,
    generated_at INTEGER NOT NULL,  -- server clock, unix seconds
    stored_at    INTEGER NOT NULL,  -- gate clock, unix seconds
    verify_keys  TEXT    NOT NULL,  -- JSON array of IssuerKey
    bytes        BLOB    NOT NULL
);

CREATE INDEX bundle_files_generation ON bundle_files (generation, id);

-- One row per scan record (passgate_shared::record::GateRecord), never changed except to
-- mark it uploaded. `seq` is allocated inside the BEGIN IMMEDIATE transaction that inserts
-- the row; `record` is the record's JSON exactly as it is hashed and uploaded, `hash` its
-- hex SHA-256 (the next record's prev_hash). The other columns repeat fields of the record
-- for queries. The raw QR text is deliberately not stored.
CREATE TABLE scans (
    seq               INTEGER PRIMARY KEY CHECK (seq >= 1),
    id                TEXT    NOT NULL UNIQUE CHECK (length(id) = 32),
    checkpoint_id     INTEGER NOT NULL,
    scanned_at        INTEGER NOT NULL,
    direction         TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    number            TEXT,
    class             TEXT,
    plate             TEXT,
    accepted          INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    reason            TEXT,
    verdict           TEXT    NOT NULL,  -- GateRecord::verdict_label(): what counts group by
    overrides_seq     INTEGER UNIQUE,    -- an override record: the rejected scan it overrides
    max_dwell_minutes INTEGER,           -- the pass's dwell limit (load-unload-leave), for status
    record            TEXT    NOT NULL,  -- GateRecord JSON
    hash              TEXT    NOT NULL CHECK (length(hash) = 64),
    uploaded_at       INTEGER            -- NULL until the server confirmed it
);

CREATE INDEX scans_unsent ON scans (seq) WHERE uploaded_at IS NULL;
CREATE INDEX scans_scanned_at ON scans (scanned_at);
CREATE INDEX scans_number ON scans (number, seq) WHERE number IS NOT NULL;
CREATE INDEX scans_number_time ON scans (number, scanned_at) WHERE number IS NOT NULL;
