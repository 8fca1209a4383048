-- The last pass of each figure a queue system's own indexes hold by no queue
-- (backend::engine::tally): written by the monitor that took it, read by a monitor that
-- has none yet (a new one, a new leader of the shared snapshot), so that a read of a
-- whole table is paid once per interval per database, not once per monitor.

-- Unlogged, like the snapshot cache: after a crash the next monitor counts again.
-- `source` is the backend's name and database schema ("procrastinate@public"),
-- `statement` the md5 of the pass's SQL (another jobtop's pass is another row), `rows`
-- the pass's figures per queue.
CREATE UNLOGGED TABLE IF NOT EXISTS jobtop.tallies (
    source    text        NOT NULL,
    statement text        NOT NULL,
    taken_at  timestamptz NOT NULL,
    rows      json        NOT NULL,
    PRIMARY KEY (source, statement)
);
