//! File names as uploaders give them, checked, and made safe for object keys.

use crate::error::{Error, Result};

const MAX_FILE_NAME_CHARS: usize = 255;
const MAX_SAFE_NAME_CHARS: usize = 100;

/// A file name safe in any URL, shell or file system: ASCII letters, digits,
/// `.`, `-` and `_`, at most 100 characters, keeping the extension.
pub fn safe_file_name(file_name: &str) -> String {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim();
    let (stem, extension) = match base.rsplit_once('.') {
        Some((stem, extension))
            if !extension.is_empty()
                && extension.len() <= 10
                && extension.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (stem, format!(".{extension}"))
        }
        _ => (base, String::new()),
    };
    let mut safe = String::with_capacity(stem.len());
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
            c
        } else {
            '_'
        };
        if !(c == '_' && safe.ends_with('_')) {
            safe.push(c);
        }
    }
    let safe = safe.trim_matches(|c| c == '_' || c == '.');
    let stem: String = safe
        .chars()
        .take(MAX_SAFE_NAME_CHARS - extension.len())
        .collect();
    let stem = if stem.is_empty() {
        "document".to_string()
    } else {
        stem
    };
    format!("{stem}{extension}")
}

pub fn validate_file_name(file_name: &str) -> Result<String> {
    let name = file_name.trim();
    if name.is_empty() {
        return Err(Error::Validation("fileName is required".into()));
    }
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(Error::Validation(format!(
            "fileName must be at most {MAX_FILE_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Validation(
            "fileName must not contain control characters".into(),
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_safe_keys() {
        assert_eq!(
            safe_file_name("Annual Report, 2026.pdf"),
            "Annual_Report_2026.pdf"
        );
        assert_eq!(
            safe_file_name("Überblick über Verträge.docx"),
            "berblick_ber_Vertr_ge.docx"
        );
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\Users\\me\\notes.txt"), "notes.txt");
        assert_eq!(safe_file_name("日本語.md"), "document.md");
        assert_eq!(safe_file_name(".hidden"), "document.hidden");
        assert_eq!(safe_file_name("my_notes (v2).txt"), "my_notes_v2.txt");
        let long = format!("{}.csv", "x".repeat(300));
        assert_eq!(safe_file_name(&long).len(), 100);
        assert!(safe_file_name(&long).ends_with(".csv"));
    }
}
