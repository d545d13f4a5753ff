-- Durable rollouts: a spec run over many devices in groups, one upgrade job per device attempt. The
-- lease says which daemon drives a rollout, so two processes never send commands for the same one;
-- a holder that dies stops renewing it and another may take over once it has expired.
CREATE TABLE rollouts (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL DEFAULT '',
  spec            TEXT NOT NULL,       -- JSON: what was asked for
  status          TEXT NOT NULL CHECK (status IN ('ready', 'running', 'paused', 'finished', 'stopped')),
  current_group   INTEGER NOT NULL DEFAULT 0,
  reason          TEXT NOT NULL DEFAULT '',   -- why paused or stopped
  lease_owner     TEXT,                -- NULL: nobody drives it
  lease_until_ms  INTEGER NOT NULL DEFAULT 0,
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL
);
-- Not WITHOUT ROWID: the rowid keeps the order the devices were given in within a group.
CREATE TABLE rollout_devices (
  rollout_id        INTEGER NOT NULL REFERENCES rollouts (id),
  mac               TEXT NOT NULL,
  name              TEXT NOT NULL,
  group_index       INTEGER NOT NULL,  -- 0 = the first group
  status            TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'finished', 'error', 'skipped', 'cancelled')),
  job_id            INTEGER REFERENCES upgrade_jobs (id),  -- the current attempt
  reason            TEXT NOT NULL DEFAULT '',
  attempt           INTEGER NOT NULL DEFAULT 0,
  waiting_since_ms  INTEGER NOT NULL DEFAULT 0,
  started_ms        INTEGER NOT NULL DEFAULT 0,
  finished_ms       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (rollout_id, mac)
);
CREATE INDEX rollout_devices_mac ON rollout_devices (mac, status);
-- NULL for a job started on its own (tasmota-fleet upgrade), and for every job from before rollouts.
ALTER TABLE upgrade_jobs ADD COLUMN rollout_id INTEGER REFERENCES rollouts (id);
-- What was sent to devices, what they answered and how jobs moved, kept as evidence: rows are only
-- ever added, never changed or removed (the triggers below). No foreign keys: evidence is never refused
-- for naming a row that is missing, and it outlives what it names.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  at_ms       INTEGER NOT NULL,
  rollout_id  INTEGER,
  device_mac  TEXT,
  job_id      INTEGER,
  kind        TEXT NOT NULL,   -- command, reply, state
  text        TEXT NOT NULL
);
CREATE INDEX audit_log_device ON audit_log (device_mac, id);
CREATE INDEX audit_log_rollout ON audit_log (rollout_id, id);
CREATE TRIGGER audit_log_never_updated BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'the audit log is append-only: an entry is never changed');
END;
CREATE TRIGGER audit_log_never_deleted BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'the audit log is append-only: an entry is never deleted');
END;
