-- Retention: `passgate-server purge --before DATE` scrubs personal data and marks what it
-- scrubbed, so that a second run skips it.
ALTER TABLE passes ADD COLUMN personal_purged_at BIGINT;
ALTER TABLE scans ADD COLUMN details_purged BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX scans_purge ON scans(details_purged, scanned_at);
