//! The reference schema's completions per queue, kind and minute, read incrementally into the
//! shared `MinuteCache` (see `backend::minute_cache` for what is re-read and when).

/// Succeeded jobs and failed attempts per queue, kind and epoch minute (time-zone proof),
/// from the start of epoch minute `$1` to that of `$2` (exclusive; infinity for the live
/// poll, see `engine::snapshot::MINUTES_UNTIL`). Failed attempts are the `errors` entries of the
/// jobs whose latest failure (`failed_at`) is in the range: an entry is never later than its
/// job's `failed_at`, so every entry in the range belongs to such a job. `kind` is in the
/// covering finished index, and the failed half reads the job rows anyway: the per-kind
/// figures cost no extra pass.
pub(super) const MINUTES_SQL: &str = r#"
SELECT j.queue, j.kind,
       floor(extract(epoch FROM j.finished_at) / 60)::bigint AS minute,
       count(*) AS succeeded,
       0::bigint AS failed
FROM jobtop.jobs j
WHERE j.finished_at IS NOT NULL
  AND j.finished_at >= to_timestamp($1::float8 * 60)
  AND j.finished_at < to_timestamp($2::float8 * 60)
  AND j.state = 'succeeded'
GROUP BY 1, 2, 3
UNION ALL
SELECT j.queue, j.kind,
       floor(extract(epoch FROM (e.entry ->> 'at')::timestamptz) / 60)::bigint AS minute,
       0::bigint AS succeeded,
       count(*) AS failed
FROM jobtop.jobs j
CROSS JOIN LATERAL jsonb_array_elements(j.errors) AS e(entry)
WHERE j.failed_at IS NOT NULL
  AND j.failed_at >= to_timestamp($1::float8 * 60)
  AND j.failed_at < (to_timestamp($2::float8 * 60) + interval '1 hour')
  AND (e.entry ->> 'at')::timestamptz >= to_timestamp($1::float8 * 60)
  AND (e.entry ->> 'at')::timestamptz < to_timestamp($2::float8 * 60)
GROUP BY 1, 2, 3
"#;
