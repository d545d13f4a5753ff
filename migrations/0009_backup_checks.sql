-- Scheduled backups (serve --backup-every): each check of a device, whether it stored a new backup, found
-- the settings equal to the newest one (nothing stored twice), or failed. The schedule resumes from here.
CREATE TABLE backup_checks (
  id          INTEGER PRIMARY KEY,
  device_mac  TEXT NOT NULL,
  checked_ms  INTEGER NOT NULL,
  outcome     TEXT NOT NULL CHECK (outcome IN ('stored', 'unchanged', 'failed')),
  backup_id   INTEGER,               -- the backup stored, or the one the settings were found equal to
  detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX backup_checks_device ON backup_checks (device_mac, checked_ms);
CREATE INDEX backup_checks_outcome ON backup_checks (outcome, device_mac, checked_ms);  -- the metrics' "unchanged" ones
