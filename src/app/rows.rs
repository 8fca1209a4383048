//! The drill-down tables' rows as `/` and `<` `>` see them (`sort::Sortable`): which
//! columns sort, by what value, and the text a filter looks in. The first column is the
//! row's name (sorted A to Z); the others sort largest first.

use chrono::{DateTime, Utc};

use super::sort::{SortValue, Sortable};
use crate::backend::WorkerInfo;
use crate::backend::drill::{ErrorGroup, KindStats, TenantStats};
use crate::backend::schedules::Schedule;

fn num(v: impl Into<f64>) -> SortValue {
    SortValue::Num(Some(v.into()))
}

fn age(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> SortValue {
    SortValue::Num(at.map(|t| (now - t).num_milliseconds() as f64))
}

fn text(s: &str) -> SortValue {
    SortValue::Text(s.to_lowercase())
}

impl Sortable for KindStats {
    const COLUMNS: &'static [&'static str] = &[
        "KIND", "OK", "FAILED", "DEAD", "FAIL%", "RUN p50", "RUN p95", "WAIT p50",
    ];

    fn sort_value(&self, column: usize, _now: DateTime<Utc>) -> SortValue {
        match column {
            0 => text(&self.kind),
            1 => num(self.succeeded as f64),
            2 => num(self.failed_attempts as f64),
            3 => num(self.dead as f64),
            4 => SortValue::Num(self.failure_rate()),
            5 => SortValue::Num(self.run_p50),
            6 => SortValue::Num(self.run_p95),
            _ => SortValue::Num(self.wait_p50),
        }
    }

    fn filter_text(&self) -> String {
        self.kind.clone()
    }
}

impl Sortable for ErrorGroup {
    const COLUMNS: &'static [&'static str] = &["ERROR SIGNATURE", "JOBS", "FIRST", "LAST"];

    fn sort_value(&self, column: usize, now: DateTime<Utc>) -> SortValue {
        match column {
            0 => text(&self.signature),
            1 => num(self.count as f64),
            // Ages: the oldest first seen, the most recently seen first.
            2 => age(Some(self.first_seen), now),
            _ => num(-(now - self.last_seen).num_milliseconds() as f64),
        }
    }

    fn filter_text(&self) -> String {
        let names = |pairs: &[(String, i64)]| {
            pairs
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "{} {} {} {}",
            self.signature,
            self.sample,
            names(&self.kinds),
            names(&self.queues)
        )
    }
}

impl Sortable for WorkerInfo {
    const COLUMNS: &'static [&'static str] = &["WORKER", "JOBS", "BEAT", "STARTED"];

    fn sort_value(&self, column: usize, now: DateTime<Utc>) -> SortValue {
        match column {
            0 => text(&self.id),
            1 => num(self.running_jobs as f64),
            2 => age(self.last_heartbeat_at, now),
            _ => age(self.started_at, now),
        }
    }

    fn filter_text(&self) -> String {
        format!(
            "{} {} {}",
            self.id,
            self.host.as_deref().unwrap_or(""),
            self.queues.join(" ")
        )
    }
}

impl Sortable for Schedule {
    const COLUMNS: &'static [&'static str] = &["NAME", "LAST", "NEXT", "FAIL24H"];

    fn sort_value(&self, column: usize, now: DateTime<Utc>) -> SortValue {
        match column {
            0 => text(&self.name),
            1 => age(self.last_run().and_then(|r| r.started_at), now),
            // The soonest due first.
            2 => SortValue::Num(
                self.next_due_at
                    .map(|t| -(t - now).num_milliseconds() as f64),
            ),
            _ => num(self.failures_in_a_row() as f64),
        }
    }

    fn filter_text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.source,
            self.name,
            self.expression,
            self.command.as_deref().unwrap_or("")
        )
    }
}

impl Sortable for TenantStats {
    const COLUMNS: &'static [&'static str] = &["TENANT", "RUNNING", "BEATING", "READY"];

    fn sort_value(&self, column: usize, _now: DateTime<Utc>) -> SortValue {
        match column {
            0 => text(self.tenant.as_deref().unwrap_or("")),
            1 => num(self.running as f64),
            2 => num(self.beating as f64),
            _ => num(self.ready.value as f64),
        }
    }

    fn filter_text(&self) -> String {
        self.tenant.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::sort::{Narrow, TableSort};

    fn kind(name: &str, ok: i64, failed: i64) -> KindStats {
        KindStats {
            kind: name.into(),
            succeeded: ok,
            failed_attempts: failed,
            dead: 0,
            run_p50: None,
            run_p95: None,
            wait_p50: None,
        }
    }

    #[test]
    fn filter_and_sort_walk_the_columns_and_back_to_the_data_order() {
        let rows = [
            kind("mail.send", 5, 1),
            kind("billing.charge", 9, 0),
            kind("mail.bounce", 1, 3),
        ];
        let now = Utc::now();
        let mut narrow = Narrow::default();
        assert_eq!(narrow.order(&rows, now), [0, 1, 2]);
        narrow.filter = Some("MAIL".into());
        assert_eq!(narrow.order(&rows, now), [0, 2]);
        narrow.filter = None;
        // `>` from the data's order: the name, A to Z; again: OK, largest first.
        narrow.sort = narrow.sort.step::<KindStats>(1);
        assert_eq!(narrow.order(&rows, now), [1, 2, 0]);
        narrow.sort = narrow.sort.step::<KindStats>(1);
        assert_eq!(narrow.order(&rows, now), [1, 0, 2]);
        assert_eq!(narrow.describe::<KindStats>().unwrap(), "sorted by OK ↓");
        // `<` twice: back through the name to the data's order.
        narrow.sort = narrow.sort.step::<KindStats>(-2);
        assert_eq!(narrow.sort, TableSort::default());
    }
}
