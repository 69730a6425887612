//! The document formats askdocs accepts, and how a format is recognised from
//! a declared content type or a file name.

use serde::{Deserialize, Serialize};

/// The document formats askdocs accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Docx,
    Text,
    Markdown,
    Html,
    Csv,
    /// Images: their text is read by OCR.
    Png,
    Jpeg,
    Tiff,
}

pub const DOCX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Pdf,
        Format::Docx,
        Format::Text,
        Format::Markdown,
        Format::Html,
        Format::Csv,
        Format::Png,
        Format::Jpeg,
        Format::Tiff,
    ];

    /// A picture of text (a photo, a scan): only OCR reads it.
    pub fn is_image(self) -> bool {
        matches!(self, Format::Png | Format::Jpeg | Format::Tiff)
    }

    /// The canonical MIME type stored with the document.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Docx => DOCX_CONTENT_TYPE,
            Format::Text => "text/plain",
            Format::Markdown => "text/markdown",
            Format::Html => "text/html",
            Format::Csv => "text/csv",
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Tiff => "image/tiff",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Pdf => "PDF",
            Format::Docx => "DOCX",
            Format::Text => "text",
            Format::Markdown => "Markdown",
            Format::Html => "HTML",
            Format::Csv => "CSV",
            Format::Png => "PNG image",
            Format::Jpeg => "JPEG image",
            Format::Tiff => "TIFF image",
        }
    }

    /// From a MIME type, ignoring parameters such as `; charset=utf-8`.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/pdf" | "application/x-pdf" => Some(Format::Pdf),
            DOCX_CONTENT_TYPE => Some(Format::Docx),
            "text/plain" => Some(Format::Text),
            "text/markdown" | "text/x-markdown" => Some(Format::Markdown),
            "text/html" | "application/xhtml+xml" => Some(Format::Html),
            "text/csv" | "application/csv" => Some(Format::Csv),
            "image/png" => Some(Format::Png),
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Format::Jpeg),
            "image/tiff" | "image/tif" => Some(Format::Tiff),
            _ => None,
        }
    }

    /// From a file name's extension.
    pub fn from_file_name(file_name: &str) -> Option<Format> {
        let extension = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "pdf" => Some(Format::Pdf),
            "docx" => Some(Format::Docx),
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" => Some(Format::Html),
            "csv" => Some(Format::Csv),
            "png" => Some(Format::Png),
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "tif" | "tiff" => Some(Format::Tiff),
            _ => None,
        }
    }

    /// Whether a declared type says nothing about the format (so the name decides).
    pub fn is_generic_content_type(content_type: &str) -> bool {
        let ct = content_type.trim().to_ascii_lowercase();
        // curl's --data-binary says form-urlencoded unless told otherwise.
        ct.is_empty()
            || ct.starts_with("application/octet-stream")
            || ct.starts_with("binary/")
            || ct.starts_with("application/x-www-form-urlencoded")
    }

    /// The declared type when it is specific, else the file name's extension.
    pub fn resolve(content_type: Option<&str>, file_name: &str) -> Option<Format> {
        match content_type {
            Some(ct) if !Format::is_generic_content_type(ct) => Format::from_content_type(ct),
            _ => Format::from_file_name(file_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_specific_types_or_else_the_extension() {
        assert_eq!(
            Format::resolve(Some("application/pdf"), "x.bin"),
            Some(Format::Pdf)
        );
        assert_eq!(
            Format::resolve(Some("text/plain; charset=utf-8"), "x"),
            Some(Format::Text)
        );
        assert_eq!(
            Format::resolve(Some("application/octet-stream"), "Report.DOCX"),
            Some(Format::Docx)
        );
        assert_eq!(Format::resolve(None, "notes.md"), Some(Format::Markdown));
        assert_eq!(
            Format::resolve(Some("application/x-www-form-urlencoded"), "a.docx"),
            Some(Format::Docx)
        );
        assert_eq!(
            Format::resolve(Some("image/png"), "x.pdf"),
            Some(Format::Png)
        );
        assert_eq!(Format::resolve(None, "Photo.JPG"), Some(Format::Jpeg));
        assert_eq!(Format::resolve(Some("image/gif"), "x.gif"), None);
        assert_eq!(Format::resolve(None, "archive.zip"), None);
    }
}
