-- Where the running daemon keeps its firmware store: a rollout driven by the command line beside it
-- checks its devices' images in that store (the images the daemon's OTA server serves).
ALTER TABLE daemon_status ADD COLUMN firmware_dir TEXT;
-- Failures of the current group that a resume acknowledged: the error condition judges only the ones
-- after them, or a resumed rollout would pause again at once for the failures it was resumed past.
ALTER TABLE rollouts ADD COLUMN acknowledged_errors INTEGER NOT NULL DEFAULT 0;
-- The relay's last reported state (STATE / RESULT "POWER"): a rollout may defer devices that are on.
ALTER TABLE devices ADD COLUMN power TEXT;
