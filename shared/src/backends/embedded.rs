//! One machine: files, SQLite and the in-process index under one private
//! data directory.

use std::path::Path;
use std::sync::Arc;

use super::Wiring;
use crate::config::Config;
use crate::embedded::{
    FsObjectStore, SqliteDb, SqliteDocumentStore, SqliteHistoryStore, SqliteTokenStore,
    SqliteUserStore, SqliteVectorIndex,
};
use crate::ports::{DocumentStore, HistoryStore, ObjectStore, TokenStore, UserStore, VectorIndex};

pub(super) struct Embedded {
    sqlite: SqliteDb,
    objects: Arc<FsObjectStore>,
    /// One index per process: it keeps the owners' vectors in memory.
    index: Arc<SqliteVectorIndex>,
}

impl Embedded {
    /// Opens (or makes) the data directory; the object store's URLs are
    /// signed with a key derived from the token secret.
    pub(super) async fn open(config: &Config, data_dir: &Path) -> anyhow::Result<Self> {
        crate::embedded::private_dir(data_dir)?;
        let sqlite = SqliteDb::open(&data_dir.join("askdocs.db"))?;
        let secret = super::configured_signing_secret(config)?.load().await?;
        let objects = Arc::new(FsObjectStore::new(
            data_dir.join("objects"),
            derive_key(&secret, b"askdocs local object URLs"),
        ));
        if let Some(url) = &config.public_url {
            objects.set_public_url(url);
        }
        let index = Arc::new(SqliteVectorIndex::new(sqlite.clone()));
        Ok(Embedded {
            sqlite,
            objects,
            index,
        })
    }
}

impl Wiring for Embedded {
    fn user_store(&self) -> Arc<dyn UserStore> {
        Arc::new(SqliteUserStore::new(self.sqlite.clone()))
    }

    fn token_store(&self) -> Arc<dyn TokenStore> {
        Arc::new(SqliteTokenStore::new(self.sqlite.clone()))
    }

    fn document_store(&self) -> Arc<dyn DocumentStore> {
        Arc::new(SqliteDocumentStore::new(self.sqlite.clone()))
    }

    fn history_store(&self) -> Arc<dyn HistoryStore> {
        Arc::new(SqliteHistoryStore::new(self.sqlite.clone()))
    }

    fn object_store(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        Ok(self.objects.clone())
    }

    fn vector_index(&self) -> anyhow::Result<Arc<dyn VectorIndex>> {
        Ok(self.index.clone())
    }

    fn local_objects(&self) -> Option<Arc<FsObjectStore>> {
        Some(self.objects.clone())
    }
}

/// A key for another purpose, derived from the main secret so one secret is enough.
fn derive_key(secret: &[u8], purpose: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().to_vec()
}
