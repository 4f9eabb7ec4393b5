-- The audit log: append-only and hash-chained. Each entry's `hash` is an HMAC (keyed with
-- the server's audit secret, kept in the key directory, not in the database) over its own
-- fields and the previous entry's hash, so an edited, deleted or reordered entry breaks the
-- chain, and someone holding only the database cannot rebuild it.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_action ON audit_log(action, at);

-- The chain's head: the last sequence number and hash. Appending updates this row first,
-- which serialises appenders on both engines; deleting the newest entries leaves the head
-- pointing past the end of the log, which `audit verify` reports.
CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
