//! Text extraction: from an uploaded file's bytes to pages of plain text.
//! askdocs' readers of PDF (its own content-stream reader, pdf-extract as
//! the fallback), DOCX, HTML, plain text, Markdown and CSV, as a crate of
//! their own: they need nothing of askdocs, and askdocs runs them in a
//! sandboxed child process (`shared/src/processing/sandbox.rs`).
//!
//! The format is detected from the bytes, with the declared type only breaking
//! ties between plain-text formats, so a binary named `.txt` or a renamed ZIP is
//! refused with a reason a person understands. Every failure here is permanent:
//! retrying the same bytes cannot help.
//!
//! Without the `readers` feature the crate is only its vocabulary
//! ([`Format`], [`Page`]); `testing` adds hostile files and the stable fuzz
//! harness.

mod format;
#[cfg(feature = "readers")]
mod html;
#[cfg(feature = "readers")]
pub mod image;
#[cfg(feature = "readers")]
mod pdf;
#[cfg(feature = "readers")]
mod terminal;
#[cfg(feature = "testing")]
pub mod testing;

pub use format::{Format, DOCX_CONTENT_TYPE};

/// One page of extracted text; numbers start at 1.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub number: u32,
    pub text: String,
}

#[cfg(feature = "readers")]
mod readers;
#[cfg(feature = "readers")]
pub use readers::*;
