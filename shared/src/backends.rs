//! The composition root: builds the adapter behind each port from
//! [`Config`], once per cold start, without touching the network.
//!
//! A function asks only for the ports it uses, so the auth function never
//! pays for what document processing needs, and each Lambda links only the
//! adapters its cargo features name. Handlers never learn which backend set
//! they run on.

use std::sync::{Arc, OnceLock};

use crate::auth::tokens::{Authenticator, FixedSecret};
use crate::auth::Accounts;
use crate::config::{Backend, Config, EmbedderChoice, GeneratorChoice, JwtSecretSource};
use crate::documents::Documents;
use crate::ports::{
    DocumentStore, Embedder, Generator, HistoryStore, ObjectStore, ProcessingQueue, SigningSecret,
    TokenStore, UserStore, VectorIndex,
};
use crate::processing::runs::RunningProcessing;
use crate::processing::sandbox::{Sandbox, WorkerProgram};
use crate::processing::Processor;
use crate::query::answer::ExtractiveAnswerer;
use crate::query::Asker;

#[cfg(feature = "aws")]
use crate::aws::AwsClients;
#[cfg(feature = "aws")]
use crate::config::{AwsSettings, VectorStoreSettings};
#[cfg(feature = "embedded")]
use crate::embedded::{
    DataDirSecret, FsObjectStore, SqliteDb, SqliteDocumentStore, SqliteHistoryStore,
    SqliteTokenStore, SqliteUserStore, SqliteVectorIndex,
};

pub struct Backends {
    config: Config,
    set: BackendSet,
    running: RunningProcessing,
    worker: WorkerProgram,
    embedder: OnceLock<Arc<dyn Embedder>>,
}

enum BackendSet {
    #[cfg(feature = "embedded")]
    Embedded {
        sqlite: SqliteDb,
        objects: Arc<FsObjectStore>,
        /// One index per process: it keeps the owners' vectors in memory.
        index: Arc<SqliteVectorIndex>,
    },
    #[cfg(feature = "aws")]
    Aws {
        clients: AwsClients,
        // Boxed: the resource names are much larger than the embedded handles.
        settings: Box<AwsSettings>,
    },
}

/// What a build without one of the optional features says when asked for it.
#[allow(dead_code)] // unused only when every feature is on
fn missing_feature(what: &str, feature: &str, instead: &str) -> anyhow::Error {
    anyhow::anyhow!("this build has no {what} (cargo feature `{feature}`); {instead}")
}

impl Backends {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let set = match &config.backend {
            #[cfg(feature = "embedded")]
            Backend::Embedded { data_dir } => {
                crate::embedded::private_dir(data_dir)?;
                let sqlite = SqliteDb::open(&data_dir.join("askdocs.db"))?;
                let secret = Self::signing_secret_for(config)?.load().await?;
                let objects = Arc::new(FsObjectStore::new(
                    data_dir.join("objects"),
                    derive_key(&secret, b"askdocs local object URLs"),
                ));
                if let Some(url) = &config.public_url {
                    objects.set_public_url(url);
                }
                let index = Arc::new(SqliteVectorIndex::new(sqlite.clone()));
                BackendSet::Embedded {
                    sqlite,
                    objects,
                    index,
                }
            }
            #[cfg(not(feature = "embedded"))]
            Backend::Embedded { .. } => {
                return Err(missing_feature(
                    "embedded backends",
                    "embedded",
                    "set ASKDOCS_BACKEND=aws",
                ))
            }
            #[cfg(feature = "aws")]
            Backend::Aws(settings) => BackendSet::Aws {
                // Nothing is built here: each SDK client on its first call.
                clients: AwsClients::from_environment(
                    settings.endpoint_url.as_deref(),
                    settings.tls_roots,
                ),
                settings: Box::new(settings.clone()),
            },
            #[cfg(not(feature = "aws"))]
            Backend::Aws(_) => {
                return Err(missing_feature(
                    "AWS backend",
                    "aws",
                    "set ASKDOCS_BACKEND=embedded",
                ))
            }
        };
        Ok(Self::with_set(config, set))
    }

    fn with_set(config: &Config, set: BackendSet) -> Self {
        Backends {
            config: config.clone(),
            set,
            running: RunningProcessing::default(),
            worker: WorkerProgram::current_exe(),
            embedder: OnceLock::new(),
        }
    }

    /// The AWS backend on clients built elsewhere (tests against an emulator).
    #[cfg(all(feature = "aws", feature = "testing"))]
    pub fn with_aws_clients(config: &Config, clients: AwsClients) -> anyhow::Result<Self> {
        let Backend::Aws(settings) = &config.backend else {
            anyhow::bail!("with_aws_clients needs an AWS configuration");
        };
        let set = BackendSet::Aws {
            clients,
            settings: Box::new(settings.clone()),
        };
        Ok(Self::with_set(config, set))
    }

    /// Runs the extract worker as `program` instead of this binary (tests,
    /// whose binary is the test harness).
    pub fn set_worker_program(&mut self, program: WorkerProgram) {
        self.worker = program;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The processing runs of this process, which deletes and shutdown cancel.
    pub fn running(&self) -> &RunningProcessing {
        &self.running
    }

    /// The local object store itself, for the routes that answer its signed URLs.
    #[cfg(feature = "embedded")]
    pub fn local_objects(&self) -> Option<Arc<FsObjectStore>> {
        match &self.set {
            BackendSet::Embedded { objects, .. } => Some(objects.clone()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The AWS clients, when the backend is AWS (for `askdocs bootstrap-aws`).
    #[cfg(feature = "aws")]
    pub fn aws(&self) -> Option<(&AwsClients, &AwsSettings)> {
        match &self.set {
            BackendSet::Aws { clients, settings } => Some((clients, settings)),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    pub fn user_store(&self) -> Arc<dyn UserStore> {
        match &self.set {
            #[cfg(feature = "embedded")]
            BackendSet::Embedded { sqlite, .. } => Arc::new(SqliteUserStore::new(sqlite.clone())),
            #[cfg(feature = "aws")]
            BackendSet::Aws { clients, settings } => {
                Arc::new(clients.user_store(&settings.users_table))
            }
        }
    }

    pub fn token_store(&self) -> Arc<dyn TokenStore> {
        match &self.set {
            #[cfg(feature = "embedded")]
            BackendSet::Embedded { sqlite, .. } => Arc::new(SqliteTokenStore::new(sqlite.clone())),
            #[cfg(feature = "aws")]
            BackendSet::Aws { clients, settings } => {
                Arc::new(clients.token_store(&settings.tokens_table))
            }
        }
    }

    pub fn object_store(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        match &self.set {
            #[cfg(feature = "embedded")]
            BackendSet::Embedded { objects, .. } => Ok(objects.clone()),
            #[cfg(feature = "aws-files")]
            BackendSet::Aws { clients, settings } => {
                Ok(Arc::new(clients.object_store(&settings.bucket)))
            }
            #[cfg(all(feature = "aws", not(feature = "aws-files")))]
            BackendSet::Aws { .. } => Err(missing_feature(
                "S3 file store",
                "aws-files",
                "this function does not handle files",
            )),
        }
    }

    pub fn document_store(&self) -> Arc<dyn DocumentStore> {
        match &self.set {
            #[cfg(feature = "embedded")]
            BackendSet::Embedded { sqlite, .. } => {
                Arc::new(SqliteDocumentStore::new(sqlite.clone()))
            }
            #[cfg(feature = "aws")]
            BackendSet::Aws { clients, settings } => {
                Arc::new(clients.document_store(&settings.documents_table))
            }
        }
    }

    pub fn history_store(&self) -> Arc<dyn HistoryStore> {
        match &self.set {
            #[cfg(feature = "embedded")]
            BackendSet::Embedded { sqlite, .. } => {
                Arc::new(SqliteHistoryStore::new(sqlite.clone()))
            }
            #[cfg(feature = "aws")]
            BackendSet::Aws { clients, settings } => {
                Arc::new(clients.history_store(&settings.history_table))
            }
        }
    }

    /// The vector + keyword index.
    pub fn vector_index(&self) -> anyhow::Result<Arc<dyn VectorIndex>> {
        match &self.set {
            #[cfg(feature = "embedded")]
            BackendSet::Embedded { index, .. } => Ok(index.clone()),
            #[cfg(feature = "aws-search")]
            BackendSet::Aws { clients, settings } => match &settings.vector_store {
                VectorStoreSettings::S3Vectors { bucket, index } => {
                    Ok(Arc::new(clients.vector_index(bucket, index)))
                }
                VectorStoreSettings::OpenSearch {
                    endpoint: Some(endpoint),
                    index,
                    ..
                } => Ok(Arc::new(clients.opensearch_index(endpoint, index))),
                VectorStoreSettings::OpenSearch { endpoint: None, .. } => Err(anyhow::anyhow!(
                    "OPENSEARCH_ENDPOINT is not set: `askdocs bootstrap-aws` creates the \
                     collection OPENSEARCH_COLLECTION names and prints its endpoint"
                )),
            },
            #[cfg(all(feature = "aws", not(feature = "aws-search")))]
            BackendSet::Aws { .. } => Err(missing_feature(
                "vector store",
                "aws-search",
                "this function does not search",
            )),
        }
    }

    /// The index a delete removes passages from, unless the store lets only the
    /// processing and query functions in (OpenSearch Serverless): then the
    /// processing function removes them when S3 reports the file removed.
    fn index_the_document_function_writes(&self) -> anyhow::Result<Option<Arc<dyn VectorIndex>>> {
        match &self.set {
            #[cfg(feature = "aws")]
            BackendSet::Aws { settings, .. }
                if matches!(
                    settings.vector_store,
                    VectorStoreSettings::OpenSearch { .. }
                ) =>
            {
                Ok(None)
            }
            _ => self.vector_index().map(Some),
        }
    }

    /// The queue the processing function reads, where its sweep puts
    /// documents to run again: SQS when `PROCESSING_QUEUE_URL` names one.
    pub fn processing_queue(&self) -> Option<Arc<dyn ProcessingQueue>> {
        match &self.set {
            #[cfg(feature = "aws-queue")]
            BackendSet::Aws { clients, settings } => settings
                .processing_queue_url
                .as_deref()
                .map(|url| Arc::new(clients.processing_queue(url)) as Arc<dyn ProcessingQueue>),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The embedding model `ASKDOCS_EMBEDDER` names: MiniLM in-process (loaded
    /// on first use, then shared) or Titan on Bedrock.
    // A build with neither model (the auth function) only refuses.
    #[cfg_attr(
        not(any(feature = "local-model", feature = "aws-bedrock")),
        allow(unreachable_code, unused_variables)
    )]
    pub fn embedder(&self) -> anyhow::Result<Arc<dyn Embedder>> {
        if let Some(embedder) = self.embedder.get() {
            return Ok(embedder.clone());
        }
        let models = &self.config.models;
        let embedder: Arc<dyn Embedder> = match models.embedder {
            EmbedderChoice::MiniLm => {
                #[cfg(feature = "local-model")]
                {
                    Arc::new(crate::embedded::MiniLmEmbedder::load(&models.model_dir)?)
                }
                #[cfg(not(feature = "local-model"))]
                return Err(missing_feature(
                    "local embedding model",
                    "local-model",
                    "set ASKDOCS_EMBEDDER=bedrock",
                ));
            }
            EmbedderChoice::Bedrock => match &self.set {
                #[cfg(feature = "aws-bedrock")]
                BackendSet::Aws { clients, .. } => Arc::new(clients.titan_embedder(
                    &models.bedrock.embedding_model_id,
                    models.bedrock.embedding_dimensions,
                )),
                #[allow(unreachable_patterns)]
                _ => anyhow::bail!(
                    "ASKDOCS_EMBEDDER=bedrock needs ASKDOCS_BACKEND=aws and a build with the `aws-bedrock` feature"
                ),
            },
        };
        Ok(self.embedder.get_or_init(|| embedder).clone())
    }

    /// The answer generator `ASKDOCS_GENERATOR` names.
    pub fn generator(&self) -> anyhow::Result<Arc<dyn Generator>> {
        let models = &self.config.models;
        Ok(match models.generator {
            GeneratorChoice::Extractive => Arc::new(ExtractiveAnswerer::new(self.embedder()?)),
            GeneratorChoice::OpenAi => {
                #[cfg(feature = "openai")]
                {
                    let chat = models
                        .chat
                        .clone()
                        .ok_or_else(|| anyhow::anyhow!("ASKDOCS_LLM_URL is not set"))?;
                    Arc::new(crate::embedded::OpenAiChatGenerator::new(
                        crate::embedded::openai_chat::ChatEndpoint {
                            base_url: chat.base_url,
                            model: chat.model,
                            api_key: chat.api_key,
                            max_tokens: chat.max_tokens,
                            temperature: chat.temperature,
                        },
                    )?)
                }
                #[cfg(not(feature = "openai"))]
                return Err(missing_feature(
                    "OpenAI-compatible chat client",
                    "openai",
                    "set ASKDOCS_GENERATOR=bedrock or extractive",
                ));
            }
            GeneratorChoice::Bedrock => match &self.set {
                #[cfg(feature = "aws-bedrock")]
                BackendSet::Aws { clients, .. } => Arc::new(clients.claude_generator(
                    &models.bedrock.generation_model_id,
                    models.bedrock.max_tokens,
                    models.bedrock.temperature,
                )),
                #[allow(unreachable_patterns)]
                _ => anyhow::bail!(
                    "ASKDOCS_GENERATOR=bedrock needs ASKDOCS_BACKEND=aws and a build with the `aws-bedrock` feature"
                ),
            },
        })
    }

    fn signing_secret_for(config: &Config) -> anyhow::Result<Arc<dyn SigningSecret>> {
        match &config.auth.jwt_secret {
            Some(JwtSecretSource::Value(secret)) => Ok(Arc::new(FixedSecret(secret.clone()))),
            #[cfg(feature = "embedded")]
            Some(JwtSecretSource::DataDirFile(path)) => {
                Ok(Arc::new(DataDirSecret::new(path.clone())))
            }
            #[cfg(not(feature = "embedded"))]
            Some(JwtSecretSource::DataDirFile(_)) => Err(missing_feature(
                "embedded backends",
                "embedded",
                "set JWT_SECRET or JWT_SECRET_ARN",
            )),
            Some(JwtSecretSource::SecretsManager(_)) => {
                anyhow::bail!("JWT_SECRET_ARN needs the AWS backend")
            }
            None => anyhow::bail!(
                "JWT_SECRET or JWT_SECRET_ARN is required by the functions that check tokens"
            ),
        }
    }

    /// Where the token signing key comes from; read on first use, not here.
    fn signing_secret(&self) -> anyhow::Result<Arc<dyn SigningSecret>> {
        match (&self.config.auth.jwt_secret, &self.set) {
            #[cfg(feature = "aws")]
            (Some(JwtSecretSource::SecretsManager(arn)), BackendSet::Aws { clients, .. }) => Ok(
                Arc::new(clients.signing_secret(arn, crate::config::MIN_JWT_SECRET_BYTES)),
            ),
            _ => Self::signing_secret_for(&self.config),
        }
    }

    pub fn authenticator(&self) -> anyhow::Result<Arc<Authenticator>> {
        Ok(Arc::new(Authenticator::new(
            self.signing_secret()?,
            self.config.auth.token_ttl,
            self.token_store(),
        )))
    }

    pub fn accounts(&self) -> anyhow::Result<Arc<Accounts>> {
        Ok(Arc::new(Accounts::new(
            self.user_store(),
            self.authenticator()?,
            self.config.auth.login_limits,
        )))
    }

    pub fn documents(&self) -> anyhow::Result<Arc<Documents>> {
        Ok(Arc::new(Documents::new(
            self.document_store(),
            self.object_store()?,
            self.index_the_document_function_writes()?,
            self.running.clone(),
            self.config.documents,
        )))
    }

    pub fn processor(&self) -> anyhow::Result<Arc<Processor>> {
        let settings = self.config.processing;
        let sandbox = Sandbox::new(
            self.worker.clone(),
            settings.extract,
            settings.chunks,
            settings.max_chunks,
            settings.max_upload_bytes,
        );
        Ok(Arc::new(Processor::new(
            self.document_store(),
            self.object_store()?,
            self.vector_index()?,
            self.embedder()?,
            sandbox,
            self.running.clone(),
            settings,
        )))
    }

    pub fn asker(&self) -> anyhow::Result<Arc<Asker>> {
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
#[cfg(feature = "embedded")]
fn derive_key(secret: &[u8], purpose: &[u8]) -> Vec<u8> {
    use hmac::Mac as _;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().to_vec()
}
