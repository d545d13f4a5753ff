-- One row the running daemon refreshes, so that the CLI can tell whether the inventory is live.
CREATE TABLE daemon_status (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  pid             INTEGER NOT NULL,
  started_ms      INTEGER NOT NULL,
  heartbeat_ms    INTEGER NOT NULL,
  broker          TEXT NOT NULL,     -- URL and user, never the password
  connected       INTEGER NOT NULL DEFAULT 0,
  messages        INTEGER NOT NULL DEFAULT 0,
  rejected        INTEGER NOT NULL DEFAULT 0,
  status_queries  INTEGER NOT NULL DEFAULT 0
);
