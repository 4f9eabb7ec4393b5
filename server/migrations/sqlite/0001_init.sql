-- passgate server schema, SQLite flavour. Times are Unix seconds (UTC); `day` columns are
-- Beijing-time dates (YYYY-MM-DD).

CREATE TABLE enterprises (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE checkpoints (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    inside_zone    INTEGER NOT NULL,
    enterprise_id  INTEGER REFERENCES enterprises(id),
    created_at     INTEGER NOT NULL
);

CREATE TABLE issuer_keys (
    id          INTEGER PRIMARY KEY,
    public_key  TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- One row per issuing area: the next serial to hand out.
CREATE TABLE pass_serials (
    area  INTEGER PRIMARY KEY,
    next  INTEGER NOT NULL
);

CREATE TABLE passes (
    number             TEXT PRIMARY KEY,
    class              TEXT NOT NULL,
    plate              TEXT NOT NULL,
    driver_name        TEXT NOT NULL,
    driver_masked      TEXT NOT NULL,
    driver_id_hash     TEXT,
    co_driver_name     TEXT,
    co_driver_masked   TEXT,
    enterprise_id      INTEGER NOT NULL REFERENCES enterprises(id),
    origin             TEXT NOT NULL,
    destination        TEXT NOT NULL,
    route_checkpoints  TEXT NOT NULL,
    cargo              TEXT NOT NULL,
    valid_from         INTEGER NOT NULL,
    valid_until        INTEGER NOT NULL,
    max_dwell_minutes  INTEGER,
    key_id             INTEGER NOT NULL,
    qr_text            TEXT NOT NULL,
    status             TEXT NOT NULL,
    revoked_at         INTEGER,
    revoke_reason      TEXT,
    created_at         INTEGER NOT NULL,
    created_by         TEXT NOT NULL
);
CREATE INDEX passes_plate ON passes(plate);
CREATE INDEX passes_status ON passes(status);

-- A single counter: the trust bundle's version. Every change a gate must learn of
-- (revocation, checkpoint, key) bumps it in the same transaction.
CREATE TABLE bundle_state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO bundle_state (id, version) VALUES (1, 1);

CREATE TABLE api_tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    checkpoint_id  INTEGER REFERENCES checkpoints(id),
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);

-- Scan records uploaded by gates. `id` is made by the gate: inserting twice is a no-op.
CREATE TABLE scans (
    id              TEXT PRIMARY KEY,
    checkpoint_id   INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    scanned_at      INTEGER NOT NULL,
    day             TEXT NOT NULL,
    direction       TEXT NOT NULL,
    number          TEXT,
    class           TEXT,
    plate           TEXT,
    accepted        INTEGER NOT NULL,
    verdict         TEXT NOT NULL,
    warnings        TEXT NOT NULL,
    bundle_version  INTEGER NOT NULL,
    received_at     INTEGER NOT NULL
);
CREATE INDEX scans_day ON scans(day, checkpoint_id);
