-- passgate server schema, PostgreSQL flavour: the same tables and columns as
-- migrations/sqlite/0001_init.sql. Times are Unix seconds (UTC) as BIGINT; `day` columns
-- are Beijing-time dates (YYYY-MM-DD). Every integer is BIGINT so one set of queries reads
-- it as i64 on both backends.

CREATE TABLE enterprises (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE checkpoints (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    inside_zone    BOOLEAN NOT NULL,
    enterprise_id  BIGINT REFERENCES enterprises(id),
    created_at     BIGINT NOT NULL
);

CREATE TABLE issuer_keys (
    id          BIGINT PRIMARY KEY,
    public_key  TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One row per issuing area: the next serial to hand out. Bumped with an atomic upsert.
CREATE TABLE pass_serials (
    area  BIGINT PRIMARY KEY,
    next  BIGINT NOT NULL
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
    enterprise_id      BIGINT NOT NULL REFERENCES enterprises(id),
    origin             TEXT NOT NULL,
    destination        TEXT NOT NULL,
    route_checkpoints  TEXT NOT NULL,
    cargo              TEXT NOT NULL,
    valid_from         BIGINT NOT NULL,
    valid_until        BIGINT NOT NULL,
    max_dwell_minutes  BIGINT,
    key_id             BIGINT NOT NULL,
    qr_text            TEXT NOT NULL,
    status             TEXT NOT NULL,
    revoked_at         BIGINT,
    revoke_reason      TEXT,
    created_at         BIGINT NOT NULL,
    created_by         TEXT NOT NULL
);
CREATE INDEX passes_plate ON passes(plate);
CREATE INDEX passes_status ON passes(status);

-- A single counter: the trust bundle's version. Every change a gate must learn of
-- (revocation, checkpoint, key) bumps it in the same transaction.
CREATE TABLE bundle_state (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL
);
INSERT INTO bundle_state (id, version) VALUES (1, 1);

CREATE TABLE api_tokens (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    token_hash     TEXT NOT NULL UNIQUE,
    checkpoint_id  BIGINT REFERENCES checkpoints(id),
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);

-- Scan records uploaded by gates. `id` is made by the gate: inserting twice is a no-op.
CREATE TABLE scans (
    id              TEXT PRIMARY KEY,
    checkpoint_id   BIGINT NOT NULL,
    seq             BIGINT NOT NULL,
    scanned_at      BIGINT NOT NULL,
    day             TEXT NOT NULL,
    direction       TEXT NOT NULL,
    number          TEXT,
    class           TEXT,
    plate           TEXT,
    accepted        BOOLEAN NOT NULL,
    verdict         TEXT NOT NULL,
    warnings        TEXT NOT NULL,
    bundle_version  BIGINT NOT NULL,
    received_at     BIGINT NOT NULL
);
CREATE INDEX scans_day ON scans(day, checkpoint_id);
