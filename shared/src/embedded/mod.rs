//! Adapters for one machine: everything under a single data directory.

pub mod documents;
pub mod extractive;
pub mod history;
pub mod index;
pub mod minilm;
pub mod objects;
pub mod openai_chat;
pub mod sqlite;

pub use documents::SqliteDocumentStore;
pub use extractive::ExtractiveAnswerer;
pub use history::SqliteHistoryStore;
pub use index::SqliteVectorIndex;
pub use minilm::MiniLmEmbedder;
pub use objects::{object_routes, FsObjectStore, ObjectCreated};
pub use openai_chat::{ChatSettings, OpenAiChatGenerator};
pub use sqlite::{SqliteDb, SqliteTokenStore, SqliteUserStore};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[tokio::test]
    async fn sqlite_document_store_passes_the_shared_suite() {
        testing::document_store_contract(&SqliteDocumentStore::new(SqliteDb::in_memory().unwrap()))
            .await;
    }

    #[tokio::test]
    async fn sqlite_history_store_passes_the_shared_suite() {
        testing::history_store_contract(&SqliteHistoryStore::new(SqliteDb::in_memory().unwrap()))
            .await;
    }

    #[tokio::test]
    async fn sqlite_vector_index_passes_the_shared_suite() {
        testing::vector_index_contract(&SqliteVectorIndex::new(SqliteDb::in_memory().unwrap()))
            .await;
    }
}
