//! The composition root: builds the adapter behind each port from
//! [`Config`], once per cold start, without touching the network.
//!
//! Each backend is one file that reads as the list of what it builds
//! ([`Wiring`]): `embedded.rs` (files, SQLite, the in-process index) and
//! `aws.rs` (the SDK clients' adapters). The models are chosen here, by
//! configuration, whatever the backend: MiniLM in-process or Titan on
//! Bedrock; the extractive answerer, an OpenAI-compatible server or Claude.
//!
//! A function asks only for the ports it uses, so the auth function never
//! pays for what document processing needs, and each Lambda links only the
//! adapters its cargo features name. Handlers never learn which backend
//! they run on.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "embedded")]
mod embedded;

use std::sync::{Arc, OnceLock};

use crate::auth::federation::Federation;
use crate::auth::tokens::{Authenticator, FixedSecret};
use crate::auth::Accounts;
use crate::config::{
    Backend, BedrockSettings, Config, EmbedderChoice, GeneratorChoice, JwtSecretSource,
};
use crate::documents::Documents;
use crate::ports::{
    DocumentStore, Embedder, Generator, HistoryStore, ObjectStore, ProcessingQueue,
    PublicDocuments, SigningSecret, TokenStore, UserStore, VectorIndex,
};
use crate::processing::runs::RunningProcessing;
use crate::processing::sandbox::{Sandbox, WorkerProgram};
use crate::processing::Processor;
use crate::query::answer::ExtractiveAnswerer;
use crate::query::Asker;

/// What one backend builds. The stores and the file store every backend
/// has; the rest is what only some backends (or builds) have, and refuses
/// by default with the reason.
trait Wiring: Send + Sync {
    fn user_store(&self) -> Arc<dyn UserStore>;
    fn token_store(&self) -> Arc<dyn TokenStore>;
    fn document_store(&self) -> Arc<dyn DocumentStore>;
    fn history_store(&self) -> Arc<dyn HistoryStore>;
    fn object_store(&self) -> anyhow::Result<Arc<dyn ObjectStore>>;
    /// The vector + keyword index.
    fn vector_index(&self) -> anyhow::Result<Arc<dyn VectorIndex>>;

    /// The index the document function removes a deleted document's
    /// passages from (`None`: the processing function does it).
    fn index_for_deletes(&self) -> anyhow::Result<Option<Arc<dyn VectorIndex>>> {
        self.vector_index().map(Some)
    }

    /// Where the processing sweep puts documents to run again.
    fn processing_queue(&self) -> Option<Arc<dyn ProcessingQueue>> {
        None
    }

    fn bedrock_embedder(&self, _bedrock: &BedrockSettings) -> anyhow::Result<Arc<dyn Embedder>> {
        anyhow::bail!(
            "ASKDOCS_EMBEDDER=bedrock needs ASKDOCS_BACKEND=aws and a build with the `aws-bedrock` feature"
        )
    }

    fn bedrock_generator(&self, _bedrock: &BedrockSettings) -> anyhow::Result<Arc<dyn Generator>> {
        anyhow::bail!(
            "ASKDOCS_GENERATOR=bedrock needs ASKDOCS_BACKEND=aws and a build with the `aws-bedrock` feature"
        )
    }

    fn secrets_manager_secret(&self, _arn: &str) -> anyhow::Result<Arc<dyn SigningSecret>> {
        anyhow::bail!("JWT_SECRET_ARN needs the AWS backend")
    }

    /// A Bedrock rerank model, for `BEDROCK_RERANK_MODEL_ID`.
    fn bedrock_reranker(&self, _model: &str) -> anyhow::Result<Arc<dyn crate::ports::Reranker>> {
        anyhow::bail!(
            "BEDROCK_RERANK_MODEL_ID needs ASKDOCS_BACKEND=aws and a build with the `aws-rerank` feature"
        )
    }

    /// Amazon Textract, for `ASKDOCS_OCR=textract`.
    fn ocr_service(&self) -> anyhow::Result<Arc<dyn crate::ports::OcrService>> {
        anyhow::bail!(
            "ASKDOCS_OCR=textract needs ASKDOCS_BACKEND=aws (locally: ASKDOCS_OCR=tesseract)"
        )
    }

    /// The local object store, for the routes that answer its signed URLs.
    #[cfg(feature = "embedded")]
    fn local_objects(&self) -> Option<Arc<crate::embedded::FsObjectStore>> {
        None
    }

    /// The AWS clients and resource names (`askdocs bootstrap-aws`).
    #[cfg(feature = "aws")]
    fn aws(&self) -> Option<(&crate::aws::AwsClients, &crate::config::AwsSettings)> {
        None
    }
}

pub struct Backends {
    config: Config,
    wiring: Box<dyn Wiring>,
    running: RunningProcessing,
    worker: WorkerProgram,
    embedder: OnceLock<Arc<dyn Embedder>>,
    /// One per process, so the issuer's keys are fetched once for every handler.
    authenticator: OnceLock<Arc<Authenticator>>,
}

/// An OpenID Connect issuer's documents, read with the SDK's HTTP client.
fn public_documents(roots: crate::config::TlsRoots) -> anyhow::Result<Arc<dyn PublicDocuments>> {
    #[cfg(feature = "aws")]
    return Ok(Arc::new(crate::aws::HttpsDocuments::new(roots)));
    #[cfg(not(feature = "aws"))]
    {
        let _ = roots;
        Err(missing_feature(
            "HTTPS client for an OpenID Connect issuer",
            "aws",
            "unset ASKDOCS_OIDC_ISSUER",
        ))
    }
}

/// What a build without one of the optional features says when asked for it.
#[allow(dead_code)] // unused only when every feature is on
fn missing_feature(what: &str, feature: &str, instead: &str) -> anyhow::Error {
    anyhow::anyhow!("this build has no {what} (cargo feature `{feature}`); {instead}")
}

impl Backends {
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let wiring: Box<dyn Wiring> = match &config.backend {
            #[cfg(feature = "embedded")]
            Backend::Embedded { data_dir } => {
                Box::new(embedded::Embedded::open(config, data_dir).await?)
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
            Backend::Aws(settings) => Box::new(aws::Aws::from_environment(settings)),
            #[cfg(not(feature = "aws"))]
            Backend::Aws(_) => {
                return Err(missing_feature(
                    "AWS backend",
                    "aws",
                    "set ASKDOCS_BACKEND=embedded",
                ))
            }
        };
        Ok(Self::with_wiring(config, wiring))
    }

    fn with_wiring(config: &Config, wiring: Box<dyn Wiring>) -> Self {
        Backends {
            config: config.clone(),
            wiring,
            running: RunningProcessing::default(),
            worker: WorkerProgram::current_exe(),
            embedder: OnceLock::new(),
            authenticator: OnceLock::new(),
        }
    }

    /// The AWS backend on clients built elsewhere (tests against an emulator).
    #[cfg(all(feature = "aws", feature = "testing"))]
    pub fn with_aws_clients(
        config: &Config,
        clients: crate::aws::AwsClients,
    ) -> anyhow::Result<Self> {
        let Backend::Aws(settings) = &config.backend else {
            anyhow::bail!("with_aws_clients needs an AWS configuration");
        };
        let wiring = Box::new(aws::Aws::new(clients, settings.clone()));
        Ok(Self::with_wiring(config, wiring))
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
    pub fn local_objects(&self) -> Option<Arc<crate::embedded::FsObjectStore>> {
        self.wiring.local_objects()
    }

    /// The AWS clients, when the backend is AWS (for `askdocs bootstrap-aws`).
    #[cfg(feature = "aws")]
    pub fn aws(&self) -> Option<(&crate::aws::AwsClients, &crate::config::AwsSettings)> {
        self.wiring.aws()
    }

    pub fn user_store(&self) -> Arc<dyn UserStore> {
        self.wiring.user_store()
    }

    pub fn token_store(&self) -> Arc<dyn TokenStore> {
        self.wiring.token_store()
    }

    pub fn object_store(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        self.wiring.object_store()
    }

    pub fn document_store(&self) -> Arc<dyn DocumentStore> {
        self.wiring.document_store()
    }

    pub fn history_store(&self) -> Arc<dyn HistoryStore> {
        self.wiring.history_store()
    }

    /// The vector + keyword index.
    pub fn vector_index(&self) -> anyhow::Result<Arc<dyn VectorIndex>> {
        self.wiring.vector_index()
    }

    /// The queue the processing function reads, where its sweep puts
    /// documents to run again: SQS when `PROCESSING_QUEUE_URL` names one.
    pub fn processing_queue(&self) -> Option<Arc<dyn ProcessingQueue>> {
        self.wiring.processing_queue()
    }

    /// The embedding model `ASKDOCS_EMBEDDER` names: MiniLM in-process (loaded
    /// on first use, then shared) or Titan on Bedrock.
    pub fn embedder(&self) -> anyhow::Result<Arc<dyn Embedder>> {
        if let Some(embedder) = self.embedder.get() {
            return Ok(embedder.clone());
        }
        let models = &self.config.models;
        let embedder = match models.embedder {
            EmbedderChoice::MiniLm => minilm(&models.model_dir)?,
            EmbedderChoice::Bedrock => self.wiring.bedrock_embedder(&models.bedrock)?,
        };
        Ok(self.embedder.get_or_init(|| embedder).clone())
    }

    /// The answer generator `ASKDOCS_GENERATOR` names.
    pub fn generator(&self) -> anyhow::Result<Arc<dyn Generator>> {
        let models = &self.config.models;
        match models.generator {
            GeneratorChoice::Extractive => Ok(Arc::new(ExtractiveAnswerer::new(self.embedder()?))),
            GeneratorChoice::OpenAi => openai_chat(models.chat.clone()),
            GeneratorChoice::Bedrock => self.wiring.bedrock_generator(&models.bedrock),
        }
    }

    /// Where the token signing key comes from; read on first use, not here.
    fn signing_secret(&self) -> anyhow::Result<Arc<dyn SigningSecret>> {
        match &self.config.auth.jwt_secret {
            Some(JwtSecretSource::SecretsManager(arn)) => self.wiring.secrets_manager_secret(arn),
            _ => configured_signing_secret(&self.config),
        }
    }

    /// Checks our tokens and, with `ASKDOCS_OIDC_ISSUER` set, that issuer's.
    pub fn authenticator(&self) -> anyhow::Result<Arc<Authenticator>> {
        if let Some(authenticator) = self.authenticator.get() {
            return Ok(authenticator.clone());
        }
        let mut authenticator = Authenticator::new(
            self.signing_secret()?,
            self.config.auth.token_ttl,
            self.token_store(),
        );
        if let Some(settings) = &self.config.auth.federation {
            let federation = Federation::new(
                settings.clone(),
                public_documents(settings.tls_roots)?,
                self.user_store(),
            );
            authenticator = authenticator.with_federation(Arc::new(federation));
        }
        Ok(self
            .authenticator
            .get_or_init(|| Arc::new(authenticator))
            .clone())
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
            self.wiring.index_for_deletes()?,
            self.history_store(),
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
        )
        .with_ocr(settings.ocr);
        let processor = Processor::new(
            self.document_store(),
            self.object_store()?,
            self.vector_index()?,
            self.embedder()?,
            sandbox,
            self.running.clone(),
            settings,
        );
        Ok(Arc::new(match settings.ocr.engine {
            crate::config::OcrEngine::Textract => {
                processor.with_ocr_service(self.wiring.ocr_service()?)
            }
            _ => processor,
        }))
    }

    pub fn asker(&self) -> anyhow::Result<Arc<Asker>> {
        let asker = Asker::new(
            self.document_store(),
            self.vector_index()?,
            self.embedder()?,
            self.generator()?,
            self.history_store(),
            self.config.retrieval,
        );
        Ok(Arc::new(
            match &self.config.models.bedrock.rerank_model_id {
                Some(model) => asker.with_reranker(self.wiring.bedrock_reranker(model)?),
                None => asker,
            },
        ))
    }
}

/// The signing secret the configuration holds itself (a value, or a file in
/// the data directory).
fn configured_signing_secret(config: &Config) -> anyhow::Result<Arc<dyn SigningSecret>> {
    match &config.auth.jwt_secret {
        Some(JwtSecretSource::Value(secret)) => Ok(Arc::new(FixedSecret(secret.clone()))),
        #[cfg(feature = "embedded")]
        Some(JwtSecretSource::DataDirFile(path)) => {
            Ok(Arc::new(crate::embedded::DataDirSecret::new(path.clone())))
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

/// all-MiniLM-L6-v2 in-process, where this build has it.
fn minilm(model_dir: &std::path::Path) -> anyhow::Result<Arc<dyn Embedder>> {
    #[cfg(feature = "local-model")]
    return Ok(Arc::new(crate::embedded::MiniLmEmbedder::load(model_dir)?));
    #[cfg(not(feature = "local-model"))]
    {
        let _ = model_dir;
        Err(missing_feature(
            "local embedding model",
            "local-model",
            "set ASKDOCS_EMBEDDER=bedrock",
        ))
    }
}

/// An OpenAI-compatible chat server (`ASKDOCS_LLM_URL`), where this build has the client.
fn openai_chat(chat: Option<crate::config::ChatSettings>) -> anyhow::Result<Arc<dyn Generator>> {
    #[cfg(feature = "openai")]
    {
        let chat = chat.ok_or_else(|| anyhow::anyhow!("ASKDOCS_LLM_URL is not set"))?;
        Ok(Arc::new(crate::embedded::OpenAiChatGenerator::new(
            crate::embedded::openai_chat::ChatEndpoint {
                base_url: chat.base_url,
                model: chat.model,
                api_key: chat.api_key,
                max_tokens: chat.max_tokens,
                temperature: chat.temperature,
            },
        )?))
    }
    #[cfg(not(feature = "openai"))]
    {
        let _ = chat;
        Err(missing_feature(
            "OpenAI-compatible chat client",
            "openai",
            "set ASKDOCS_GENERATOR=bedrock or extractive",
        ))
    }
}
