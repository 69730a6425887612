//! The local server's processing queue: what an S3 notification and Lambda's
//! concurrency are in AWS. At most one run per core at once, at most one per
//! user, and users take turns — so one person's slow or hostile uploads
//! cannot hold back everyone else's documents.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askdocs_processing::{handle, object_created_event, ProcessingState};
use askdocs_shared::model::object_key::parse_object_key;
use tokio::sync::{Notify, Semaphore};

/// Lambda retries a failed asynchronous invocation twice; so does the local server.
const ATTEMPTS: u32 = 3;
/// The bucket name the local S3 events carry.
pub const LOCAL_BUCKET: &str = "askdocs-local";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub key: String,
    pub size: u64,
}

impl From<askdocs_shared::model::Document> for Job {
    /// A document to process again (a recovered run, a lost upload event).
    fn from(document: askdocs_shared::model::Document) -> Self {
        Job {
            key: document.key,
            size: document.size,
        }
    }
}

#[derive(Default)]
struct Waiting {
    by_user: HashMap<String, VecDeque<Job>>,
    /// Users with waiting jobs, in turn order.
    turns: VecDeque<String>,
    running: HashSet<String>,
}

#[derive(Clone, Default)]
pub struct ProcessingQueue {
    waiting: Arc<Mutex<Waiting>>,
    changed: Arc<Notify>,
}

fn owner(job: &Job) -> String {
    parse_object_key(&job.key)
        .map(|(user, _)| user.to_string())
        .unwrap_or_default()
}

impl ProcessingQueue {
    pub fn push(&self, job: Job) {
        let user = owner(&job);
        let mut waiting = self.waiting.lock().expect("queue lock");
        let queue = waiting.by_user.entry(user.clone()).or_default();
        queue.push_back(job);
        if queue.len() == 1 && !waiting.turns.contains(&user) {
            waiting.turns.push_back(user);
        }
        drop(waiting);
        self.changed.notify_one();
    }

    /// The next job of the first user in turn who has none running.
    fn next(&self) -> Option<(String, Job)> {
        let mut waiting = self.waiting.lock().expect("queue lock");
        let position = waiting
            .turns
            .iter()
            .position(|user| !waiting.running.contains(user))?;
        let user = waiting
            .turns
            .remove(position)
            .expect("position is in range");
        let queue = waiting
            .by_user
            .get_mut(&user)
            .expect("users in turn have jobs");
        let job = queue.pop_front().expect("users in turn have jobs");
        if queue.is_empty() {
            waiting.by_user.remove(&user);
        } else {
            // Back of the line for this user's next job.
            waiting.turns.push_back(user.clone());
        }
        waiting.running.insert(user.clone());
        Some((user, job))
    }

    fn finished(&self, user: &str) {
        self.waiting
            .lock()
            .expect("queue lock")
            .running
            .remove(user);
        self.changed.notify_one();
    }

    /// Takes the next job that may run now, waiting for one.
    async fn take(&self) -> (String, Job) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(next) = self.next() {
                return next;
            }
            changed.await;
        }
    }

    /// Runs jobs for ever, `slots` at a time.
    pub async fn run(self, state: ProcessingState, slots: usize) {
        let slots = Arc::new(Semaphore::new(slots.max(1)));
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (user, job) = self.take().await;
            let queue = self.clone();
            let state = state.clone();
            tokio::spawn(async move {
                process_with_retries(&state, &job).await;
                drop(slot);
                queue.finished(&user);
            });
        }
    }
}

/// Runs the processing handler with a real S3 event, retrying as Lambda would.
async fn process_with_retries(state: &ProcessingState, job: &Job) {
    for attempt in 1..=ATTEMPTS {
        let event = object_created_event(LOCAL_BUCKET, &job.key, job.size);
        match handle(state, event).await {
            Ok(_) => return,
            Err(error) if attempt < ATTEMPTS => {
                tracing::warn!(key = job.key, attempt, error = %error, "processing will be retried");
                tokio::time::sleep(Duration::from_secs(attempt as u64 * 2)).await;
            }
            Err(error) => {
                tracing::error!(key = job.key, error = %error, "processing failed after retries")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(user: &str, document: &str) -> Job {
        Job {
            key: format!("documents/{user}/{document}/file.pdf"),
            size: 1,
        }
    }

    #[test]
    fn users_take_turns_and_run_one_job_each() {
        // GIVEN a user with three uploads queued before another user's one
        let queue = ProcessingQueue::default();
        for document in ["a1", "a2", "a3"] {
            queue.push(job("alice", document));
        }
        queue.push(job("bob", "b1"));
        // WHEN jobs are taken THEN Bob's comes second, not fourth
        let (first, _) = queue.next().unwrap();
        let (second, second_job) = queue.next().unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("alice", "bob"));
        assert_eq!(second_job, job("bob", "b1"));
        // AND Alice's next job waits until her first is done
        assert!(queue.next().is_none());
        queue.finished("alice");
        assert_eq!(queue.next().unwrap().1, job("alice", "a2"));
    }
}
