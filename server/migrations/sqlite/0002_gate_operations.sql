-- Gate operations: enrolled devices, one-time enrolment codes, chained scan records with
-- their device and hash, chain incidents, and the bundle version of each revocation (for
-- bundle deltas). Scan records of the first protocol carried no device or chain; no gate
-- ran it in production, so that table is replaced.

CREATE TABLE devices (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoints(id),
    name           TEXT NOT NULL,
    public_key     TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL,
    enrolled_at    INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoke_reason  TEXT,
    last_seen_at   INTEGER,
    last_seq       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE enrollment_codes (
    code_hash      TEXT PRIMARY KEY,
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoints(id),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    device_id      INTEGER REFERENCES devices(id)
);

ALTER TABLE api_tokens ADD COLUMN device_id INTEGER REFERENCES devices(id);
ALTER TABLE passes ADD COLUMN revoked_version INTEGER;
CREATE INDEX passes_revoked_version ON passes(revoked_version);
-- Passes revoked before this migration appear in deltas from any earlier version.
UPDATE passes SET revoked_version = (SELECT version FROM bundle_state WHERE id = 1) WHERE status = 'revoked';

DROP TABLE scans;
CREATE TABLE scans (
    device_id       INTEGER NOT NULL REFERENCES devices(id),
    seq             INTEGER NOT NULL,
    id              TEXT NOT NULL UNIQUE,
    hash            TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    checkpoint_id   INTEGER NOT NULL,
    scanned_at      INTEGER NOT NULL,
    day             TEXT NOT NULL,
    direction       TEXT NOT NULL,
    number          TEXT,
    class           TEXT,
    plate           TEXT,
    accepted        INTEGER NOT NULL,
    verdict         TEXT NOT NULL,
    record          TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX scans_day ON scans(day, checkpoint_id);
CREATE INDEX scans_number ON scans(number, day);

-- A chain that does not link (a gap, or a fork), open until the records that close it
-- arrive. Never deleted: closed incidents stay for review.
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   INTEGER NOT NULL REFERENCES devices(id),
    kind        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    opened_at   INTEGER NOT NULL,
    closed_at   INTEGER
);
CREATE INDEX incidents_device ON incidents(device_id, closed_at);
