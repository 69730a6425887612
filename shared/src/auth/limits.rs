//! Failed-login limits, per email and per client address, over a sliding
//! window. They live in the process's memory: one server locally; in AWS one
//! per warm Lambda container, which is why API Gateway also throttles the
//! login route (template.yaml).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LoginLimits;
use crate::error::{Error, Result};

/// Entries kept at most per map; the oldest are dropped beyond it, so a
/// flood of made-up emails cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

pub struct FailedLogins {
    limits: LoginLimits,
    by_email: Mutex<HashMap<String, Vec<Instant>>>,
    by_client: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl FailedLogins {
    pub fn new(limits: LoginLimits) -> Self {
        FailedLogins {
            limits,
            by_email: Mutex::new(HashMap::new()),
            by_client: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses the attempt if this email or client failed too often lately.
    pub fn check(&self, email: &str, client: Option<IpAddr>) -> Result<()> {
        let now = Instant::now();
        let email_wait = wait(
            &self.by_email,
            email,
            self.limits.failures_per_email,
            self.limits.window,
            now,
        );
        let client_wait = client.and_then(|client| {
            wait(
                &self.by_client,
                &client,
                self.limits.failures_per_client,
                self.limits.window,
                now,
            )
        });
        match email_wait.max(client_wait) {
            Some(retry_after) => Err(Error::RateLimited {
                message: "too many failed logins; try again later".into(),
                retry_after: retry_after.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, email: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        record(&self.by_email, email.to_string(), self.limits.window, now);
        if let Some(client) = client {
            record(&self.by_client, client, self.limits.window, now);
        }
    }

    /// A successful login forgets the email's failures (not the client's).
    pub fn record_success(&self, email: &str) {
        self.by_email.lock().expect("limits lock").remove(email);
    }
}

fn wait<K: std::hash::Hash + Eq + ?Sized, Q: std::hash::Hash + Eq + std::borrow::Borrow<K>>(
    map: &Mutex<HashMap<Q, Vec<Instant>>>,
    key: &K,
    allowed: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    let map = map.lock().expect("limits lock");
    let failures = map.get(key)?;
    let recent: Vec<&Instant> = failures
        .iter()
        .filter(|at| now.duration_since(**at) < window)
        .collect();
    if recent.len() < allowed as usize {
        return None;
    }
    // Free again when the oldest failure that counts leaves the window.
    let oldest = recent[recent.len() - allowed as usize];
    Some(window.saturating_sub(now.duration_since(*oldest)))
}

fn record<K: std::hash::Hash + Eq + Clone>(
    map: &Mutex<HashMap<K, Vec<Instant>>>,
    key: K,
    window: Duration,
    now: Instant,
) {
    let mut map = map.lock().expect("limits lock");
    if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
        map.retain(|_, failures| {
            failures.retain(|at| now.duration_since(*at) < window);
            !failures.is_empty()
        });
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
    let failures = map.entry(key).or_default();
    failures.retain(|at| now.duration_since(*at) < window);
    failures.push(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits {
            failures_per_email: 3,
            failures_per_client: 5,
            ..LoginLimits::default()
        }
    }

    #[test]
    fn an_email_is_locked_after_its_failures_and_freed_by_a_success() {
        let failed = FailedLogins::new(limits());
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..3 {
            failed.check("ada@example.com", Some(client)).unwrap();
            failed.record_failure("ada@example.com", Some(client));
        }
        let error = failed.check("ada@example.com", None).unwrap_err();
        assert!(matches!(error, Error::RateLimited { retry_after, .. } if retry_after > 800));
        assert!(failed.check("bob@example.com", None).is_ok());
        failed.record_success("ada@example.com");
        assert!(failed.check("ada@example.com", None).is_ok());
    }

    #[test]
    fn a_client_is_locked_whatever_emails_it_tries() {
        let failed = FailedLogins::new(limits());
        let client: IpAddr = "198.51.100.1".parse().unwrap();
        for index in 0..5 {
            failed.record_failure(&format!("user{index}@example.com"), Some(client));
        }
        assert!(failed.check("new@example.com", Some(client)).is_err());
        assert!(failed
            .check("new@example.com", Some("198.51.100.2".parse().unwrap()))
            .is_ok());
    }
}
