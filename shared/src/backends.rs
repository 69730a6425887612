//! Builds the adapters behind each port from [`Config`], once per cold start.
//!
//! A function asks only for the ports it uses, so the auth function never
//! pays for what document processing needs.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use hmac::Mac as _;

use crate::auth::{Accounts, Authenticator};
use crate::config::{Backend, Config, JwtSecretSource};
use crate::documents::Documents;
use crate::embedded::{
    ExtractiveAnswerer, FsObjectStore, MiniLmEmbedder, OpenAiChatGenerator, SqliteDb,
    SqliteDocumentStore, SqliteHistoryStore, SqliteTokenStore, SqliteUserStore, SqliteVectorIndex,
};
use crate::ingest::Processor;
use crate::ports::{
    DocumentStore, Embedder, Generator, HistoryStore, ObjectStore, TokenStore, UserStore,
    VectorIndex,
};
use crate::retrieve::Asker;

pub struct Backends {
    config: Config,
    sqlite: SqliteDb,
    objects: Arc<FsObjectStore>,
    embedder: OnceLock<Arc<MiniLmEmbedder>>,
}

impl Backends {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let sqlite = match &config.backend {
            Backend::Embedded { data_dir } => SqliteDb::open(&data_dir.join("askdocs.db"))?,
            Backend::Aws(_) => anyhow::bail!(
                "the AWS backend's DynamoDB adapters are not part of this build yet; \
                 set ASKDOCS_BACKEND=embedded"
            ),
        };
        let data_dir = config
            .data_dir()
            .expect("embedded backend has a data directory");
        let objects = Arc::new(FsObjectStore::new(
            data_dir.join("objects"),
            derive_key(&load_secret(config)?, b"askdocs local object URLs"),
        ));
        if let Some(url) = &config.public_url {
            objects.set_public_url(url);
        }
        Ok(Backends {
            config: config.clone(),
            sqlite,
            objects,
            embedder: OnceLock::new(),
        })
    }

    /// The local object store itself, for the routes that answer its signed URLs.
    pub fn local_objects(&self) -> Arc<FsObjectStore> {
        self.objects.clone()
    }

    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.objects.clone()
    }

    pub fn document_store(&self) -> Arc<dyn DocumentStore> {
        Arc::new(SqliteDocumentStore::new(self.sqlite.clone()))
    }

    pub fn vector_index(&self) -> Arc<dyn VectorIndex> {
        Arc::new(SqliteVectorIndex::new(self.sqlite.clone()))
    }

    /// The embedding model, loaded on first use and shared afterwards.
    pub fn embedder(&self) -> anyhow::Result<Arc<dyn Embedder>> {
        if let Some(embedder) = self.embedder.get() {
            return Ok(embedder.clone());
        }
        let loaded = Arc::new(MiniLmEmbedder::load(&self.config.model_dir)?);
        Ok(self.embedder.get_or_init(|| loaded).clone())
    }

    pub fn documents(&self) -> Arc<Documents> {
        Arc::new(Documents::new(
            self.document_store(),
            self.object_store(),
            self.vector_index(),
            self.config.documents,
        ))
    }

    pub fn history_store(&self) -> Arc<dyn HistoryStore> {
        Arc::new(SqliteHistoryStore::new(self.sqlite.clone()))
    }

    /// The configured chat endpoint, or the extractive answerer.
    pub fn generator(&self) -> anyhow::Result<Arc<dyn Generator>> {
        Ok(match &self.config.chat {
            Some(settings) => Arc::new(OpenAiChatGenerator::new(settings.clone())?),
            None => Arc::new(ExtractiveAnswerer::new(self.embedder()?)),
        })
    }

    pub fn asker(&self) -> anyhow::Result<Arc<Asker>> {
        Ok(Arc::new(Asker::new(
            self.document_store(),
            self.vector_index(),
            self.embedder()?,
            self.generator()?,
            self.history_store(),
            self.config.retrieval,
        )))
    }

    pub fn processor(&self) -> anyhow::Result<Arc<Processor>> {
        Ok(Arc::new(Processor::new(
            self.document_store(),
            self.object_store(),
            self.vector_index(),
            self.embedder()?,
            self.config.processing,
        )))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn user_store(&self) -> Arc<dyn UserStore> {
        Arc::new(SqliteUserStore::new(self.sqlite.clone()))
    }

    pub fn token_store(&self) -> Arc<dyn TokenStore> {
        Arc::new(SqliteTokenStore::new(self.sqlite.clone()))
    }

    pub fn authenticator(&self) -> anyhow::Result<Arc<Authenticator>> {
        Ok(Arc::new(Authenticator::new(
            &load_secret(&self.config)?,
            self.config.token_ttl,
            self.token_store(),
        )))
    }

    pub fn accounts(&self) -> anyhow::Result<Arc<Accounts>> {
        Ok(Arc::new(Accounts::new(
            self.user_store(),
            self.authenticator()?,
        )))
    }
}

fn load_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    match &config.jwt_secret {
        JwtSecretSource::Value(secret) => Ok(secret.clone()),
        JwtSecretSource::DataDirFile(path) => load_or_create_secret(path),
    }
}

/// A key for another purpose, derived from the main secret so one secret is enough.
fn derive_key(secret: &[u8], purpose: &[u8]) -> Vec<u8> {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().to_vec()
}

/// The local signing secret: created once with random bytes, readable by the owner only,
/// so tokens stay valid across restarts of `askdocs serve`.
fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Write as _;
    if let Ok(existing) = std::fs::read(path) {
        anyhow::ensure!(
            existing.len() >= crate::config::MIN_JWT_SECRET_BYTES,
            "{} is shorter than {} bytes; delete it to have a new one made",
            path.display(),
            crate::config::MIN_JWT_SECRET_BYTES
        );
        return Ok(existing);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let secret: String = (0..2)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(secret.into_bytes())
        }
        // Another process made it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt-secret");
        let first = load_or_create_secret(&path).unwrap();
        assert!(first.len() >= 32);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
    }
}
