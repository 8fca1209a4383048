//! pg_net: the HTTP calls the database makes (often a pg_cron job calling a worker's
//! endpoint). Requests wait in `net.http_request_queue` until its background worker sends
//! them; each response, or the error that stood for one, lands in `net._http_response`
//! (indexed on `created`, and deleted after a TTL, six hours by default). Read here: the
//! requests queued (capped) and the last hour's responses by status class.

use sqlx::PgPool;

use crate::backend::Count;
use crate::backend::schedules::NetStats;

/// Queued requests counted at most.
pub const QUEUE_CAP: i64 = 10_000;

/// `$1`: the queue's cap. The hour is a range of the `created` index.
pub const NET_SQL: &str = r#"
WITH hour AS (
  SELECT r.id, r.status_code, r.timed_out, r.error_msg, r.created
  FROM net._http_response r
  WHERE r.created > now() - interval '1 hour'
)
SELECT (SELECT count(*) FROM (SELECT 1 FROM net.http_request_queue LIMIT $1 + 1) q) AS queued,
       count(*) FILTER (WHERE h.status_code BETWEEN 200 AND 299) AS ok_2xx,
       count(*) FILTER (WHERE h.status_code BETWEEN 300 AND 399) AS redirect_3xx,
       count(*) FILTER (WHERE h.status_code BETWEEN 400 AND 499) AS client_4xx,
       count(*) FILTER (WHERE h.status_code >= 500) AS server_5xx,
       count(*) FILTER (WHERE h.status_code IS NULL OR h.status_code < 200) AS errors,
       (SELECT left(coalesce(e.error_msg,
                             CASE WHEN e.timed_out THEN 'timed out' END,
                             'HTTP ' || e.status_code), 200)
        FROM hour e
        WHERE e.status_code IS NULL OR e.status_code NOT BETWEEN 200 AND 299
        ORDER BY e.created DESC
        LIMIT 1) AS last_error
FROM hour h
"#;

type NetRow = (i64, i64, i64, i64, i64, i64, Option<String>);

pub async fn read(pool: &PgPool) -> anyhow::Result<NetStats> {
    let (queued, ok_2xx, redirect_3xx, client_4xx, server_5xx, errors, last_error): NetRow =
        sqlx::query_as(NET_SQL)
            .bind(QUEUE_CAP)
            .fetch_one(pool)
            .await?;
    Ok(NetStats {
        queued: Count::capped_at(queued, QUEUE_CAP),
        ok_2xx,
        redirect_3xx,
        client_4xx,
        server_5xx,
        errors,
        last_error,
    })
}
