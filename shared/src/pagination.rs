//! Newest-first listings in pages: the opaque cursor a client passes back,
//! and the page size it may ask for. Documents and history page alike.

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::model::{ListPosition, Page};

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
/// Far longer than any cursor we issue; anything longer is not one of ours.
const MAX_CURSOR_CHARS: usize = 512;

/// One page of a listing as a client sees it: the items and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for Listing<T> {
    fn from(page: Page<T>) -> Self {
        Listing {
            next_cursor: page.next.as_ref().map(encode_cursor),
            items: page.items,
        }
    }
}

pub fn encode_cursor(position: &ListPosition) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(position).expect("serializable"))
}

/// A cursor this API issued, checked before it can reach a store: its time must
/// be one of our timestamps and its id one of our ids.
pub fn decode_cursor(cursor: &str) -> Result<ListPosition> {
    let invalid = || {
        Error::InvalidRequest("cursor is not valid; use the nextCursor of a previous page".into())
    };
    if cursor.is_empty() || cursor.len() > MAX_CURSOR_CHARS {
        return Err(invalid());
    }
    let position: ListPosition = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(invalid)?;
    let time_ok =
        position.at.len() <= 40 && chrono::DateTime::parse_from_rfc3339(&position.at).is_ok();
    if !time_ok || !is_id(&position.id) {
        return Err(invalid());
    }
    Ok(position)
}

/// Whether `text` can be an id this API made (a UUID, in its usual text form).
pub fn is_id(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

/// Checks a `limit` query parameter against 1..=max.
pub fn page_size(limit: Option<usize>) -> Result<usize> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => Ok(limit),
        Some(_) => Err(Error::Validation(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let position = ListPosition {
            at: "2026-01-01T00:00:00.000Z".into(),
            id: "0c8f6a52-3b1d-4e7f-9a2b-5c6d7e8f9a0b".into(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&position)).unwrap(), position);
        let forged = |at: &str, id: &str| {
            encode_cursor(&ListPosition {
                at: at.into(),
                id: id.into(),
            })
        };
        for cursor in [
            "not a cursor!".to_string(),
            String::new(),
            "A".repeat(2000),
            forged("yesterday", "0c8f6a52-3b1d-4e7f-9a2b-5c6d7e8f9a0b"),
            forged("2026-01-01T00:00:00.000Z", ""),
            forged("2026-01-01T00:00:00.000Z", &"x".repeat(2000)),
        ] {
            assert!(
                matches!(decode_cursor(&cursor), Err(Error::InvalidRequest(_))),
                "{cursor:.60}"
            );
        }
        assert!(page_size(Some(0)).is_err() && page_size(Some(101)).is_err());
        assert_eq!(page_size(None).unwrap(), 20);
    }
}
