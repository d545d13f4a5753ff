-- A count of changes to a rollout's device rows, moved by the database itself on every change, whoever
-- makes it (the process driving the rollout, a retry or abort from another one, an edit by hand): the
-- driver keeps the rows in memory and reads them again only when the count moved by more than its own
-- writes (at 10,000 devices, reading them on every drive was a tenth of the daemon's CPU).
ALTER TABLE rollouts ADD COLUMN devices_rev INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER rollout_devices_rev AFTER UPDATE ON rollout_devices
BEGIN
  UPDATE rollouts SET devices_rev = devices_rev + 1 WHERE id = NEW.rollout_id;
END;
