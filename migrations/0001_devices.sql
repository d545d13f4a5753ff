-- The device inventory. The MAC is the identity: a device that changes its topic stays one row.
CREATE TABLE devices (
  mac              TEXT PRIMARY KEY NOT NULL,
  topic            TEXT,
  hostname         TEXT,
  ip               TEXT,
  module           TEXT,
  module_id        INTEGER,
  friendly_name    TEXT,
  firmware         TEXT,     -- as reported: "9.1.0(tasmota)"
  version          TEXT,     -- "9.1.0"
  build            TEXT,     -- "tasmota", "sensors", "tasmota32", …
  core             TEXT,
  sdk              TEXT,
  hardware         TEXT,
  chip             TEXT,
  flash_kb         INTEGER,
  program_flash_kb INTEGER,
  program_kb       INTEGER,
  free_kb          INTEGER,
  ota_url          TEXT,
  restart_reason   TEXT,
  boot_count       INTEGER,
  uptime_s         INTEGER,
  rssi             INTEGER,
  signal_dbm       INTEGER,
  group_topic      TEXT,
  full_topic       TEXT,
  prefixes         TEXT,
  web_server_mode  TEXT,
  online           INTEGER NOT NULL DEFAULT 0,
  first_seen_ms    INTEGER NOT NULL DEFAULT 0,
  last_seen_ms     INTEGER NOT NULL DEFAULT 0,
  status_at_ms     INTEGER NOT NULL DEFAULT 0,
  bad_payloads     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_topic ON devices (topic);
