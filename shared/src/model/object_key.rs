//! Where a document's file lives: `documents/{userId}/{documentId}/{safe name}`.
//! The document service writes keys and the processing service reads the
//! owner and document back from an S3 event's key: the layout is vocabulary
//! both share.

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

use super::{DocumentId, UserId};

/// The object key of a document.
pub fn object_key(user_id: &UserId, document_id: &DocumentId, file_name: &str) -> String {
    format!(
        "documents/{user_id}/{document_id}/{}",
        safe_file_name(file_name)
    )
}

/// The owner and document of an object key, if it has the documents layout
/// (the layout is askdocs' own: what it names are ids askdocs wrote there).
pub fn parse_object_key(key: &str) -> Option<(UserId, DocumentId)> {
    let mut parts = key.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("documents"), Some(user), Some(document), Some(name), None)
            if !user.is_empty() && !document.is_empty() && !name.is_empty() =>
        {
            Some((UserId::new(user), DocumentId::new(document)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_parse_back_to_owner_and_document() {
        let (user, document) = (UserId::new("user-1"), DocumentId::new("doc-1"));
        let key = object_key(&user, &document, "a b.pdf");
        assert_eq!(key, "documents/user-1/doc-1/a_b.pdf");
        assert_eq!(parse_object_key(&key), Some((user, document)));
        assert_eq!(parse_object_key("uploads/user-1/doc-1/a.pdf"), None);
        assert_eq!(parse_object_key("documents/user-1/a.pdf"), None);
        assert_eq!(parse_object_key("documents/u/d/x/y.pdf"), None);
    }

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
