//! pgmq's tables: one `q_<queue>` / `a_<queue>` pair per queue (the 20 queues, each made as
//! `pgmq.create` makes it), the month's done messages in the archives (archived: pgmq's
//! "done"), the live ones in the queue tables, split across the pairs as the other
//! schemas split jobs across queues (the first queues the busiest). pgmq has no failed,
//! retrying or cancelled state and no kinds: none are generated. Each bucket is one
//! statement: its rows made once, then one insert per queue table.

use super::{Generator, QUEUES};
use crate::backend::detect::BackendKind;

const DDL: &str = include_str!("pgmq.sql");

/// One bucket's rows into every queue's `table` (`q` or `a`): `columns` and the `select`
/// list over `s`; `{seq}` in it stands for that queue's message id sequence.
fn bucket(table: &str, columns: &str, select: &str) -> String {
    let inserts: Vec<String> = QUEUES
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let select = select.replace("{seq}", &format!("pgmq.q_{q}_msg_id_seq"));
            format!(
                "i{i} AS (INSERT INTO pgmq.{table}_{q} ({columns}) SELECT {select} FROM s \
                 WHERE s.queue = '{q}')"
            )
        })
        .collect();
    format!(
        "WITH s AS MATERIALIZED ({{rows}}), {} SELECT count(*) FROM s",
        inserts.join(", ")
    )
}

fn waiting(enqueued: &str, read_ct: u32, last_read: &str, vt: &str) -> Option<String> {
    Some(bucket(
        "q",
        "read_ct, enqueued_at, last_read_at, vt, message",
        &format!("{read_ct}, {enqueued}, {last_read}, {vt}, s.payload"),
    ))
}

pub fn generator() -> Generator {
    let tables = QUEUES
        .iter()
        .flat_map(|q| [format!("pgmq.q_{q}"), format!("pgmq.a_{q}")])
        .collect();
    let naive = QUEUES
        .iter()
        .map(|q| {
            format!(
                "SELECT '{q}' AS queue, 'queue' AS part, count(*) FROM pgmq.q_{q} \
                 UNION ALL SELECT '{q}', 'archive', count(*) FROM pgmq.a_{q}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let null = "NULL::timestamptz";
    Generator {
        backend: BackendKind::Pgmq,
        schema: "pgmq",
        profile: None,
        ddl: Some(DDL),
        setup: vec!["SELECT pg_temp.jobtop_bench_pgmq_queue(q) FROM unnest($1::text[]) q"],
        tables,
        buckets: [
            Some(bucket(
                "a",
                "msg_id, read_ct, enqueued_at, last_read_at, archived_at, vt, message",
                "nextval('{seq}'), 1, s.fin - s.run_time - interval '40 seconds', \
                 s.fin - s.run_time, s.fin, s.fin - s.run_time + interval '30 seconds', s.payload",
            )),
            None,
            None,
            waiting(
                "now() - s.r * interval '10 minutes'",
                0,
                null,
                "now() - s.r * interval '10 minutes'",
            ),
            waiting(
                "now() - interval '1 hour'",
                0,
                null,
                "now() + s.r * interval '7 days'",
            ),
            // Read, the visibility timeout (5 minutes) still running.
            waiting(
                "now() - interval '3 minutes'",
                1,
                "now() - s.r * interval '2 minutes'",
                "now() + interval '3 minutes' - s.r * interval '2 minutes'",
            ),
            None,
            waiting(
                "now() - s.r * interval '2 hours'",
                0,
                null,
                "now() - s.r * interval '2 hours'",
            ),
        ],
        churn: vec![
            // A retention job trims each archive's oldest half-day.
            "DO $$ DECLARE q text; BEGIN \
               FOR q IN SELECT queue_name FROM pgmq.meta LOOP \
                 EXECUTE format('DELETE FROM pgmq.%I WHERE archived_at < now() - \
                   interval ''29 days 12 hours''', 'a_' || lower(q)); \
               END LOOP; END $$",
        ],
        naive,
        note: Some(
            "pgmq keeps no failures, retries or cancellations (a message is visible, delayed, \
             in flight or archived) and no kinds: the dead, retrying and cancelled shares are \
             not generated, and the kinds view is per queue; done means archived (a deleted \
             message leaves nothing); the naive count is pgmq's metrics_all way, a count(*) \
             of every queue table and archive",
        ),
    }
}
