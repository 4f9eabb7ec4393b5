-- Gate operations: enrolled devices, one-time enrolment codes, chained scan records with
-- their device and hash, chain incidents, and the bundle version of each revocation (for
-- bundle deltas). Scan records of the first protocol carried no device or chain; no gate
-- ran it in production, so that table is replaced.

CREATE TABLE devices (
    id             BIGSERIAL PRIMARY KEY,
    checkpoint_id  BIGINT NOT NULL REFERENCES checkpoints(id),
    name           TEXT NOT NULL,
    public_key     TEXT NOT NULL UNIQUE,
    status         TEXT NOT NULL,
    enrolled_at    BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoke_reason  TEXT,
    last_seen_at   BIGINT,
    last_seq       BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE enrollment_codes (
    code_hash      TEXT PRIMARY KEY,
    checkpoint_id  BIGINT NOT NULL REFERENCES checkpoints(id),
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    device_id      BIGINT REFERENCES devices(id)
);

ALTER TABLE api_tokens ADD COLUMN device_id BIGINT REFERENCES devices(id);
ALTER TABLE passes ADD COLUMN revoked_version BIGINT;
CREATE INDEX passes_revoked_version ON passes(revoked_version);
-- Passes revoked before this migration appear in deltas from any earlier version.
UPDATE passes SET revoked_version = (SELECT version FROM bundle_state WHERE id = 1) WHERE status = 'revoked';

DROP TABLE scans;
CREATE TABLE scans (
    device_id       BIGINT NOT NULL REFERENCES devices(id),
    seq             BIGINT NOT NULL,
    id              TEXT NOT NULL UNIQUE,
    hash            TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    checkpoint_id   BIGINT NOT NULL,
    scanned_at      BIGINT NOT NULL,
    day             TEXT NOT NULL,
    direction       TEXT NOT NULL,
    number          TEXT,
    class           TEXT,
    plate           TEXT,
    accepted        BOOLEAN NOT NULL,
    verdict         TEXT NOT NULL,
    record          TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX scans_day ON scans(day, checkpoint_id);
CREATE INDEX scans_number ON scans(number, day);

-- A chain that does not link (a gap, or a fork), open until the records that close it
-- arrive. Never deleted: closed incidents stay for review.
CREATE TABLE incidents (
    id          BIGSERIAL PRIMARY KEY,
    device_id   BIGINT NOT NULL REFERENCES devices(id),
    kind        TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    detail      TEXT NOT NULL,
    opened_at   BIGINT NOT NULL,
    closed_at   BIGINT
);
CREATE INDEX incidents_device ON incidents(device_id, closed_at);
