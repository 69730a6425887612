//! Builds the adapters behind each port from [`Config`], once per cold start.
//!
//! A function asks only for the ports it uses, so the auth function never
//! pays for what document processing needs. Handlers never learn which
//! backend set they run on.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use hmac::Mac as _;

use crate::auth::{Accounts, Authenticator};
use crate::aws::{
    AwsClients, ClaudeGenerator, DynamoDocumentStore, DynamoHistoryStore, DynamoTokenStore,
    DynamoUserStore, S3ObjectStore, TitanEmbedder,
};
use crate::config::{AwsSettings, Backend, Config, JwtSecretSource};
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
    jwt_secret: Vec<u8>,
    set: BackendSet,
    embedder: OnceLock<Arc<MiniLmEmbedder>>,
}

enum BackendSet {
    Embedded {
        sqlite: SqliteDb,
        objects: Arc<FsObjectStore>,
    },
    Aws {
        // Boxed: the SDK clients are much larger than the embedded handles.
        clients: Box<AwsClients>,
        settings: AwsSettings,
    },
}

use crate::aws::NO_AWS_SEARCH;

impl Backends {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let (set, jwt_secret) = match &config.backend {
            Backend::Embedded { data_dir } => {
                let sqlite = SqliteDb::open(&data_dir.join("askdocs.db"))?;
                let jwt_secret = match &config.jwt_secret {
                    JwtSecretSource::Value(secret) => secret.clone(),
                    JwtSecretSource::DataDirFile(path) => load_or_create_secret(path)?,
                    JwtSecretSource::SecretsManager(_) => {
                        anyhow::bail!("JWT_SECRET_ARN needs the AWS backend")
                    }
                };
                let objects = Arc::new(FsObjectStore::new(
                    data_dir.join("objects"),
                    derive_key(&jwt_secret, b"askdocs local object URLs"),
                ));
                if let Some(url) = &config.public_url {
                    objects.set_public_url(url);
                }
                (BackendSet::Embedded { sqlite, objects }, jwt_secret)
            }
            Backend::Aws(settings) => {
                let clients = AwsClients::from_environment().await;
                let jwt_secret = match &config.jwt_secret {
                    JwtSecretSource::Value(secret) => secret.clone(),
                    JwtSecretSource::SecretsManager(arn) => clients.secret(arn).await?,
                    JwtSecretSource::DataDirFile(_) => {
                        anyhow::bail!("the AWS backend needs JWT_SECRET or JWT_SECRET_ARN")
                    }
                };
                (
                    BackendSet::Aws {
                        clients: Box::new(clients),
                        settings: settings.clone(),
                    },
                    jwt_secret,
                )
            }
        };
        Ok(Backends {
            config: config.clone(),
            jwt_secret,
            set,
            embedder: OnceLock::new(),
        })
    }

    /// The AWS backend on clients built elsewhere (tests against an emulator).
    pub fn with_aws_clients(
        config: &Config,
        clients: AwsClients,
        settings: AwsSettings,
    ) -> anyhow::Result<Self> {
        let JwtSecretSource::Value(jwt_secret) = &config.jwt_secret else {
            anyhow::bail!("with_aws_clients needs JWT_SECRET");
        };
        Ok(Backends {
            config: config.clone(),
            jwt_secret: jwt_secret.clone(),
            set: BackendSet::Aws {
                clients: Box::new(clients),
                settings,
            },
            embedder: OnceLock::new(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The local object store itself, for the routes that answer its signed URLs.
    pub fn local_objects(&self) -> Option<Arc<FsObjectStore>> {
        match &self.set {
            BackendSet::Embedded { objects, .. } => Some(objects.clone()),
            BackendSet::Aws { .. } => None,
        }
    }

    pub fn user_store(&self) -> Arc<dyn UserStore> {
        match &self.set {
            BackendSet::Embedded { sqlite, .. } => Arc::new(SqliteUserStore::new(sqlite.clone())),
            BackendSet::Aws { clients, settings } => Arc::new(DynamoUserStore::new(
                clients.dynamodb.clone(),
                &settings.users_table,
            )),
        }
    }

    pub fn token_store(&self) -> Arc<dyn TokenStore> {
        match &self.set {
            BackendSet::Embedded { sqlite, .. } => Arc::new(SqliteTokenStore::new(sqlite.clone())),
            BackendSet::Aws { clients, settings } => Arc::new(DynamoTokenStore::new(
                clients.dynamodb.clone(),
                &settings.tokens_table,
            )),
        }
    }

    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        match &self.set {
            BackendSet::Embedded { objects, .. } => objects.clone(),
            BackendSet::Aws { clients, settings } => {
                Arc::new(S3ObjectStore::new(clients.s3.clone(), &settings.bucket))
            }
        }
    }

    pub fn document_store(&self) -> Arc<dyn DocumentStore> {
        match &self.set {
            BackendSet::Embedded { sqlite, .. } => {
                Arc::new(SqliteDocumentStore::new(sqlite.clone()))
            }
            BackendSet::Aws { clients, settings } => Arc::new(DynamoDocumentStore::new(
                clients.dynamodb.clone(),
                &settings.documents_table,
            )),
        }
    }

    pub fn history_store(&self) -> Arc<dyn HistoryStore> {
        match &self.set {
            BackendSet::Embedded { sqlite, .. } => {
                Arc::new(SqliteHistoryStore::new(sqlite.clone()))
            }
            BackendSet::Aws { clients, settings } => Arc::new(DynamoHistoryStore::new(
                clients.dynamodb.clone(),
                &settings.history_table,
            )),
        }
    }

    /// The vector + keyword index.
    pub fn vector_index(&self) -> anyhow::Result<Arc<dyn VectorIndex>> {
        self.searchable()?;
        Ok(self.index_for_deletes())
    }

    fn searchable(&self) -> anyhow::Result<()> {
        match &self.set {
            BackendSet::Embedded { .. } => Ok(()),
            BackendSet::Aws { .. } => anyhow::bail!(NO_AWS_SEARCH),
        }
    }

    /// The embedding model: MiniLM loaded in-process (embedded, on first use,
    /// then shared), or Titan on Bedrock (AWS).
    pub fn embedder(&self) -> anyhow::Result<Arc<dyn Embedder>> {
        if let BackendSet::Aws { clients, .. } = &self.set {
            return Ok(Arc::new(TitanEmbedder::new(
                clients.bedrock.clone(),
                &self.config.bedrock,
            )));
        }
        if let Some(embedder) = self.embedder.get() {
            return Ok(embedder.clone());
        }
        let loaded = Arc::new(MiniLmEmbedder::load(&self.config.model_dir)?);
        Ok(self.embedder.get_or_init(|| loaded).clone())
    }

    /// The configured chat endpoint; otherwise Claude on Bedrock (AWS) or the
    /// extractive answerer (embedded).
    pub fn generator(&self) -> anyhow::Result<Arc<dyn Generator>> {
        Ok(match (&self.config.chat, &self.set) {
            (Some(settings), _) => Arc::new(OpenAiChatGenerator::new(settings.clone())?),
            (None, BackendSet::Aws { clients, .. }) => Arc::new(ClaudeGenerator::new(
                clients.bedrock.clone(),
                &self.config.bedrock,
            )),
            (None, BackendSet::Embedded { .. }) => {
                Arc::new(ExtractiveAnswerer::new(self.embedder()?))
            }
        })
    }

    pub fn authenticator(&self) -> anyhow::Result<Arc<Authenticator>> {
        Ok(Arc::new(Authenticator::new(
            &self.jwt_secret,
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

    /// Document routes need the index only to delete a document's chunks.
    pub fn documents(&self) -> Arc<Documents> {
        Arc::new(Documents::new(
            self.document_store(),
            self.object_store(),
            self.index_for_deletes(),
            self.config.documents,
        ))
    }

    fn index_for_deletes(&self) -> Arc<dyn VectorIndex> {
        match &self.set {
            BackendSet::Embedded { sqlite, .. } => Arc::new(SqliteVectorIndex::new(sqlite.clone())),
            BackendSet::Aws { .. } => Arc::new(crate::aws::NoSearchIndex),
        }
    }

    pub fn processor(&self) -> anyhow::Result<Arc<Processor>> {
        self.searchable()?;
        Ok(Arc::new(Processor::new(
            self.document_store(),
            self.object_store(),
            self.vector_index()?,
            self.embedder()?,
            self.config.processing,
        )))
    }

    pub fn asker(&self) -> anyhow::Result<Arc<Asker>> {
        self.searchable()?;
        Ok(Arc::new(Asker::new(
            self.document_store(),
            self.vector_index()?,
            self.embedder()?,
            self.generator()?,
            self.history_store(),
            self.config.retrieval,
        )))
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
