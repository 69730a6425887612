//! Password hashing with argon2id, bounded: each hash takes ~19 MB and a core
//! for a moment, so only a few run at once, a few more may wait, and the rest
//! are told to come back — a flood of logins cannot exhaust memory or starve
//! other requests of CPU.

use std::sync::Arc;

use anyhow::Context as _;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Seconds a client is asked to wait when every hashing slot is taken.
const BUSY_RETRY_AFTER_SECONDS: u64 = 1;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    /// Hashing runs on a few threads of its own, not on tokio's blocking pool:
    /// each hash allocates ~19 MB, and spread over dozens of pool threads the
    /// allocator keeps a freed block per thread (peak RSS ran past 1 GB under a
    /// login flood); on `concurrent` threads it stays at `concurrent` blocks.
    /// Started on the first hash, so a cold start spawns nothing.
    jobs: Arc<std::sync::OnceLock<std::sync::mpsc::Sender<Job>>>,
    concurrent: usize,
    /// Running plus waiting: past this, requests are refused at once.
    admitted: Arc<Semaphore>,
}

impl PasswordHasher {
    pub fn new(concurrent: usize, waiting: usize) -> Self {
        PasswordHasher {
            jobs: Arc::default(),
            concurrent: concurrent.max(1),
            admitted: Arc::new(Semaphore::new(concurrent.max(1) + waiting)),
        }
    }

    /// The hashing threads' queue, starting them the first time.
    fn jobs(&self) -> &std::sync::mpsc::Sender<Job> {
        self.jobs.get_or_init(|| {
            let (jobs, queue) = std::sync::mpsc::channel::<Job>();
            let queue = Arc::new(std::sync::Mutex::new(queue));
            for index in 0..self.concurrent {
                let queue = queue.clone();
                std::thread::Builder::new()
                    .name(format!("password-hashing-{index}"))
                    .spawn(move || loop {
                        // The lock is held only to take the next job; ends with the last sender.
                        let next = queue.lock().map(|queue| queue.recv());
                        match next {
                            // A panicking job must not take the thread with it; its asker
                            // sees the dropped reply as an internal error.
                            Ok(Ok(job)) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            _ => break,
                        }
                    })
                    .expect("starting a password hashing thread");
            }
            jobs
        })
    }

    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T> {
        let _admitted =
            self.admitted
                .clone()
                .try_acquire_owned()
                .map_err(|_| Error::RateLimited {
                    message: "the server is busy checking passwords; try again in a moment".into(),
                    retry_after: BUSY_RETRY_AFTER_SECONDS,
                })?;
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs()
            .send(Box::new(move || {
                // The asker may have gone (a dropped request); nobody to tell then.
                let _ = done.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the password hashing threads have stopped"))?;
        result
            .await
            .context("password hashing task")?
            .map_err(Error::from)
    }

    /// An argon2id PHC string for `password`, with a fresh salt.
    pub async fn hash(&self, password: String) -> Result<String> {
        self.bounded(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| anyhow::anyhow!("hashing a password failed: {error}"))
        })
        .await
    }

    pub async fn verify(&self, password: String, hash: String) -> Result<bool> {
        self.bounded(move || {
            let parsed = PasswordHash::new(&hash)
                .map_err(|error| anyhow::anyhow!("stored password hash is malformed: {error}"))?;
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hasher = PasswordHasher::new(2, 2);
        let hash = hasher.hash("Correct1horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(hasher
            .verify("Correct1horse".into(), hash.clone())
            .await
            .unwrap());
        assert!(!hasher.verify("Wrong1horse".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn a_flood_of_hashes_is_refused_past_the_waiting_room() {
        // GIVEN one slot and one waiting place
        let hasher = PasswordHasher::new(1, 1);
        // WHEN ten hashes are asked for at once
        let attempts: Vec<_> = (0..10)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash("Correct1horse".into()).await })
            })
            .collect();
        let mut refused = 0;
        for attempt in attempts {
            if let Err(Error::RateLimited { retry_after, .. }) = attempt.await.unwrap() {
                assert!(retry_after > 0);
                refused += 1;
            }
        }
        // THEN two are computed and the rest are told to retry
        assert_eq!(refused, 8);
    }
}
