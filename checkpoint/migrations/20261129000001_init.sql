-- The checkpoint's local database: its configuration, the trust bundle it decides with, and
-- the durable log of every scan. Later migrations add columns with ALTER TABLE … ADD COLUMN
-- (nullable or with a default), so rows written by earlier versions stay valid.

-- Exactly one row: who this device is and where its server is.
CREATE TABLE config (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    server_url     TEXT    NOT NULL,
    token          TEXT    NOT NULL,
    checkpoint_id  INTEGER NOT NULL,
    initialised_at INTEGER NOT NULL,  -- unix seconds, gate clock
    last_sync_at   INTEGER            -- unix seconds of the last complete sync
);

-- Exactly one row: the trust bundle in force, as the server sent it (JSON).
CREATE TABLE bundle (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    version      INTEGER NOT NULL,
    generated_at INTEGER NOT NULL,  -- server clock, unix seconds
    stored_at    INTEGER NOT NULL,  -- gate clock, unix seconds
    json         TEXT    NOT NULL
);

-- One row per scan, never updated except to mark it uploaded. `seq` is the gate's own
-- sequence number (1, 2, 3 … without gaps), allocated inside the write transaction that
-- inserts the row. The raw QR text is deliberately not stored.
--
-- Reserved for later migrations (nullable columns): prev_hash / record_hash (a hash chain
-- over records in seq order), guard_id, health-code observations, supervisor override.
CREATE TABLE scans (
    seq            INTEGER PRIMARY KEY CHECK (seq >= 1),
    id             TEXT    NOT NULL UNIQUE CHECK (length(id) = 32),
    checkpoint_id  INTEGER NOT NULL,
    scanned_at     INTEGER NOT NULL,
    direction      TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    number         TEXT,
    class          TEXT,
    plate          TEXT,
    accepted       INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    reason         TEXT,
    warnings       TEXT    NOT NULL DEFAULT '[]',  -- JSON array of warning codes
    bundle_version INTEGER NOT NULL,
    uploaded_at    INTEGER,                        -- NULL until the server confirmed it
    CHECK ((accepted = 1) = (reason IS NULL))
);

CREATE INDEX scans_unsent ON scans (seq) WHERE uploaded_at IS NULL;
CREATE INDEX scans_scanned_at ON scans (scanned_at);
