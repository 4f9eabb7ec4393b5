-- Retention: `passgate-server purge --before DATE` scrubs personal data and marks what it
-- scrubbed, so that a second run skips it.
ALTER TABLE passes ADD COLUMN personal_purged_at INTEGER;
ALTER TABLE scans ADD COLUMN details_purged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX scans_purge ON scans(details_purged, scanned_at);
