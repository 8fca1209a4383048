-- pgmq 1.x (checked against the SQL install file of pgmq 1.13.0, as the pgmq client ships
-- it): our own text of its queue list, and a session function that makes one queue's pair
-- of tables and their indexes as `pgmq.create` (non-partitioned) leaves them. pgmq's other
-- functions are left out: the benchmark only reads. The tests do not use this file: they
-- apply the real install file.

CREATE SCHEMA IF NOT EXISTS pgmq;

CREATE TABLE IF NOT EXISTS pgmq.meta (
  queue_name varchar UNIQUE NOT NULL,
  is_partitioned boolean NOT NULL,
  is_unlogged boolean NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL
);

CREATE FUNCTION pg_temp.jobtop_bench_pgmq_queue(queue text) RETURNS void AS $$
BEGIN
  EXECUTE format(
    'CREATE TABLE pgmq.%I (msg_id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY, '
    'read_ct int DEFAULT 0 NOT NULL, enqueued_at timestamptz DEFAULT now() NOT NULL, '
    'last_read_at timestamptz, vt timestamptz NOT NULL, message jsonb, headers jsonb)',
    'q_' || lower(queue));
  EXECUTE format(
    'CREATE TABLE pgmq.%I (msg_id bigint PRIMARY KEY, read_ct int DEFAULT 0 NOT NULL, '
    'enqueued_at timestamptz DEFAULT now() NOT NULL, last_read_at timestamptz, '
    'archived_at timestamptz DEFAULT now() NOT NULL, vt timestamptz NOT NULL, message jsonb, '
    'headers jsonb)',
    'a_' || lower(queue));
  EXECUTE format('CREATE INDEX %I ON pgmq.%I (vt ASC)',
    'q_' || lower(queue) || '_vt_idx', 'q_' || lower(queue));
  EXECUTE format('CREATE INDEX %I ON pgmq.%I (archived_at)',
    'archived_at_idx_' || queue, 'a_' || lower(queue));
  INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged) VALUES (queue, false, false);
END
$$ LANGUAGE plpgsql;
