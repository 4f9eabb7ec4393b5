-- Enterprise pass applications (an enterprise asks, the operations bureau decides) and what
-- the transport bureau did about a truck refused at a gate. The held-vehicle queue itself is
-- derived from `scans` at read time; only the bureau's actions are stored here.

CREATE TABLE applications (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id      INTEGER NOT NULL REFERENCES enterprises(id),
    applicant_id       INTEGER NOT NULL REFERENCES users(id),
    applicant_name     TEXT NOT NULL,
    class              TEXT NOT NULL,
    plate              TEXT NOT NULL,
    driver             TEXT NOT NULL,
    co_driver          TEXT,
    -- Kept only while the application is pending: cleared once it is decided (the pass keeps
    -- a hash only).
    driver_id_number   TEXT,
    origin             TEXT NOT NULL,
    destination        TEXT NOT NULL,
    checkpoints        TEXT NOT NULL,
    cargo              TEXT NOT NULL,
    valid_from         TEXT NOT NULL,
    valid_until        TEXT NOT NULL,
    max_dwell_minutes  INTEGER,
    note               TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    decided_by         TEXT,
    decided_at         INTEGER,
    reject_reason      TEXT,
    pass_number        TEXT
);
CREATE INDEX applications_enterprise ON applications(enterprise_id, created_at);
CREATE INDEX applications_status ON applications(status, created_at);

CREATE TABLE held_actions (
    device_id   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    action      TEXT NOT NULL,
    note        TEXT NOT NULL,
    acted_by    TEXT NOT NULL,
    acted_at    INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX held_scans_refused ON scans(accepted, scanned_at);
