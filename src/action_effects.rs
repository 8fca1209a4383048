//! Runs the monitor's action effects: each one a task that goes through the gate (writes)
//! or straight to the backend (reads), and answers with a `Msg` on the UI's channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use crate::app::{Effect, Msg};
use crate::backend::gate::{Gate, StopFlag};

pub struct ActionEffects {
    gate: Arc<Gate>,
    tx: mpsc::Sender<Msg>,
    /// The stop flag of each run that may still be going.
    stops: HashMap<u64, StopFlag>,
}

impl ActionEffects {
    pub fn new(gate: Arc<Gate>, tx: mpsc::Sender<Msg>) -> ActionEffects {
        ActionEffects {
            gate,
            tx,
            stops: HashMap::new(),
        }
    }

    /// Starts the work of an action effect; other effects are not ours and are ignored.
    pub fn run(&mut self, effect: Effect) {
        let gate = self.gate.clone();
        let tx = self.tx.clone();
        match effect {
            Effect::PlanAction { request, action } => {
                tokio::spawn(async move {
                    let result = gate
                        .plan(&action)
                        .await
                        .map(Box::new)
                        .map_err(|e| format!("{e:#}"));
                    let _ = tx.send(Msg::Planned { request, result }).await;
                });
            }
            Effect::RunAction { run, plan } => {
                // Finished runs hold the only other reference to their flag.
                self.stops.retain(|_, flag| Arc::strong_count(flag) > 1);
                let stop: StopFlag = Arc::new(AtomicBool::new(false));
                self.stops.insert(run, stop.clone());
                tokio::spawn(async move {
                    let progress_tx = tx.clone();
                    let mut progress = move |p: &crate::backend::ActionOutcome| {
                        // A full channel drops a progress report, never the final one.
                        let _ = progress_tx.try_send(Msg::ActionProgress {
                            run,
                            progress: Box::new(p.clone()),
                        });
                    };
                    let result = gate
                        .execute(&plan, &stop, &mut progress)
                        .await
                        .map(Box::new)
                        .map_err(|refused| refused.0);
                    let _ = tx.send(Msg::ActionDone { run, result }).await;
                });
            }
            Effect::StopAction { run } => {
                if let Some(flag) = self.stops.get(&run) {
                    flag.store(true, Ordering::SeqCst);
                }
            }
            Effect::WatchJobs { ids } => {
                tokio::spawn(async move {
                    let result = gate
                        .backend()
                        .reads()
                        .job_states(&ids)
                        .await
                        .map_err(|e| format!("{e:#}"));
                    let _ = tx.send(Msg::Watched { result }).await;
                });
            }
            Effect::LoadAudit { filter } => {
                tokio::spawn(async move {
                    let result = gate
                        .backend()
                        .reads()
                        .audit_log(&filter)
                        .await
                        .map_err(|e| format!("{e:#}"));
                    let _ = tx.send(Msg::AuditLoaded { result }).await;
                });
            }
            _ => {}
        }
    }
}
