-- procrastinate 3 (checked against 3.10.0's schema.sql): our own text of the types, tables
-- and indexes it creates. Its functions and triggers are left out: the benchmark only reads,
-- and writes its rows and their events itself, set-based. The tests do not use this file:
-- they install the real package from PyPI and apply the schema it ships.

CREATE TYPE procrastinate_job_status AS ENUM (
  'todo', 'doing', 'succeeded', 'failed', 'cancelled', 'aborting', 'aborted'
);

CREATE TYPE procrastinate_job_event_type AS ENUM (
  'deferred', 'started', 'deferred_for_retry', 'failed', 'succeeded', 'cancelled',
  'abort_requested', 'aborted', 'scheduled', 'retried'
);

CREATE TABLE procrastinate_workers (
  id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
  last_heartbeat timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE procrastinate_jobs (
  id bigserial PRIMARY KEY,
  queue_name varchar(128) NOT NULL,
  task_name varchar(128) NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  lock text,
  queueing_lock text,
  args jsonb NOT NULL DEFAULT '{}',
  status procrastinate_job_status NOT NULL DEFAULT 'todo',
  scheduled_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  abort_requested boolean NOT NULL DEFAULT false,
  worker_id bigint REFERENCES procrastinate_workers (id) ON DELETE SET NULL,
  CONSTRAINT check_not_todo_abort_requested CHECK (NOT (status = 'todo' AND abort_requested))
);

CREATE TABLE procrastinate_periodic_defers (
  id bigserial PRIMARY KEY,
  task_name varchar(128) NOT NULL,
  defer_timestamp bigint,
  job_id bigint REFERENCES procrastinate_jobs (id),
  periodic_id varchar(128) NOT NULL DEFAULT '',
  CONSTRAINT procrastinate_periodic_defers_unique UNIQUE (task_name, periodic_id, defer_timestamp)
);

CREATE TABLE procrastinate_events (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES procrastinate_jobs ON DELETE CASCADE,
  type procrastinate_job_event_type,
  at timestamptz DEFAULT now()
);

CREATE UNIQUE INDEX procrastinate_jobs_queueing_lock_idx_v1 ON procrastinate_jobs (queueing_lock)
  WHERE status = 'todo';
CREATE UNIQUE INDEX procrastinate_jobs_lock_idx_v1 ON procrastinate_jobs (lock)
  WHERE status = 'doing';
CREATE INDEX idx_procrastinate_jobs_worker_not_null ON procrastinate_jobs (worker_id)
  WHERE worker_id IS NOT NULL AND status = 'doing';
CREATE INDEX procrastinate_jobs_queue_name_idx_v1 ON procrastinate_jobs (queue_name);
CREATE INDEX procrastinate_jobs_id_lock_idx_v1 ON procrastinate_jobs (id, lock)
  WHERE status IN ('todo', 'doing');
CREATE INDEX procrastinate_jobs_priority_idx_v1 ON procrastinate_jobs (priority DESC, id)
  WHERE status = 'todo';
CREATE INDEX procrastinate_events_job_id_fkey_v1 ON procrastinate_events (job_id);
CREATE INDEX procrastinate_periodic_defers_job_id_fkey_v1 ON procrastinate_periodic_defers (job_id);
CREATE INDEX idx_procrastinate_workers_last_heartbeat ON procrastinate_workers (last_heartbeat);
