//! Snapshot SQL for job tables indexed by `(state, queue, priority, scheduled_at, ...)`, the
//! shape River and Oban share.
//!
//! That index answers "how many jobs in this state and queue" with a bounded range, but it
//! puts `priority` before `scheduled_at`: a time condition (due or not yet due, the oldest
//! one) is only a tight range once the priority is pinned too. So those figures are taken per
//! priority "lane": a fixed list where the schema bounds priorities (River: 1-4), else the
//! lanes present, found by a skip scan over the same index.

use crate::backend::engine::drill::LaneValues;
use crate::backend::engine::snapshot::{
    FINISHED_UNTIL, MINUTES_FROM, MINUTES_UNTIL, PILE_LIMIT, capped, capped_pile, epoch_minute,
};
use crate::backend::engine::states::{Range, Sort, StateList};
use crate::backend::model::JobState;
use crate::backend::pg::sql::{TimeCol, literal};

/// The table and its state values; every name is already quoted or validated.
#[derive(Debug, Clone)]
pub struct Prioritized {
    /// Qualified, quoted table name.
    pub table: String,
    /// `j.scheduled_at`, possibly a naive UTC timestamp.
    pub scheduled_at: TimeCol,
    pub lanes: LaneValues,
    pub available: &'static str,
    pub scheduled: &'static str,
    pub retryable: &'static str,
    pub running: &'static str,
    /// When a running job started (River and Oban: `attempted_at`).
    pub started_at: TimeCol,
    pub discarded: &'static str,
    /// States that wait on something other than time (River `pending`, Oban `suspended`):
    /// shown as scheduled.
    pub waiting: Vec<&'static str>,
    /// Finished states and the column holding each one's finish time.
    pub finished: Vec<(&'static str, TimeCol)>,
    pub succeeded: &'static str,
    /// The job's kind (River `kind`, Oban `worker`).
    pub kind: &'static str,
}

impl Prioritized {
    /// The waiting and running buckets of the state map, from the same state values the
    /// overview counts: ready is `available` plus due `scheduled` and due `retryable`;
    /// scheduled is the rest of `scheduled` plus the states that wait on something other
    /// than time; retrying the rest of `retryable`. Each is read lane by lane along the
    /// fetch index (`fix`). The finished buckets differ by schema and are added by it.
    pub fn live_lists(
        &self,
        run_at: Option<Sort>,
        started: Option<Sort>,
        fix: Option<String>,
    ) -> Vec<StateList> {
        let (due, later) = (
            self.scheduled_at.cmp_now("<="),
            self.scheduled_at.cmp_now(">"),
        );
        let laned = |state: &str, extra: Option<&str>| {
            let pin = format!("j.state = {}", literal(state));
            match extra {
                Some(extra) => Range::laned(format!("{pin} AND {extra}"), pin),
                None => Range::laned(pin.clone(), pin),
            }
        };
        let mut scheduled = vec![laned(self.scheduled, Some(&later))];
        scheduled.extend(self.waiting.iter().map(|w| laned(w, None)));
        // Past the pile cap the piles are estimated by their states alone: the planner
        // takes `scheduled_at` as unrelated to the state (a River table of 2 M rows read
        // "100+" for 1,791 scheduled jobs), and a job whose time has come leaves these
        // states within seconds, moved by the schema's own scheduler.
        let scheduled_states: Vec<String> = std::iter::once(self.scheduled)
            .chain(self.waiting.iter().copied())
            .map(literal)
            .collect();
        vec![
            StateList::new(
                JobState::Ready,
                vec![
                    laned(self.available, None),
                    laned(self.scheduled, Some(&due)),
                    laned(self.retryable, Some(&due)),
                ],
                run_at.clone(),
            )
            .with_fix(fix.clone()),
            StateList::new(JobState::Scheduled, scheduled, run_at.clone())
                .with_fix(fix.clone())
                .estimated_by(format!("j.state IN ({})", scheduled_states.join(", "))),
            StateList::new(
                JobState::Retrying,
                vec![laned(self.retryable, Some(&later))],
                run_at,
            )
            .with_fix(fix.clone())
            .estimated_by(format!("j.state = {}", literal(self.retryable))),
            StateList::new(
                JobState::Running,
                vec![Range::plain(format!("j.state = {}", literal(self.running)))],
                started,
            )
            .with_fix(fix),
        ]
    }

    fn state_queue(&self, state: &str) -> String {
        format!("j.state = {} AND j.queue = q.name", literal(state))
    }

    fn count(&self, state: &str) -> String {
        capped(&format!("{} j", self.table), &self.state_queue(state))
    }

    /// A state that makes up a pile (scheduled, retrying, dead): counted to the pile cap.
    fn pile(&self, state: &str) -> String {
        capped_pile(&format!("{} j", self.table), &self.state_queue(state))
    }

    fn lanes(&self, state: &str) -> String {
        match &self.lanes {
            LaneValues::Fixed(list) => {
                let items: Vec<String> = list.iter().map(|p| p.to_string()).collect();
                format!("unnest(ARRAY[{}]) AS l(p)", items.join(", "))
            }
            LaneValues::SkipScan => {
                let sq = self.state_queue(state);
                let t = &self.table;
                format!(
                    "LATERAL (WITH RECURSIVE r(p) AS ( \
                       SELECT min(j.priority) FROM {t} j WHERE {sq} \
                       UNION ALL \
                       SELECT (SELECT min(j.priority) FROM {t} j WHERE {sq} AND j.priority > r.p) \
                       FROM r WHERE r.p IS NOT NULL) \
                     SELECT r.p FROM r WHERE r.p IS NOT NULL) AS l(p)"
                )
            }
        }
    }

    /// Jobs in `state` already due, summed over lanes: with the priority pinned,
    /// `scheduled_at <= now()` is a range that ends at now.
    fn lane_due(&self, state: &str) -> String {
        let inner = capped(
            &format!("{} j", self.table),
            &format!(
                "{} AND j.priority = l.p AND {}",
                self.state_queue(state),
                self.scheduled_at.cmp_now("<=")
            ),
        );
        format!(
            "(SELECT coalesce(sum(x.c), 0)::bigint FROM {} CROSS JOIN LATERAL (SELECT {inner} AS c) x)",
            self.lanes(state)
        )
    }

    /// The earliest scheduled time in `state`, optionally only among those already due.
    fn lane_first(&self, state: &str, due_only: bool) -> String {
        let due = if due_only {
            format!(" AND {}", self.scheduled_at.cmp_now("<="))
        } else {
            String::new()
        };
        format!(
            "(SELECT min(x.at) FROM {lanes} CROSS JOIN LATERAL ( \
               SELECT {col} AS at FROM {t} j WHERE {sq} AND j.priority = l.p{due} \
               ORDER BY {col} LIMIT 1) x)",
            lanes = self.lanes(state),
            col = self.scheduled_at.expr,
            t = self.table,
            sq = self.state_queue(state),
        )
    }

    /// Every (state, queue) pair present, by a skip scan over the index: one probe per pair,
    /// never a pass over the jobs.
    pub fn pairs_cte(&self) -> String {
        let t = &self.table;
        format!(
            "pairs AS ( \
               (SELECT j.state, j.queue FROM {t} j ORDER BY j.state, j.queue LIMIT 1) \
               UNION ALL \
               SELECT n.state, n.queue FROM pairs p CROSS JOIN LATERAL ( \
                 SELECT j.state, j.queue FROM {t} j WHERE (j.state, j.queue) > (p.state, p.queue) \
                 ORDER BY j.state, j.queue LIMIT 1) n)"
        )
    }

    /// Every queue with jobs in any state (the statement `Statements::queue_names` runs on
    /// its slower clock).
    pub fn names_sql(&self) -> String {
        format!(
            "WITH RECURSIVE {pairs} SELECT DISTINCT p.queue AS name FROM pairs p",
            pairs = self.pairs_cte()
        )
    }

    /// The queues statement. `queue_list` is a statement producing (name, paused_at,
    /// paused_by, pause_reason) for the names in `QUEUE_NAMES` (`$2`).
    ///
    /// Each live state is read once for every queue when that is cheap (`LivePasses`), else
    /// per queue: scheduled and retryable jobs are counted once per state (one capped
    /// range), and only their due part per lane (a range that ends at now); the not-yet-due
    /// part is the difference. When the state's count reached the cap, the difference is
    /// shown as capped too: it may then include the few due jobs the stager has not moved
    /// yet.
    pub fn queues_sql(&self, queue_list: &str) -> String {
        let passes = LivePasses::new(self);
        let not_due = |total: &str, due: &str| {
            format!(
                "CASE WHEN c.{total} >= {PILE_LIMIT} THEN c.{total} ELSE c.{total} - c.{due} END"
            )
        };
        let mut scheduled = vec![not_due("scheduled_all", "scheduled_due")];
        scheduled.extend(
            self.waiting
                .iter()
                .map(|s| passes.count(s, PILE_LIMIT, &self.pile(s))),
        );
        let oldest = format!(
            "LEAST({}, {}, {})",
            passes.first(
                self.available,
                "first",
                &self.lane_first(self.available, false)
            ),
            passes.first(
                self.scheduled,
                "first_due",
                &self.lane_first(self.scheduled, true)
            ),
            passes.first(
                self.retryable,
                "first_due",
                &self.lane_first(self.retryable, true)
            ),
        );
        let oldest = if self.scheduled_at.naive {
            format!("({oldest} AT TIME ZONE 'UTC')")
        } else {
            oldest
        };
        // The longest-running job: the running jobs of the queue, an index range pinned on
        // (state, queue) that holds only as many rows as jobs run.
        let oldest_running = TimeCol::new(
            passes.first(
                self.running,
                "started",
                &format!(
                    "(SELECT min({col}) FROM {t} j WHERE {sq})",
                    col = self.started_at.expr,
                    t = self.table,
                    sq = self.state_queue(self.running),
                ),
            ),
            self.started_at.naive,
        )
        .read();
        format!(
            "WITH q AS ({queue_list}), {ctes} \
             SELECT q.name, q.paused_at, q.paused_by, q.pause_reason, \
               c.available + c.scheduled_due + c.retryable_due AS ready, \
               {scheduled} AS scheduled, \
               {retrying} AS retrying, \
               c.running, c.dead, c.oldest_ready_at, c.oldest_running_at \
             FROM q CROSS JOIN whole w {joins} CROSS JOIN LATERAL (SELECT \
               {available} AS available, \
               {scheduled_all} AS scheduled_all, {scheduled_due} AS scheduled_due, \
               {retryable_all} AS retryable_all, {retryable_due} AS retryable_due, \
               {running} AS running, {dead} AS dead, {oldest} AS oldest_ready_at, \
               {oldest_running} AS oldest_running_at) c \
             ORDER BY q.name",
            ctes = passes.ctes(self),
            joins = passes.joins(),
            scheduled = scheduled.join(" + "),
            retrying = not_due("retryable_all", "retryable_due"),
            available = passes.count(self.available, "$1", &self.count(self.available)),
            scheduled_all = passes.count(self.scheduled, PILE_LIMIT, &self.pile(self.scheduled)),
            scheduled_due = passes.due(self.scheduled, &self.lane_due(self.scheduled)),
            retryable_all = passes.count(self.retryable, PILE_LIMIT, &self.pile(self.retryable)),
            retryable_due = passes.due(self.retryable, &self.lane_due(self.retryable)),
            running = passes.count(self.running, "$1", &self.count(self.running)),
            dead = passes.count(self.discarded, PILE_LIMIT, &self.pile(self.discarded)),
        )
    }

    /// Succeeded jobs per minute by their finish time, and failed attempts per minute by the
    /// `at` of each entry in `errors`, over jobs finished in the window and jobs still in
    /// flight (retrying or running). A retried job waiting in the backlog is not re-read: that
    /// would cost a pass over the backlog.
    pub fn minutes_sql(&self) -> String {
        let t = &self.table;
        let ws = MINUTES_FROM;
        let kind = self.kind;
        let succeeded_time = self
            .finished
            .iter()
            .find(|(s, _)| *s == self.succeeded)
            .map(|(_, c)| c.clone())
            .expect("the succeeded state has a finish time");
        let mut parts = vec![format!(
            "SELECT j.queue, {kind}::text AS kind, {minute} AS minute, count(*) AS succeeded, \
               0::bigint AS failed \
             FROM {t} j WHERE j.state = {state} AND {col} IS NOT NULL AND {col} >= {since} \
               AND {col} < {until} GROUP BY 1, 2, 3",
            minute = epoch_minute(&succeeded_time.read()),
            state = literal(self.succeeded),
            col = succeeded_time.expr,
            since = succeeded_time.value(ws),
            until = succeeded_time.value(MINUTES_UNTIL),
        )];
        let error_at = "(e.entry ->> 'at')::timestamptz";
        for (state, col) in &self.finished {
            parts.push(format!(
                "SELECT j.queue, {kind}::text, {minute} AS minute, 0::bigint, count(*) \
                 FROM {t} j CROSS JOIN LATERAL unnest(j.errors) AS e(entry) \
                 WHERE j.state = {state} AND {c} IS NOT NULL AND {c} >= {since} \
                   AND {c} < {last} AND {error_at} >= {ws} AND {error_at} < {MINUTES_UNTIL} \
                 GROUP BY 1, 2, 3",
                minute = epoch_minute(error_at),
                state = literal(state),
                c = col.expr,
                since = col.value(ws),
                last = col.value(FINISHED_UNTIL),
            ));
        }
        parts.push(format!(
            "SELECT j.queue, {kind}::text, {minute} AS minute, 0::bigint, count(*) \
             FROM {t} j CROSS JOIN LATERAL unnest(j.errors) AS e(entry) \
             WHERE j.state IN ({retryable}, {running}) AND {error_at} >= {ws} \
               AND {error_at} < {MINUTES_UNTIL} GROUP BY 1, 2, 3",
            minute = epoch_minute(error_at),
            retryable = literal(self.retryable),
            running = literal(self.running),
        ));
        parts.join(" UNION ALL ")
    }

    /// Workers as the running jobs name them (`holder` picks the id out of `attempted_by`).
    pub fn workers_sql(&self, holder: &str) -> String {
        format!(
            "SELECT {holder} AS id, NULL::text AS host, NULL::int AS pid, \
               array_agg(DISTINCT j.queue ORDER BY j.queue) AS queues, \
               NULL::timestamptz AS started_at, NULL::timestamptz AS last_heartbeat_at, \
               count(*) AS running_jobs \
             FROM {t} j WHERE j.state = {running} AND {holder} IS NOT NULL \
             GROUP BY 1 ORDER BY 1",
            t = self.table,
            running = literal(self.running),
        )
    }
}

/// One pass over each live state's index range for every queue at once, grouped by queue
/// and lane: with many small queues a few hundred buffers, where the per-queue ranges
/// (some 27 a queue) cost two buffers each even for a queue holding one job. A pass stops at
/// its bound (100 rows a queue + 1,000); one that reaches it (a big backlog or pile) leaves
/// its state's figures to the per-queue ranges (`CASE`: a subplan runs only where it is
/// chosen). Figures are the same either way: counts capped as the ranges cap them (due jobs
/// per lane), the earliest times over the lanes the ranges read.
struct LivePasses {
    /// The states read, in the order of their CTEs (`s0`, `g0`, ...).
    states: Vec<&'static str>,
    /// Who may be counted in a lane's due figures and earliest times: the fixed lanes, or
    /// every priority the skip scan would find.
    in_lanes: String,
    running: &'static str,
}

impl LivePasses {
    fn new(shape: &Prioritized) -> LivePasses {
        let mut states = vec![
            shape.available,
            shape.scheduled,
            shape.retryable,
            shape.running,
            shape.discarded,
        ];
        states.extend(shape.waiting.iter().copied());
        let in_lanes = match &shape.lanes {
            LaneValues::Fixed(list) => {
                let items: Vec<String> = list.iter().map(|p| p.to_string()).collect();
                format!("j.priority IN ({})", items.join(", "))
            }
            LaneValues::SkipScan => "j.priority IS NOT NULL".to_string(),
        };
        LivePasses {
            states,
            in_lanes,
            running: shape.running,
        }
    }

    fn index(&self, state: &str) -> usize {
        self.states
            .iter()
            .position(|s| *s == state)
            .expect("every live state has a pass")
    }

    /// The passes, the flags saying which ended within their bound (`whole`), and each
    /// pass grouped by queue (`g<i>`: n, due, first, first_due, started).
    fn ctes(&self, shape: &Prioritized) -> String {
        let t = &shape.table;
        let at = &shape.scheduled_at.expr;
        let due = shape.scheduled_at.cmp_now("<=");
        let in_lanes = &self.in_lanes;
        let mut ctes =
            vec!["bound AS MATERIALIZED (SELECT 100 * count(*) + 1000 AS rows FROM q)".to_string()];
        let mut whole = Vec::new();
        let mut grouped = Vec::new();
        for (i, state) in self.states.iter().enumerate() {
            let started = if *state == self.running {
                format!(", {}", shape.started_at.expr)
            } else {
                String::new()
            };
            ctes.push(format!(
                "s{i} AS MATERIALIZED (SELECT j.queue, j.priority, {at}{started} FROM {t} j \
                 WHERE j.state = {state} LIMIT (SELECT b.rows FROM bound b))",
                state = literal(state),
            ));
            whole.push(format!("(SELECT count(*) FROM s{i}) < b.rows AS s{i}"));
            // Only the running pass has a start time (the others stay index-only).
            let (started_lane, started_queue) = if *state == self.running {
                (
                    format!(", min({}) AS started", shape.started_at.expr),
                    ", min(l.started) AS started",
                )
            } else {
                (String::new(), "")
            };
            grouped.push(format!(
                "g{i} AS (SELECT l.queue, sum(l.n)::bigint AS n, \
                   sum(least(l.due, $1))::bigint AS due, \
                   min(l.first) AS first, min(l.first_due) AS first_due{started_queue} \
                 FROM (SELECT j.queue, count(*) AS n, \
                   count(*) FILTER (WHERE {in_lanes} AND {due}) AS due, \
                   min({at}) FILTER (WHERE {in_lanes}) AS first, \
                   min({at}) FILTER (WHERE {in_lanes} AND {due}) AS first_due{started_lane} \
                   FROM s{i} j GROUP BY j.queue, j.priority) l \
                 GROUP BY l.queue)"
            ));
        }
        ctes.push(format!(
            "whole AS MATERIALIZED (SELECT {} FROM bound b)",
            whole.join(", ")
        ));
        ctes.extend(grouped);
        ctes.join(", ")
    }

    fn joins(&self) -> String {
        (0..self.states.len())
            .map(|i| format!("LEFT JOIN g{i} ON g{i}.queue = q.name"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The state's count, capped at `limit` as the per-queue range (`per_queue`) caps it.
    fn count(&self, state: &str, limit: &str, per_queue: &str) -> String {
        let i = self.index(state);
        format!("CASE WHEN w.s{i} THEN least(coalesce(g{i}.n, 0), {limit}) ELSE {per_queue} END")
    }

    /// The state's due jobs summed over lanes, each lane capped at the count cap.
    fn due(&self, state: &str, per_queue: &str) -> String {
        let i = self.index(state);
        format!("CASE WHEN w.s{i} THEN coalesce(g{i}.due, 0) ELSE {per_queue} END")
    }

    /// An earliest time of the state (`column`: first, first_due or started).
    fn first(&self, state: &str, column: &str, per_queue: &str) -> String {
        let i = self.index(state);
        format!("CASE WHEN w.s{i} THEN g{i}.{column} ELSE {per_queue} END")
    }
}
