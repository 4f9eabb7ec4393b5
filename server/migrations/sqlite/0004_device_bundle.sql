-- The trust bundle each gate device last downloaded: its version and when, so the console
-- can show which gates are behind (a revocation or a compromised key they do not know yet).
ALTER TABLE devices ADD COLUMN bundle_version INTEGER;
ALTER TABLE devices ADD COLUMN bundle_fetched_at INTEGER;
