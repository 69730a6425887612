//! Where a document's file lives: `documents/{userId}/{documentId}/{safe name}`.
//! The processing function reads the owner and document back from the key of
//! an S3 event, so this layout is shared by both.

use super::file_names::safe_file_name;

/// The object key of a document.
pub fn object_key(user_id: &str, document_id: &str, file_name: &str) -> String {
    format!(
        "documents/{user_id}/{document_id}/{}",
        safe_file_name(file_name)
    )
}

/// The owner and document of an object key, if it has the documents layout.
pub fn parse_object_key(key: &str) -> Option<(&str, &str)> {
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
            Some((user, document))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_parse_back_to_owner_and_document() {
        let key = object_key("user-1", "doc-1", "a b.pdf");
        assert_eq!(key, "documents/user-1/doc-1/a_b.pdf");
        assert_eq!(parse_object_key(&key), Some(("user-1", "doc-1")));
        assert_eq!(parse_object_key("uploads/user-1/doc-1/a.pdf"), None);
        assert_eq!(parse_object_key("documents/user-1/a.pdf"), None);
        assert_eq!(parse_object_key("documents/u/d/x/y.pdf"), None);
    }
}
