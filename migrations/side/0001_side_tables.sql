-- jobtop's own tables, the ones it needs next to any queue schema: the audit trail every
-- action writes in its own transaction, and the shared snapshot's cache. `jobtop migrate
-- --side-tables` installs only these next to someone else's queue (River, pg-boss, ...);
-- `jobtop migrate` installs the reference schema, which created them already (migrations
-- 0001, 0005, 0007): hence IF NOT EXISTS, and the same shape as those leave them.

CREATE TABLE IF NOT EXISTS jobtop.audit (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    -- OS user@host and database role.
    actor    text NOT NULL,
    action   text NOT NULL,
    queue    text,
    job_ids  bigint[],
    count    bigint,
    params   jsonb NOT NULL DEFAULT '{}',
    outcome  text NOT NULL,
    detail   text,
    -- Ids of jobs keyed by uuid or text (pg-boss, home-grown tables).
    job_keys text[]
);

CREATE INDEX IF NOT EXISTS audit_at_idx ON jobtop.audit (at);

-- See migrations/0005_snapshot_cache.sql for why it is unlogged, HOT and stored external.
CREATE UNLOGGED TABLE IF NOT EXISTS jobtop.snapshot_cache (
    key          text PRIMARY KEY,
    version      bigint NOT NULL,
    published_at timestamptz NOT NULL,
    interval_ms  int NOT NULL,
    leader       text NOT NULL,
    snapshot     json NOT NULL
) WITH (fillfactor = 20);

ALTER TABLE jobtop.snapshot_cache ALTER COLUMN snapshot SET STORAGE EXTERNAL;
