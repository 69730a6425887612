//! The processing runs of this process, by document, so that deleting a
//! document (or stopping the server) can stop its run — and the child process
//! parsing its file — at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Shared by the processor (which registers runs) and the documents service
/// (which cancels them). In AWS the two live in different functions: there a
/// run notices the deletion when it writes its result.
#[derive(Clone, Default)]
pub struct RunningProcessing {
    runs: Arc<Mutex<HashMap<String, watch::Sender<bool>>>>,
}

impl RunningProcessing {
    /// Registers a run of `document_id`; it stays registered until the guard drops.
    pub fn start(&self, document_id: &str) -> RunGuard {
        let (sender, receiver) = watch::channel(false);
        self.runs
            .lock()
            .expect("run registry lock")
            .insert(document_id.to_string(), sender);
        RunGuard {
            registry: self.clone(),
            document_id: document_id.to_string(),
            cancelled: Cancellation { receiver },
        }
    }

    /// Asks the run of `document_id`, if any, to stop.
    pub fn cancel(&self, document_id: &str) {
        if let Some(sender) = self
            .runs
            .lock()
            .expect("run registry lock")
            .get(document_id)
        {
            let _ = sender.send(true);
        }
    }

    /// Asks every run to stop (the server is shutting down).
    pub fn cancel_all(&self) {
        for sender in self.runs.lock().expect("run registry lock").values() {
            let _ = sender.send(true);
        }
    }
}

/// Unregisters its run when dropped.
pub struct RunGuard {
    registry: RunningProcessing,
    document_id: String,
    cancelled: Cancellation,
}

impl RunGuard {
    pub fn cancellation(&self) -> &Cancellation {
        &self.cancelled
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.registry
            .runs
            .lock()
            .expect("run registry lock")
            .remove(&self.document_id);
    }
}

/// A run's view of its cancellation.
#[derive(Clone)]
pub struct Cancellation {
    receiver: watch::Receiver<bool>,
}

impl Cancellation {
    /// One that never fires (runs nobody can cancel, e.g. in tests).
    pub fn never() -> Self {
        // With its sender gone, `cancelled()` stays pending for ever.
        let (_, receiver) = watch::channel(false);
        Cancellation { receiver }
    }

    pub fn is_cancelled(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Completes once the run is cancelled.
    pub async fn cancelled(&self) {
        let mut receiver = self.receiver.clone();
        if receiver.wait_for(|cancelled| *cancelled).await.is_err() {
            // The registry is gone; nothing can cancel this run any more.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancelling_a_document_stops_only_its_run() {
        let running = RunningProcessing::default();
        let first = running.start("doc-1");
        let second = running.start("doc-2");
        running.cancel("doc-1");
        first.cancellation().cancelled().await;
        assert!(first.cancellation().is_cancelled());
        assert!(!second.cancellation().is_cancelled());
        drop(first);
        running.cancel("doc-1"); // no run any more: harmless
        running.cancel_all();
        assert!(second.cancellation().is_cancelled());
    }
}
