-- The firmware store's index: one row per image file below the store's root.
CREATE TABLE firmware (
  id        INTEGER PRIMARY KEY,
  path      TEXT NOT NULL UNIQUE,   -- "tasmota/release-9.1.0/tasmota-lite.bin.gz"
  version   TEXT NOT NULL,
  build     TEXT NOT NULL,
  chip      TEXT NOT NULL,          -- "ESP8266" or the exact ESP32 chip
  bytes     INTEGER NOT NULL,
  sha256    TEXT NOT NULL,
  gzip      INTEGER NOT NULL DEFAULT 0,
  source    TEXT NOT NULL DEFAULT '',
  added_ms  INTEGER NOT NULL
);
-- Every download from the built-in OTA server: who (client address, and the device it maps to), what,
-- how much and whether it completed. The upgrade step machine reads progress from here.
CREATE TABLE ota_downloads (
  id           INTEGER PRIMARY KEY,
  path         TEXT NOT NULL,       -- as requested
  served_path  TEXT,                -- the store file answered (a -minimal request may map to another name)
  client_ip    TEXT NOT NULL,
  device_mac   TEXT,                -- from the inventory's IP, when known
  status       INTEGER NOT NULL,    -- HTTP status sent
  bytes_sent   INTEGER NOT NULL DEFAULT 0,
  bytes_total  INTEGER NOT NULL DEFAULT 0,
  started_ms   INTEGER NOT NULL,
  finished_ms  INTEGER NOT NULL,
  completed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ota_downloads_device ON ota_downloads (device_mac, started_ms);
-- The URL base the running daemon serves images under, so that `plan` points there by default.
ALTER TABLE daemon_status ADD COLUMN ota_base TEXT;
