-- Completions per closed hour, for the 24 h and 7 d history (backend::history): written
-- once per hour and source by the first monitor that reads that hour, read by every other
-- monitor instead of the job tables, kept for eight days.

-- `source` is the backend's name and database schema ("river@public"): two queue systems
-- in one database keep two histories. `kind` is '' where the job table keeps no kind.
CREATE TABLE IF NOT EXISTS jobtop.throughput_hours (
    source    text   NOT NULL,
    hour      bigint NOT NULL,
    queue     text   NOT NULL,
    kind      text   NOT NULL,
    succeeded bigint NOT NULL,
    failed    bigint NOT NULL,
    PRIMARY KEY (source, hour, queue, kind)
);

-- The hours already read, so that an hour without a single completion is not read again.
CREATE TABLE IF NOT EXISTS jobtop.throughput_hours_read (
    source  text        NOT NULL,
    hour    bigint      NOT NULL,
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, hour)
);
