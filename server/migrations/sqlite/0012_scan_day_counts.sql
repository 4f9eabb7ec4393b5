-- Scan counts per Beijing day, kept at ingest in the same transaction as the scans, so the
-- daily report and the dashboard read a few thousand rows instead of counting a day of up to
-- a million scans. A scan that has no pass number or class counts under '' (a key column
-- cannot hold NULL and still meet its twin in ON CONFLICT). Scans are never deleted
-- (retention scrubs details only), so the counts never need to shrink.
CREATE TABLE scan_day_counts (
    day             TEXT NOT NULL,
    checkpoint_id   BIGINT NOT NULL,
    number          TEXT NOT NULL,
    class           TEXT NOT NULL,
    direction       TEXT NOT NULL,
    accepted        INTEGER NOT NULL,
    verdict         TEXT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (day, checkpoint_id, number, class, direction, accepted, verdict)
);
INSERT INTO scan_day_counts
SELECT day, checkpoint_id, COALESCE(number, ''), COALESCE(class, ''), direction, accepted,
       verdict, COUNT(*)
FROM scans
GROUP BY day, checkpoint_id, COALESCE(number, ''), COALESCE(class, ''), direction, accepted,
         verdict;
