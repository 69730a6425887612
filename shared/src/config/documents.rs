//! Limits and lifetimes for uploads and downloads.

use std::time::Duration;

use super::env::{ConfigError, Env};
use super::seconds;

const MB: u64 = 1024 * 1024;

/// What one account may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub documents: u64,
    pub bytes: u64,
}

impl Quota {
    /// No limit that a test or a single machine's own tools would reach.
    pub const UNLIMITED: Quota = Quota {
        documents: u64::MAX / 2,
        bytes: u64::MAX / 2,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSettings {
    pub max_upload_bytes: u64,
    pub max_direct_upload_bytes: u64,
    pub upload_url_ttl: Duration,
    pub download_url_ttl: Duration,
    /// What one account may store: documents, and bytes of them (an open
    /// upload URL reserves its size).
    pub quota: Quota,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        DocumentSettings {
            max_upload_bytes: 50 * MB,
            max_direct_upload_bytes: 5 * MB,
            upload_url_ttl: Duration::from_secs(15 * 60),
            download_url_ttl: Duration::from_secs(5 * 60),
            quota: Quota {
                documents: 1_000,
                bytes: 1024 * MB,
            },
        }
    }
}

impl DocumentSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let max_upload_bytes = env.number(
            "ASKDOCS_MAX_UPLOAD_BYTES",
            defaults.max_upload_bytes,
            1..=5 * 1024 * MB,
        )?;
        Ok(DocumentSettings {
            max_upload_bytes,
            max_direct_upload_bytes: env
                .number(
                    "ASKDOCS_MAX_DIRECT_UPLOAD_BYTES",
                    defaults.max_direct_upload_bytes,
                    1..=10 * MB,
                )?
                .min(max_upload_bytes),
            upload_url_ttl: seconds(env.number(
                "ASKDOCS_UPLOAD_URL_TTL_SECONDS",
                defaults.upload_url_ttl.as_secs(),
                60..=7 * 24 * 3600,
            )?),
            download_url_ttl: seconds(env.number(
                "ASKDOCS_DOWNLOAD_URL_TTL_SECONDS",
                defaults.download_url_ttl.as_secs(),
                60..=7 * 24 * 3600,
            )?),
            quota: Quota {
                documents: env.number(
                    "ASKDOCS_MAX_DOCUMENTS_PER_USER",
                    defaults.quota.documents,
                    1..=10_000_000,
                )?,
                bytes: env.number(
                    "ASKDOCS_MAX_BYTES_PER_USER",
                    defaults.quota.bytes,
                    MB..=u64::MAX / 2,
                )?,
            },
        })
    }
}
