-- The shared snapshot: when many monitors watch one database, one of them (the leader,
-- elected with an advisory lock) takes the overview snapshot once per interval and
-- publishes it here; the others read this row instead of running the overview queries.
-- A NOTIFY on channel jobtop_snapshot carrying the new version tells them when.
--
-- Unlogged: it is a cache, rebuilt within one interval, so it is not worth WAL (nor
-- replication, nor surviving a crash). One row per kind of snapshot (`key`: the options
-- that shape it), rewritten in place about once a second: a low fillfactor keeps those
-- updates HOT, and the JSON is stored uncompressed out of line, so publishing does not
-- compress and every read does not decompress it.
CREATE UNLOGGED TABLE jobtop.snapshot_cache (
    key          text PRIMARY KEY,
    version      bigint NOT NULL,
    published_at timestamptz NOT NULL,
    -- The leader's refresh interval, so readers know when its data is overdue.
    interval_ms  int NOT NULL,
    -- application_name and server pid of the leader's session, for whoever wonders.
    leader       text NOT NULL,
    snapshot     json NOT NULL
) WITH (fillfactor = 20);

ALTER TABLE jobtop.snapshot_cache ALTER COLUMN snapshot SET STORAGE EXTERNAL;
