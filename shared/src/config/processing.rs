//! Document processing: passage size, the extraction sandbox's limits, and
//! how long a run may take.

use std::time::Duration;

use super::backend::Backend;
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

/// What reads pages that are pictures of text (scans, photos).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcrEngine {
    /// tesseract (and poppler's pdftoppm for PDF pages), run by the
    /// sandboxed extract worker: the embedded backend's default.
    Tesseract,
    /// Amazon Textract: the AWS backend's default.
    Textract,
    /// Nobody: scanned pages are left unread (and say so).
    Off,
}

/// `ASKDOCS_OCR_LANGUAGES`: tesseract's language list (`eng`, `eng+deu`),
/// kept inline so the settings stay `Copy`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OcrLanguages {
    bytes: [u8; 64],
    len: u8,
}

impl OcrLanguages {
    /// Letters, digits and `_` names joined by `+`; at most 64 characters.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text.split('+').all(|name| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid {
            return None;
        }
        let mut bytes = [0u8; 64];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(OcrLanguages {
            bytes,
            len: text.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("checked ASCII")
    }
}

impl std::fmt::Debug for OcrLanguages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcrSettings {
    /// `ASKDOCS_OCR`: `tesseract`, `textract` or `off`.
    pub engine: OcrEngine,
    pub languages: OcrLanguages,
    /// `ASKDOCS_OCR_MAX_PAGES`: a document with more pages to read by OCR
    /// fails with that reason, before any is read.
    pub max_pages: u32,
    /// `ASKDOCS_OCR_DPI`: the resolution PDF pages are rendered at for tesseract.
    pub dpi: u32,
}

impl Default for OcrSettings {
    fn default() -> Self {
        OcrSettings {
            engine: OcrEngine::Tesseract,
            languages: OcrLanguages::parse("eng").expect("valid"),
            max_pages: 200,
            dpi: 300,
        }
    }
}

impl OcrSettings {
    fn from_env(env: &Env, backend: &Backend) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let engine = match env.choice("ASKDOCS_OCR", &["tesseract", "textract", "off"])? {
            Some("tesseract") => OcrEngine::Tesseract,
            Some("textract") => OcrEngine::Textract,
            Some(_) => OcrEngine::Off,
            None if matches!(backend, Backend::Aws(_)) => OcrEngine::Textract,
            None => OcrEngine::Tesseract,
        };
        let languages = match env.text("ASKDOCS_OCR_LANGUAGES") {
            None => defaults.languages,
            Some(text) => OcrLanguages::parse(&text).ok_or_else(|| {
                ConfigError::new(
                    "ASKDOCS_OCR_LANGUAGES",
                    format!(
                        "must be tesseract language names joined by + (e.g. eng+deu), not `{text}`"
                    ),
                )
            })?,
        };
        Ok(OcrSettings {
            engine,
            languages,
            max_pages: env.number("ASKDOCS_OCR_MAX_PAGES", defaults.max_pages.into(), 1..=2000)?
                as u32,
            dpi: env.number("ASKDOCS_OCR_DPI", defaults.dpi.into(), 100..=600)? as u32,
        })
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
    /// Reading scanned pages and images.
    pub ocr: OcrSettings,
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
            ocr: OcrSettings::default(),
        }
    }
}

impl ProcessingSettings {
    pub fn from_env(
        env: &Env,
        documents: &DocumentSettings,
        backend: &Backend,
    ) -> Result<Self, ConfigError> {
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
            ocr: OcrSettings::from_env(env, backend)?,
            ..defaults
        })
    }
}
