-- Durable upgrade jobs: one per device at a time while running. `state` is written before every
-- destructive command goes out, so a job resumed after our process was killed knows what may have
-- been sent (orchestrator/upgrade_job.h).
CREATE TABLE upgrade_jobs (
  id            INTEGER PRIMARY KEY,
  device_mac    TEXT NOT NULL,
  target        TEXT NOT NULL,
  target_build  TEXT NOT NULL DEFAULT '',
  hops          TEXT NOT NULL,       -- JSON: the plan's hops as the job runs them
  state         TEXT NOT NULL,       -- JSON: where the job is
  status        TEXT NOT NULL,       -- running, done, failed
  created_ms    INTEGER NOT NULL,
  updated_ms    INTEGER NOT NULL
);
CREATE UNIQUE INDEX upgrade_jobs_one_running ON upgrade_jobs (device_mac) WHERE status = 'running';
CREATE TABLE upgrade_events (
  id      INTEGER PRIMARY KEY,
  job_id  INTEGER NOT NULL REFERENCES upgrade_jobs (id),
  at_ms   INTEGER NOT NULL,
  text    TEXT NOT NULL
);
CREATE INDEX upgrade_events_job ON upgrade_events (job_id, id);
