//! `update` for the mouse: a click selects the row or tab it landed on, the wheel moves
//! the selection (or scrolls what scrolls) as the arrow keys do. Clicks reach the screen
//! only: over a dialog, the help or the prompt they do nothing.

use crate::app::focus::Focus;
use crate::app::keymap::KeyCommand;
use crate::app::msg::WHEEL_ROWS;
use crate::app::views::{DetailPane, View};
use crate::app::{App, Effect, Mouse, Pane, Table};
use crate::backend::JobState;
use crate::backend::drill::{DeadWindow, HistoryWindow, JobScope};

impl App {
    pub(super) fn mouse(&mut self, mouse: Mouse) -> Vec<Effect> {
        match mouse {
            Mouse::Wheel(by) => {
                let command = if by > 0 {
                    KeyCommand::Down
                } else {
                    KeyCommand::Up
                };
                // The wheel works wherever the arrows do: the help scrolls too.
                if !matches!(
                    self.focus(),
                    Focus::Overview | Focus::View | Focus::Alerts | Focus::Help
                ) {
                    return Vec::new();
                }
                let mut effects = Vec::new();
                for _ in 0..(by.unsigned_abs() as isize * WHEEL_ROWS) {
                    effects.extend(self.command(command));
                }
                effects
            }
            _ if !matches!(self.focus(), Focus::Overview | Focus::View) => Vec::new(),
            Mouse::Row { table, row } => self.click_row(table, row),
            Mouse::Tab(i) => self.click_tab(i),
        }
    }

    fn click_row(&mut self, table: Table, row: usize) -> Vec<Effect> {
        match table {
            Table::Queues => {
                self.pane = Pane::Queues;
                let mut selected = std::mem::take(&mut self.selected_queue);
                selected.select(&self.queue_keys(), row);
                self.selected_queue = selected;
            }
            Table::Workers => {
                self.pane = Pane::Workers;
                let ids = self.worker_ids();
                self.selected_worker.select(&ids, row);
            }
            Table::View => {
                let (workers, schedules) = match self.top_view() {
                    Some(View::Workers(v)) => (self.worker_ids_narrowed(&v.narrow), Vec::new()),
                    Some(View::Schedules(v)) => {
                        (Vec::new(), self.schedule_keys_narrowed(&v.narrow))
                    }
                    _ => (Vec::new(), Vec::new()),
                };
                let runs = match self.top_view() {
                    Some(View::ScheduleRuns(v)) => {
                        self.schedule(&v.schedule).map_or(0, |s| s.runs.len())
                    }
                    _ => 0,
                };
                match self.top_view_mut() {
                    Some(View::Jobs(v)) => v.selected.select(&v.ids(), row),
                    Some(View::DeadLetters(v)) => v.selected.select(&v.keys(), row),
                    Some(View::Kinds(v)) => v.selected.select(&v.keys(), row),
                    Some(View::Tenants(v)) => v.selected.select(&v.keys(), row),
                    Some(View::Workers(v)) => v.selected.select(&workers, row),
                    Some(View::Schedules(v)) => v.selected.select(&schedules, row),
                    Some(View::ScheduleRuns(v)) => {
                        v.selected.select(&(0..runs).collect::<Vec<_>>(), row)
                    }
                    Some(View::Job(_)) | None => {}
                }
            }
        }
        Vec::new()
    }

    /// The `i`th tab of the view on top; a new tab is a new list or report, read again.
    fn click_tab(&mut self, i: usize) -> Vec<Effect> {
        let changed = match self.top_view_mut() {
            Some(View::Jobs(v)) => match &mut v.scope {
                JobScope::Queue { state, .. } => {
                    let new = JobState::ALL.get(i).copied().unwrap_or(*state);
                    let changed = new != *state;
                    *state = new;
                    if changed {
                        v.marked.clear();
                        v.pages = vec![None];
                        v.page = None;
                        v.land = crate::app::views::Land::First;
                    }
                    changed
                }
                _ => false,
            },
            Some(View::DeadLetters(v)) => {
                let new = DeadWindow::ALL.get(i).copied().unwrap_or(v.window);
                let changed = new != v.window;
                v.window = new;
                v.report = v.report.take().filter(|_| !changed);
                changed
            }
            Some(View::Kinds(v)) => {
                let new = HistoryWindow::ALL.get(i).copied().unwrap_or(v.window);
                let changed = new != v.window;
                v.window = new;
                v.report = v.report.take().filter(|_| !changed);
                changed
            }
            Some(View::Job(v)) => {
                v.pane = match i {
                    0 => DetailPane::Errors,
                    _ => DetailPane::Payload,
                };
                false
            }
            _ => false,
        };
        if changed { self.load_top() } else { Vec::new() }
    }
}
