-- The crew's contact phone, kept on the server only (never in the QR code or the bundle):
-- the masked form for lists and pages (138****5678), and the full number sealed with
-- XChaCha20-Poly1305 under KEY_DIR/personal-data.secret, the pass number bound in. Only ops
-- and admin see the full number, on request, and each view is audited. `purge` clears both.
ALTER TABLE passes ADD COLUMN crew_phone_masked TEXT;
ALTER TABLE passes ADD COLUMN crew_phone_sealed TEXT;

-- Re-issue after an issuer key compromise: the pass keeps its number and is signed again
-- with the active key; these record when, and which compromised key it was taken off (the
-- reprint list of that key).
ALTER TABLE passes ADD COLUMN reissued_at BIGINT;
ALTER TABLE passes ADD COLUMN reissued_from_key BIGINT;
CREATE INDEX passes_key ON passes(key_id, status);
CREATE INDEX passes_reissued_from ON passes(reissued_from_key);
