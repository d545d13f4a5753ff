-- Configuration backups: the settings file exactly as the device gave it, with what proves it valid,
-- and a snapshot of command replies beside it. Rows are only ever added; the file and its identity
-- can never be changed (the trigger below), only whole rows pruned by retention.
CREATE TABLE backups (
  id           INTEGER PRIMARY KEY,
  device_mac   TEXT NOT NULL,
  topic        TEXT NOT NULL,
  version      TEXT NOT NULL,        -- the firmware version the device reported (and the file says)
  chip         TEXT NOT NULL,
  method       TEXT NOT NULL,        -- 'mqtt' (FileDownload), 'http' (/dl) or 'snapshot' (commands only)
  dmp          BLOB,                 -- NULL for a snapshot-only backup
  bytes        INTEGER NOT NULL DEFAULT 0,
  sha256       TEXT,
  file_name    TEXT,                 -- as the device named it: Config_<name>_<version>.dmp
  snapshot     TEXT,                 -- JSON: command -> reply
  taken_ms     INTEGER NOT NULL,
  pinned_by    TEXT,                 -- an unfinished job relying on it: never pruned while set
  note         TEXT
);
CREATE INDEX backups_device ON backups (device_mac, taken_ms);
CREATE TRIGGER backups_never_overwritten BEFORE UPDATE OF device_mac, version, chip, method, dmp, bytes, sha256, snapshot, taken_ms ON backups
BEGIN
  SELECT RAISE(ABORT, 'a backup is never overwritten');
END;
