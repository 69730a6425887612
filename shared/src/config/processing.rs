//! Document processing: passage size, the extraction sandbox's limits, and
//! how long a run may take.

use std::time::Duration;

use super::documents::DocumentSettings;
use super::env::{ConfigError, Env};
use super::seconds;

const MB: u64 = 1024 * 1024;

/// Chunk size and overlap, in characters (about four to a token in English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    pub max_chars: usize,
    pub overlap_chars: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        // ~250 tokens: inside MiniLM's 256-token window for most English prose,
        // so the whole passage is embedded, and long enough to answer from.
        ChunkSettings {
            max_chars: 1000,
            overlap_chars: 150,
        }
    }
}

/// Hard limits of the child process that parses a user's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Wall-clock time, enforced by the parent (CPU time is limited to the same).
    pub timeout: Duration,
    /// Address space of the child.
    pub memory_bytes: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        // Fits a 2 GB Lambda (the function itself keeps the rest) and a 2-core laptop.
        ExtractLimits {
            timeout: Duration::from_secs(60),
            memory_bytes: 1024 * MB,
        }
    }
}

/// How long after its URL expires an upload may still be finishing: S3
/// checks a presigned URL when the PUT starts, and 50 MB on a slow line takes
/// minutes.
const UPLOAD_GRACE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingSettings {
    pub chunks: ChunkSettings,
    pub max_upload_bytes: u64,
    pub extract: ExtractLimits,
    /// Texts per call to the embedder.
    pub embed_batch: usize,
    /// A run still `processing` after this long has died (Lambda's limit is 15 min).
    pub stale_after: Duration,
    /// Passages one document may have: bounds the work (and time) of one run.
    pub max_chunks: usize,
    /// An `uploading` document whose file has not arrived this long after its
    /// upload URL was issued is failed by the sweep: the URL's lifetime, and a
    /// moment for a PUT that started just before it expired.
    pub abandon_upload_after: Duration,
    /// A `pending` document (its file arrived) not processed this long after
    /// it was recorded lost its event; the sweep fails it.
    pub abandon_pending_after: Duration,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        ProcessingSettings {
            chunks: ChunkSettings::default(),
            max_upload_bytes: 50 * MB,
            extract: ExtractLimits::default(),
            embed_batch: 32,
            stale_after: Duration::from_secs(15 * 60),
            max_chunks: 5_000,
            abandon_upload_after: Duration::from_secs(20 * 60),
            abandon_pending_after: Duration::from_secs(2 * 60 * 60),
        }
    }
}

impl ProcessingSettings {
    pub fn from_env(env: &Env, documents: &DocumentSettings) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let max_chars = env.number("ASKDOCS_CHUNK_SIZE", 1000, 200..=8000)? as usize;
        let overlap_chars = env.number("ASKDOCS_CHUNK_OVERLAP", 150, 0..=4000)? as usize;
        if overlap_chars * 2 > max_chars {
            return Err(ConfigError::new(
                "ASKDOCS_CHUNK_OVERLAP",
                "must be at most half of ASKDOCS_CHUNK_SIZE",
            ));
        }
        Ok(ProcessingSettings {
            chunks: ChunkSettings {
                max_chars,
                overlap_chars,
            },
            max_upload_bytes: documents.max_upload_bytes,
            abandon_upload_after: documents.upload_url_ttl + UPLOAD_GRACE,
            // An hour after its upload URL expired, a file is not coming.
            abandon_pending_after: documents.upload_url_ttl + Duration::from_secs(60 * 60),
            extract: ExtractLimits {
                timeout: seconds(env.number(
                    "ASKDOCS_EXTRACT_TIMEOUT_SECONDS",
                    defaults.extract.timeout.as_secs(),
                    1..=900,
                )?),
                memory_bytes: env.number(
                    "ASKDOCS_EXTRACT_MEMORY_MB",
                    defaults.extract.memory_bytes / MB,
                    64..=16 * 1024,
                )? * MB,
            },
            ..defaults
        })
    }
}
