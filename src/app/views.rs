//! The drill-down views and their state. The overview is the bottom of the stack and is not
//! in it; Enter and the view keys push, Esc pops.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::editor::LineEditor;
use super::json::DocLine;
use super::selection::{ListSelection, rows};
use super::sort::Narrow;
use crate::backend::drill::{
    Cursor, DeadLetterReport, DeadWindow, ErrorGroup, HistoryWindow, JobDetail, JobPage, JobRow,
    JobScope, KindStats, KindsReport, ListFilter, Order, TenantStats, TenantsReport,
};
use crate::backend::{JobId, JobState};

/// Lines of the job detail above its scrolling pane (fields, timeline, pane tabs); the
/// UI lays the detail out with the same numbers.
pub const DETAIL_HEAD_LINES: u16 = 8;
/// Lines every screen spends on breadcrumb and footer.
pub const CHROME_LINES: u16 = 2;

/// Start-up settings of the drill-down views.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillSettings {
    /// A running job older than this is stuck (the stuck view, `s`).
    pub stuck_after: Duration,
    /// How often workers send heartbeats, for the tenants view's heartbeat budget.
    pub heartbeat_interval: Duration,
    /// Dead jobs grouped at most (the newest).
    pub dead_letter_limit: i64,
    /// Finished (and failed) jobs read at most for the kinds view.
    pub kinds_limit: i64,
    /// Reports that read many rows (dead letters, kinds, tenants) refresh at most this often.
    pub report_refresh: Duration,
    /// The job detail (which reads up to 256k characters of payload) refreshes at most
    /// this often.
    pub detail_refresh: Duration,
    /// A view whose last load failed asks again on its own only this long after.
    pub retry_after_failure: Duration,
}

impl Default for DrillSettings {
    fn default() -> Self {
        DrillSettings {
            stuck_after: Duration::from_secs(3600),
            heartbeat_interval: Duration::from_secs(30),
            dead_letter_limit: 20_000,
            kinds_limit: 100_000,
            report_refresh: Duration::from_secs(15),
            retry_after_failure: Duration::from_secs(30),
            detail_refresh: Duration::from_secs(5),
        }
    }
}

/// A view's data load: what is on its way, what went wrong last, when data last came.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadState {
    /// The ticket of the load under way; a reply with any other ticket is stale.
    pub pending: Option<u64>,
    /// When the load under way was asked for.
    pub pending_since: Option<DateTime<Utc>>,
    /// The last load failed with this; the last good data stays on screen.
    pub error: Option<String>,
    pub loaded_at: Option<DateTime<Utc>>,
    /// When the last load failed: a failed read (a search that hit the statement timeout,
    /// say) is not repeated on every poll.
    pub failed_at: Option<DateTime<Utc>>,
}

impl LoadState {
    pub fn is_loading(&self) -> bool {
        self.pending.is_some()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum View {
    Jobs(JobsView),
    Job(JobView),
    DeadLetters(DeadLettersView),
    Workers(WorkersView),
    Kinds(KindsView),
    Tenants(TenantsView),
    Schedules(SchedulesView),
    ScheduleRuns(ScheduleRunsView),
}

impl View {
    pub fn load_state(&self) -> Option<&LoadState> {
        match self {
            View::Jobs(v) => Some(&v.load),
            View::Job(v) => Some(&v.load),
            View::DeadLetters(v) => Some(&v.load),
            View::Kinds(v) => Some(&v.load),
            View::Tenants(v) => Some(&v.load),
            View::Workers(_) | View::Schedules(_) | View::ScheduleRuns(_) => None,
        }
    }

    /// The `/` filter and `<` `>` sort of a table view (job lists filter in the database).
    pub fn narrow(&self) -> Option<&Narrow> {
        match self {
            View::DeadLetters(v) => Some(&v.narrow),
            View::Workers(v) => Some(&v.narrow),
            View::Kinds(v) => Some(&v.narrow),
            View::Tenants(v) => Some(&v.narrow),
            View::Schedules(v) => Some(&v.narrow),
            View::Jobs(_) | View::Job(_) | View::ScheduleRuns(_) => None,
        }
    }

    pub fn narrow_mut(&mut self) -> Option<&mut Narrow> {
        match self {
            View::DeadLetters(v) => Some(&mut v.narrow),
            View::Workers(v) => Some(&mut v.narrow),
            View::Kinds(v) => Some(&mut v.narrow),
            View::Tenants(v) => Some(&mut v.narrow),
            View::Schedules(v) => Some(&mut v.narrow),
            View::Jobs(_) | View::Job(_) | View::ScheduleRuns(_) => None,
        }
    }

    pub fn load_state_mut(&mut self) -> Option<&mut LoadState> {
        match self {
            View::Jobs(v) => Some(&mut v.load),
            View::Job(v) => Some(&mut v.load),
            View::DeadLetters(v) => Some(&mut v.load),
            View::Kinds(v) => Some(&mut v.load),
            View::Tenants(v) => Some(&mut v.load),
            View::Workers(_) | View::Schedules(_) | View::ScheduleRuns(_) => None,
        }
    }
}

/// Where the selection goes when the next page arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Land {
    Keep,
    First,
    Last,
}

/// A list of jobs: a queue's jobs in one state (with tabs for the others), a worker's
/// jobs, a dead-letter group's jobs, or the stuck jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsView {
    pub scope: JobScope,
    /// Shown in the breadcrumb for scopes that have no name of their own (a group).
    pub label: Option<String>,
    pub filter: ListFilter,
    pub order: Order,
    /// The start of every page visited, the current one last (`None` = the first page).
    pub pages: Vec<Option<Cursor>>,
    pub page: Option<JobPage>,
    /// Followed by id across refreshes; when the job leaves the list the selection stays
    /// at the same row.
    pub selected: ListSelection<JobId>,
    pub land: Land,
    /// Jobs marked (`v`) for a bulk action.
    pub marked: BTreeSet<JobId>,
    /// `V`: the next action takes every job the list's scope and filter match.
    pub all_matching: bool,
    pub load: LoadState,
}

impl JobsView {
    pub fn new(scope: JobScope, label: Option<String>) -> JobsView {
        JobsView {
            scope,
            label,
            filter: ListFilter::default(),
            order: Order::default(),
            pages: vec![None],
            page: None,
            selected: ListSelection::default(),
            land: Land::First,
            marked: BTreeSet::new(),
            all_matching: false,
            load: LoadState::default(),
        }
    }

    pub fn rows(&self) -> &[JobRow] {
        self.page.as_ref().map_or(&[], |p| p.rows.as_slice())
    }

    /// The ids of the page's rows: the keys of its selection.
    pub fn ids(&self) -> Vec<JobId> {
        self.rows().iter().map(|r| r.id.clone()).collect()
    }

    /// The selected row's index in the page.
    pub fn selected_index(&self) -> Option<usize> {
        self.selected.index(&self.ids())
    }

    pub fn selected_job(&self) -> Option<&JobRow> {
        self.selected_index().map(|i| &self.rows()[i])
    }

    /// 1-based number of the current page.
    pub fn page_number(&self) -> usize {
        self.pages.len()
    }

    /// The state tab, for queue lists.
    pub fn tab(&self) -> Option<JobState> {
        match &self.scope {
            JobScope::Queue { state, .. } => Some(*state),
            _ => None,
        }
    }
}

/// Which part of a job's detail scrolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailPane {
    Errors,
    Payload,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    pub id: JobId,
    /// `None` until loaded; `Some(None)` when no job has this id.
    pub detail: Option<Option<Box<JobDetail>>>,
    pub payload_lines: Vec<DocLine>,
    pub error_lines: Vec<DocLine>,
    pub pane: DetailPane,
    /// First line shown, per pane.
    pub scroll: [usize; 2],
    /// Columns scrolled to the right (long lines are cut, not wrapped).
    pub hscroll: usize,
    pub load: LoadState,
}

impl JobView {
    pub fn new(id: JobId) -> JobView {
        JobView {
            id,
            detail: None,
            payload_lines: Vec::new(),
            error_lines: Vec::new(),
            pane: DetailPane::Errors,
            scroll: [0, 0],
            hscroll: 0,
            load: LoadState::default(),
        }
    }

    pub fn lines(&self) -> &[DocLine] {
        match self.pane {
            DetailPane::Errors => &self.error_lines,
            DetailPane::Payload => &self.payload_lines,
        }
    }

    pub fn scroll(&self) -> usize {
        self.scroll[self.pane as usize]
    }

    pub fn job(&self) -> Option<&JobDetail> {
        self.detail.as_ref().and_then(|d| d.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLettersView {
    pub window: DeadWindow,
    /// Only the dead jobs of this kind (when opened from the kinds view).
    pub kind: Option<String>,
    /// Only the dead jobs of this queue (`d` inside a queue).
    pub queue: Option<String>,
    /// The kind's failed attempts instead (retried or not): a group counts attempts, and
    /// its ids are one per attempt (opened from the kinds view on a kind without dead jobs).
    pub attempts: bool,
    pub report: Option<DeadLetterReport>,
    /// Followed by signature.
    pub selected: ListSelection<String>,
    pub narrow: Narrow,
    pub load: LoadState,
}

impl DeadLettersView {
    pub fn new(window: DeadWindow, kind: Option<String>) -> DeadLettersView {
        DeadLettersView {
            window,
            kind,
            queue: None,
            attempts: false,
            report: None,
            selected: ListSelection::default(),
            narrow: Narrow::default(),
            load: LoadState::default(),
        }
    }

    /// The failed attempts of `kind`, grouped by error signature.
    pub fn attempts(window: DeadWindow, kind: String) -> DeadLettersView {
        DeadLettersView {
            attempts: true,
            ..DeadLettersView::new(window, Some(kind))
        }
    }

    /// The groups on screen, in display order (`/` and `<` `>` applied).
    pub fn shown(&self) -> Vec<&ErrorGroup> {
        self.report.as_ref().map_or(Vec::new(), |r| {
            let order = self.narrow.order(&r.groups, r.db_now);
            order.into_iter().map(|i| &r.groups[i]).collect()
        })
    }

    /// The error signatures listed: the keys of the selection.
    pub fn keys(&self) -> Vec<String> {
        self.shown().iter().map(|g| g.signature.clone()).collect()
    }

    pub fn selected_index(&self) -> Option<usize> {
        self.selected.index(&self.keys())
    }
}

/// Its rows are the overview's workers, in the same order (`App::worker_ids`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkersView {
    pub selected: ListSelection<String>,
    pub narrow: Narrow,
}

/// Its rows are the snapshot's schedules, in the snapshot's order (`App::schedule_keys`):
/// no load of its own, it moves with every poll.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchedulesView {
    /// Followed by `Schedule::key` and id: `pg_cron/7`.
    pub selected: ListSelection<String>,
    pub narrow: Narrow,
}

/// One schedule's recent runs, newest first, from the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRunsView {
    /// The schedule's selection key (`App::schedule_keys`).
    pub schedule: String,
    /// By row: runs move down as new ones come.
    pub selected: ListSelection<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KindsView {
    pub window: HistoryWindow,
    pub report: Option<KindsReport>,
    pub selected: ListSelection<String>,
    pub narrow: Narrow,
    pub load: LoadState,
}

impl KindsView {
    pub fn new(window: HistoryWindow) -> KindsView {
        KindsView {
            window,
            report: None,
            selected: ListSelection::default(),
            narrow: Narrow::default(),
            load: LoadState::default(),
        }
    }

    /// The kinds on screen, in display order.
    pub fn shown(&self) -> Vec<&KindStats> {
        self.report.as_ref().map_or(Vec::new(), |r| {
            let order = self.narrow.order(&r.kinds, r.db_now);
            order.into_iter().map(|i| &r.kinds[i]).collect()
        })
    }

    /// The kinds listed: the keys of the selection.
    pub fn keys(&self) -> Vec<String> {
        self.shown().iter().map(|k| k.kind.clone()).collect()
    }

    pub fn selected_index(&self) -> Option<usize> {
        self.selected.index(&self.keys())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantsView {
    pub report: Option<TenantsReport>,
    /// By row (tenants have no stable order worth following).
    pub selected: ListSelection<usize>,
    pub narrow: Narrow,
    pub load: LoadState,
}

impl Default for TenantsView {
    fn default() -> Self {
        TenantsView {
            report: None,
            selected: ListSelection::at(0),
            narrow: Narrow::default(),
            load: LoadState::default(),
        }
    }
}

impl TenantsView {
    /// The tenants on screen, in display order.
    pub fn shown(&self) -> Vec<&TenantStats> {
        self.report.as_ref().map_or(Vec::new(), |r| {
            let order = self.narrow.order(&r.tenants, r.db_now);
            order.into_iter().map(|i| &r.tenants[i]).collect()
        })
    }

    /// The row numbers: the keys of the selection.
    pub fn keys(&self) -> Vec<usize> {
        rows(self.shown().len())
    }

    pub fn selected_index(&self) -> Option<usize> {
        self.selected.index(&self.keys())
    }
}

/// The `/` prompt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterInput {
    pub text: LineEditor,
    /// What is wrong with the text, shown until it changes.
    pub error: Option<String>,
    /// The search needs a scan of a big scope: says so, and waits for a second Enter.
    pub confirm: Option<String>,
}

/// Everything the drill-down adds to the app.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Drill {
    pub stack: Vec<View>,
    pub input: Option<FilterInput>,
    /// Terminal size, for paging and scrolling by a screenful.
    pub screen: (u16, u16),
}
