//! A profile's state map (which rows make each display state, one condition per status
//! value and run-at part, so that each is one index range on an index leading with the
//! status column, and what each list is ordered by) and its table for the drill-down.
//! The actions' guards are the same state map's conditions, joined.

use toml::Spanned;

use super::profile::{Profile, Target};
use crate::backend::engine::actions::JobTable;
use crate::backend::engine::drill::{
    DrillTable, ErrorHistory, HistoryShape, Range, Sort, StateList, StateMap,
};
use crate::backend::model::JobState;
use crate::backend::pg::catalog::TableInfo;
use crate::backend::pg::sql::{TimeCol, ident, literal};

fn col(c: &Spanned<String>) -> String {
    format!("j.{}", ident(c.get_ref()))
}

/// Per display state, in the profile's order of values, the conditions whose union is it.
fn state_ranges(profile: &Profile, table: &TableInfo) -> Vec<(JobState, Vec<String>)> {
    let c = &profile.columns;
    let status = col(&c.status);
    let run_at = c
        .run_at
        .as_ref()
        .map(|r| TimeCol::new(col(r), table.is_naive_timestamp(r.get_ref())));
    let again = c
        .attempts
        .as_ref()
        .map(|a| format!("coalesce({}, 0) > 0", col(a)));
    let mut by_state: Vec<(JobState, Vec<String>)> = Vec::new();
    let mut put = |s: JobState, cond: String| match by_state.iter_mut().find(|(x, _)| *x == s) {
        Some((_, v)) => v.push(cond),
        None => by_state.push((s, vec![cond])),
    };
    for (value, target) in &profile.statuses {
        let is = format!("{status} = {}", literal(value));
        let state = match target {
            Target::Queued | Target::Retrying => {
                let Some(r) = &run_at else {
                    let s = if *target == Target::Queued {
                        JobState::Ready
                    } else {
                        JobState::Retrying
                    };
                    put(s, is);
                    continue;
                };
                let (due, later) = (r.cmp_now("<="), r.cmp_now(">"));
                put(JobState::Ready, format!("{is} AND {due}"));
                // A range of its own, so that each stays one index range.
                if profile.null_run_at_is_now {
                    put(JobState::Ready, format!("{is} AND {} IS NULL", r.expr));
                }
                match (target, &again) {
                    (Target::Queued, Some(again)) => {
                        put(
                            JobState::Scheduled,
                            format!("{is} AND {later} AND NOT ({again})"),
                        );
                        put(JobState::Retrying, format!("{is} AND {later} AND {again}"));
                    }
                    (Target::Queued, None) => put(JobState::Scheduled, format!("{is} AND {later}")),
                    _ => put(JobState::Retrying, format!("{is} AND {later}")),
                }
                continue;
            }
            Target::Ready => JobState::Ready,
            Target::Scheduled => JobState::Scheduled,
            Target::Running => JobState::Running,
            Target::Succeeded => JobState::Succeeded,
            Target::Dead => JobState::Dead,
            Target::Cancelled => JobState::Cancelled,
        };
        put(state, is);
    }
    by_state
}

/// The profile's state map: one range per status value (and run-at part), each ordered by
/// the time the profile names for its state.
pub(super) fn state_map(profile: &Profile, table: &TableInfo) -> StateMap {
    let c = &profile.columns;
    let time = |s: &Spanned<String>| TimeCol::new(col(s), table.is_naive_timestamp(s.get_ref()));
    let sort = |s: &Option<Spanned<String>>| {
        s.as_ref()
            .map(|s| Sort::new(time(s), table.nullable(s.get_ref())))
    };
    let t = table.qualified();
    // One index per sort column serves every list ordered by it (dead and succeeded,
    // say): it is named after the column, so suggesting it twice makes it once.
    let fix = |by: &Option<Spanned<String>>| {
        let mut keys = vec![ident(c.status.get_ref())];
        keys.extend(c.queue.iter().map(|q| ident(q.get_ref())));
        keys.extend(by.iter().map(|b| ident(b.get_ref())));
        let name = match by {
            Some(b) => format!("{}_jobtop_by_{}", table.name, b.get_ref()),
            None => format!("{}_jobtop_by_status", table.name),
        };
        Some(format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {t} ({});",
            ident(&name),
            keys.join(", ")
        ))
    };
    let lists: Vec<StateList> = state_ranges(profile, table)
        .into_iter()
        .map(|(state, conds)| {
            let by = match state {
                JobState::Ready | JobState::Scheduled | JobState::Retrying => &c.run_at,
                JobState::Running => &c.started_at,
                JobState::Succeeded | JobState::Dead | JobState::Cancelled => &c.finished_at,
            };
            let mut pinned = vec![c.status.get_ref().as_str()];
            pinned.extend(c.queue.iter().map(|q| q.get_ref().as_str()));
            let ordered = state == JobState::Running
                || by
                    .as_ref()
                    .is_none_or(|b| table.has_index_for(b.get_ref(), &pinned));
            StateList::new(
                state,
                conds.into_iter().map(Range::plain).collect(),
                sort(by),
            )
            .with_fix(fix(by))
            .ordered(ordered)
        })
        .collect();
    StateMap::new(lists)
}

/// When a job's worker last showed signs of life: the job's heartbeat column, or the
/// heartbeat of its worker's row in the profile's [workers] table (found by its primary
/// key or whatever index leads with the id column).
pub(super) fn heartbeat(
    profile: &Profile,
    table: &TableInfo,
    workers: Option<&TableInfo>,
) -> Option<TimeCol> {
    let c = &profile.columns;
    if let Some(h) = &c.heartbeat_at {
        return Some(TimeCol::new(col(h), table.is_naive_timestamp(h.get_ref())));
    }
    let (w, info, worker) = (profile.workers.as_ref()?, workers?, c.worker.as_ref()?);
    let hb = w.heartbeat.get_ref();
    Some(TimeCol::new(
        format!(
            "(SELECT w.{} FROM {} w WHERE w.{} = {})",
            ident(hb),
            info.qualified(),
            ident(w.id.get_ref()),
            col(worker)
        ),
        info.is_naive_timestamp(hb),
    ))
}

/// The drill-down's view of the table; `jobs` is the actions' description of it.
pub(super) fn drill_table(
    profile: &Profile,
    table: &TableInfo,
    heartbeat: Option<TimeCol>,
    jobs: JobTable,
) -> DrillTable {
    let c = &profile.columns;
    let time = |s: &Spanned<String>| TimeCol::new(col(s), table.is_naive_timestamp(s.get_ref()));
    let opt_time = |s: &Option<Spanned<String>>| s.as_ref().map(time);
    let history = c.errors.as_ref().map(|e| {
        let is_array = table
            .columns
            .get(e.get_ref())
            .is_some_and(|ty| ty.ends_with("[]"));
        let shape = if is_array {
            HistoryShape::PgArray
        } else {
            HistoryShape::JsonArray
        };
        // The entries' shape is the table's own: whether they carry a time is not known.
        ErrorHistory::json(col(e), shape, false)
    });
    DrillTable {
        jobs,
        priority: None,
        attempts: c.attempts.as_ref().map(col),
        max_attempts: c.max_attempts.as_ref().map(col),
        run_at: opt_time(&c.run_at),
        created_at: opt_time(&c.created_at),
        started_at: opt_time(&c.started_at),
        finished_at: opt_time(&c.finished_at).map(|f| f.read()),
        heartbeat_at: heartbeat,
        payload: c.payload.as_ref().map(col),
        payload_binary: c
            .payload
            .as_ref()
            .is_some_and(|p| table.columns.get(p.get_ref()).is_some_and(|t| t == "bytea")),
        history,
        lanes: None,
    }
}
