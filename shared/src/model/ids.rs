//! The ids that travel together — whose, which document, which conversation —
//! as types of their own, so a port given a document id where it wants the
//! owner's is a compile error, not a search of the wrong scope.
//!
//! Parse, don't validate: text from a request becomes an id once, at the
//! edge ([`DocumentId::parse`], [`ConversationId::parse`]; a user id only
//! ever comes from a verified token), and nothing past it checks again.
//! [`UserId::new`] and its kin wrap text that is already known to be an id:
//! read from a store, or made by askdocs. On the wire each is its plain
//! string.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Text already known to be such an id (read from a store, made
            /// by askdocs). Text from a request goes through `parse`.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        /// As [`Self::new`]: text already known to be such an id.
        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        /// As [`Self::new`]: text already known to be such an id.
        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }
    };
}

id_type!(
    /// An account: its id, as a verified token's subject carries it.
    UserId
);

id_type!(
    /// A document, always addressed through its owner.
    DocumentId
);

id_type!(
    /// A thread of questions and answers.
    ConversationId
);

/// Whether `text` is a UUID in its usual text form, as askdocs makes ids.
fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

impl UserId {
    /// A fresh account id.
    pub fn generate() -> Self {
        UserId(uuid::Uuid::new_v4().to_string())
    }
}

impl DocumentId {
    /// A fresh document id.
    pub fn generate() -> Self {
        DocumentId(uuid::Uuid::new_v4().to_string())
    }

    /// `text` as a document id, if it can be one askdocs made (a UUID).
    /// Anything else names no document, of this caller or any other.
    pub fn parse(text: &str) -> Option<Self> {
        is_uuid(text).then(|| DocumentId(text.to_string()))
    }
}

impl ConversationId {
    /// A fresh conversation id.
    pub fn generate() -> Self {
        ConversationId(uuid::Uuid::new_v4().to_string())
    }

    /// `text` as a conversation id: 1 to 100 letters, digits, `-` or `_`
    /// (a client may name its own threads).
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= 100
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        valid.then(|| ConversationId(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_parsed_once_from_request_text() {
        let made = DocumentId::generate();
        assert_eq!(DocumentId::parse(made.as_str()), Some(made.clone()));
        assert_eq!(DocumentId::parse("not-an-id"), None);
        assert!(DocumentId::parse(&made.to_uppercase()).is_some());
        assert!(ConversationId::parse("abc-123_X").is_some());
        assert!(ConversationId::parse("has space").is_none());
        assert!(ConversationId::parse("").is_none());
        assert!(ConversationId::parse(&"x".repeat(101)).is_none());
    }

    #[test]
    fn on_the_wire_an_id_is_its_string() {
        let id = DocumentId::new("d1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"d1\"");
        assert_eq!(serde_json::from_str::<DocumentId>("\"d1\"").unwrap(), id);
        assert_eq!(id, "d1");
        assert_eq!(format!("{id}"), "d1");
    }
}
