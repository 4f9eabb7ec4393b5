-- Clock repair (docs/faults.md, "clock jumps"). A gate clock that ran ahead leaves scans
-- stamped in the future, and the time floor (the latest scan time, which a clock set back
-- cannot undercut) then stayed in the future for good: every later scan decided as if it
-- were that late. A sync now compares the gate clock with the server's, and when the log's
-- floor is ahead of the server's time it records a reset: scans up to `clock_reset_seq`
-- no longer raise the floor, and the server's time at that sync (`clock_reset_at`) does.
ALTER TABLE config ADD COLUMN clock_reset_seq INTEGER;
ALTER TABLE config ADD COLUMN clock_reset_at INTEGER;
-- Gate clock minus server clock at the last sync, seconds (NULL: never measured).
ALTER TABLE config ADD COLUMN clock_offset_seconds INTEGER;
