//! Adapters for one machine: files, SQLite and the in-process index under a
//! single private data directory (feature `embedded`); the local embedding
//! model (`local-model`); an OpenAI-compatible chat server (`openai`). One
//! machine's I/O only: the extractive answerer is an algorithm and lives in
//! `query::answer`.

#[cfg(feature = "embedded")]
pub mod documents;
#[cfg(feature = "embedded")]
pub mod history;
#[cfg(feature = "embedded")]
pub mod index;
#[cfg(feature = "embedded")]
mod library;
#[cfg(feature = "local-model")]
pub mod minilm;
#[cfg(feature = "embedded")]
pub mod objects;
#[cfg(feature = "openai")]
pub mod openai_chat;
#[cfg(feature = "embedded")]
pub mod secret;
#[cfg(feature = "embedded")]
pub mod sqlite;

#[cfg(feature = "embedded")]
pub use documents::SqliteDocumentStore;
#[cfg(feature = "embedded")]
pub use history::SqliteHistoryStore;
#[cfg(feature = "embedded")]
pub use index::SqliteVectorIndex;
#[cfg(feature = "local-model")]
pub use minilm::MiniLmEmbedder;
#[cfg(feature = "embedded")]
pub use objects::{FsObjectStore, ObjectCreated};
#[cfg(feature = "openai")]
pub use openai_chat::OpenAiChatGenerator;
#[cfg(feature = "embedded")]
pub use secret::DataDirSecret;
#[cfg(feature = "embedded")]
pub use sqlite::{SqliteDb, SqliteTokenStore, SqliteUserStore};

/// Makes `dir` (and its parents) if needed, readable by its owner only, and
/// has every file this process makes from now on private too (umask 077): the
/// database, its journal, uploaded files and the signing secret hold other
/// people's data whatever umask the user runs with.
#[cfg(feature = "embedded")]
pub fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    // SAFETY: umask only changes the process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    Ok(())
}

#[cfg(all(test, feature = "embedded"))]
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

    #[test]
    fn the_data_directory_is_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt as _;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        // SAFETY: as in private_dir.
        unsafe {
            libc::umask(0o022);
        }
        private_dir(&dir).unwrap();
        let db = SqliteDb::open(&dir.join("askdocs.db")).unwrap();
        drop(db);
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("askdocs.db")), 0o600);
    }
}
