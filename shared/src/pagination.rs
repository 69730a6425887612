//! Newest-first listings in pages: the opaque cursor a client passes back,
//! and the page size it may ask for. Documents and history page alike.

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::model::{ListPosition, Page};

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;
/// Every cursor is 24 bytes — the position's time in milliseconds and its id
/// — in unpadded base64url: 32 characters from `[A-Za-z0-9_-]`.
const CURSOR_CHARS: usize = 32;

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
    let millis = chrono::DateTime::parse_from_rfc3339(&position.at)
        .map(|at| at.timestamp_millis())
        .unwrap_or(0);
    let id = uuid::Uuid::try_parse(&position.id).unwrap_or_default();
    let mut bytes = Vec::with_capacity(24);
    bytes.extend_from_slice(&millis.to_be_bytes());
    bytes.extend_from_slice(id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A cursor of this API's shape. Any 32 characters of the alphabet decode to
/// some position (a time, clamped to years 1970–9999, and an id), so a
/// cursor can never carry anything a store would choke on.
pub fn decode_cursor(cursor: &str) -> Result<ListPosition> {
    let invalid = || {
        Error::InvalidRequest("cursor is not valid; use the nextCursor of a previous page".into())
    };
    if cursor.len() != CURSOR_CHARS {
        return Err(invalid());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let (millis, id) = bytes.split_at(8);
    let millis = i64::from_be_bytes(millis.try_into().map_err(|_| invalid())?);
    const LAST_MILLIS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let at = chrono::DateTime::from_timestamp_millis(millis.clamp(0, LAST_MILLIS))
        .ok_or_else(invalid)?;
    let id = uuid::Uuid::from_slice(id).map_err(|_| invalid())?;
    Ok(ListPosition {
        at: crate::model::timestamp(at),
        id: id.to_string(),
    })
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
            at: "2026-01-01T00:00:00.123Z".into(),
            id: "0c8f6a52-3b1d-4e7f-9a2b-5c6d7e8f9a0b".into(),
        };
        let cursor = encode_cursor(&position);
        assert_eq!(cursor.len(), 32);
        assert!(cursor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(decode_cursor(&cursor).unwrap(), position);
        for cursor in [
            "not a cursor!".to_string(),
            String::new(),
            "A".repeat(2000),
            "A".repeat(31),
            "=".repeat(32),
        ] {
            assert!(
                matches!(decode_cursor(&cursor), Err(Error::InvalidRequest(_))),
                "{cursor:.60}"
            );
        }
        // Any cursor of the right shape is some position, never an error from a store.
        let odd = decode_cursor(&"_".repeat(32)).unwrap();
        assert!(
            odd.at.starts_with("1970-01-01") || odd.at.starts_with("9999"),
            "{odd:?}"
        );
        assert!(page_size(Some(0)).is_err() && page_size(Some(101)).is_err());
        assert_eq!(page_size(None).unwrap(), 20);
    }
}
