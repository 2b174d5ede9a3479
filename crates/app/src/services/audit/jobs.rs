//! The audit service's background loop: tree heads while the log grows, denial summaries,
//! retention and an hourly full verification.
//!
//! Every job runs in one task so they never overlap, and a failing job is logged and tried
//! again at its next turn. On shutdown the loop signs a last head, so the witness file ends
//! with the log's final size.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Interval, MissedTickBehavior, interval};

use crate::state::App;

/// How often the log is verified in full.
const VERIFY_EVERY: Duration = Duration::from_secs(3600);
/// How often retention looks for entries to prune.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Maximum wait between denial flushes.
const FLUSH_AT_MOST_EVERY: Duration = Duration::from_secs(60);

impl App {
    /// Starts the audit loop; it ends after `shutdown` turns true.
    pub fn spawn_audit_jobs(&self, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            let config = &app.config().audit;
            let mut sign = ticker(Duration::from_secs(
                config.tree_head_interval_seconds.max(1),
            ));
            let mut flush = ticker(
                Duration::from_secs(config.denial_window_seconds.max(1)).min(FLUSH_AT_MOST_EVERY),
            );
            let mut prune = ticker(PRUNE_EVERY);
            let mut verify = ticker(VERIFY_EVERY);
            loop {
                tokio::select! {
                    _ = sign.tick() => app.run_sign_job().await,
                    _ = flush.tick() => {
                        if let Err(error) = app.flush_denial_windows().await {
                            tracing::warn!(target: "spiritus::audit", %error, "cannot write denial summaries");
                        }
                    }
                    _ = prune.tick() => {
                        if let Err(error) = app.prune_audit_log().await {
                            tracing::warn!(target: "spiritus::audit", %error, "audit retention failed");
                        }
                    }
                    _ = verify.tick() => {
                        if let Err(error) = app.verify_audit_log_and_alert().await {
                            tracing::warn!(target: "spiritus::audit", %error, "cannot verify the audit log");
                        }
                    }
                    _ = shutdown.changed() => {
                        if *shutdown.borrow() {
                            app.run_sign_job().await;
                            break;
                        }
                    }
                }
            }
        })
    }

    async fn run_sign_job(&self) {
        if let Err(error) = self.sign_tree_head_if_grown().await {
            tracing::warn!(target: "spiritus::audit", %error, "cannot sign an audit tree head");
        }
    }
}

/// Creates an interval whose first tick comes one period from now and that skips missed
/// ticks.
fn ticker(period: Duration) -> Interval {
    let mut ticker = interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker.reset();
    ticker
}
