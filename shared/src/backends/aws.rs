//! AWS: DynamoDB tables, the documents bucket, S3 Vectors or OpenSearch
//! Serverless, Bedrock, Secrets Manager and the processing queue, each
//! through its SDK client (built on its first call, never here). What a
//! function's cargo features leave out is refused with the feature to turn on.

use std::sync::Arc;

use super::Wiring;
use crate::aws::AwsClients;
use crate::config::{AwsSettings, BedrockSettings, VectorStoreSettings, MIN_JWT_SECRET_BYTES};
use crate::ports::{
    DocumentStore, Embedder, Generator, HistoryStore, ObjectStore, ProcessingQueue, SigningSecret,
    TokenStore, UserStore, VectorIndex,
};

pub(super) struct Aws {
    clients: AwsClients,
    settings: AwsSettings,
}

impl Aws {
    pub(super) fn new(clients: AwsClients, settings: AwsSettings) -> Self {
        Aws { clients, settings }
    }

    /// Clients from the environment (Lambda's, or a person's profile).
    pub(super) fn from_environment(settings: &AwsSettings) -> Self {
        let clients =
            AwsClients::from_environment(settings.endpoint_url.as_deref(), settings.tls_roots);
        Self::new(clients, settings.clone())
    }
}

impl Wiring for Aws {
    fn user_store(&self) -> Arc<dyn UserStore> {
        Arc::new(self.clients.user_store(&self.settings.users_table))
    }

    fn token_store(&self) -> Arc<dyn TokenStore> {
        Arc::new(self.clients.token_store(&self.settings.tokens_table))
    }

    fn document_store(&self) -> Arc<dyn DocumentStore> {
        Arc::new(self.clients.document_store(&self.settings.documents_table))
    }

    fn history_store(&self) -> Arc<dyn HistoryStore> {
        Arc::new(self.clients.history_store(&self.settings.history_table))
    }

    fn object_store(&self) -> anyhow::Result<Arc<dyn ObjectStore>> {
        #[cfg(feature = "aws-files")]
        return Ok(Arc::new(self.clients.object_store(&self.settings.bucket)));
        #[cfg(not(feature = "aws-files"))]
        Err(super::missing_feature(
            "S3 file store",
            "aws-files",
            "this function does not handle files",
        ))
    }

    fn vector_index(&self) -> anyhow::Result<Arc<dyn VectorIndex>> {
        #[cfg(feature = "aws-search")]
        return match &self.settings.vector_store {
            VectorStoreSettings::S3Vectors { bucket, index } => {
                Ok(Arc::new(self.clients.vector_index(bucket, index)))
            }
            VectorStoreSettings::OpenSearch {
                endpoint: Some(endpoint),
                index,
                ..
            } => Ok(Arc::new(self.clients.opensearch_index(endpoint, index))),
            VectorStoreSettings::OpenSearch { endpoint: None, .. } => Err(anyhow::anyhow!(
                "OPENSEARCH_ENDPOINT is not set: `askdocs bootstrap-aws` creates the \
                 collection OPENSEARCH_COLLECTION names and prints its endpoint"
            )),
        };
        #[cfg(not(feature = "aws-search"))]
        Err(super::missing_feature(
            "vector store",
            "aws-search",
            "this function does not search",
        ))
    }

    /// OpenSearch Serverless lets only the processing and query functions
    /// in: there the processing function removes a deleted document's
    /// passages when S3 reports its file removed.
    fn index_for_deletes(&self) -> anyhow::Result<Option<Arc<dyn VectorIndex>>> {
        match self.settings.vector_store {
            VectorStoreSettings::OpenSearch { .. } => Ok(None),
            VectorStoreSettings::S3Vectors { .. } => self.vector_index().map(Some),
        }
    }

    /// SQS, when `PROCESSING_QUEUE_URL` names the queue.
    fn processing_queue(&self) -> Option<Arc<dyn ProcessingQueue>> {
        #[cfg(feature = "aws-queue")]
        return self
            .settings
            .processing_queue_url
            .as_deref()
            .map(|url| Arc::new(self.clients.processing_queue(url)) as Arc<dyn ProcessingQueue>);
        #[cfg(not(feature = "aws-queue"))]
        None
    }

    fn bedrock_embedder(&self, bedrock: &BedrockSettings) -> anyhow::Result<Arc<dyn Embedder>> {
        #[cfg(feature = "aws-bedrock")]
        return Ok(Arc::new(self.clients.titan_embedder(
            &bedrock.embedding_model_id,
            bedrock.embedding_dimensions,
        )));
        #[cfg(not(feature = "aws-bedrock"))]
        {
            let _ = bedrock;
            Err(super::missing_feature(
                "Bedrock embedder",
                "aws-bedrock",
                "this function does not embed",
            ))
        }
    }

    fn bedrock_generator(&self, bedrock: &BedrockSettings) -> anyhow::Result<Arc<dyn Generator>> {
        #[cfg(feature = "aws-answers")]
        return Ok(Arc::new(self.clients.claude_generator(
            &bedrock.generation_model_id,
            bedrock.max_tokens,
            bedrock.temperature,
        )));
        #[cfg(not(feature = "aws-answers"))]
        {
            let _ = bedrock;
            Err(super::missing_feature(
                "Bedrock answers",
                "aws-answers",
                "this function does not answer",
            ))
        }
    }

    fn bedrock_reranker(&self, model: &str) -> anyhow::Result<Arc<dyn crate::ports::Reranker>> {
        #[cfg(feature = "aws-rerank")]
        return Ok(Arc::new(crate::aws::BedrockReranker::new(
            self.clients.clone(),
            model,
        )));
        #[cfg(not(feature = "aws-rerank"))]
        anyhow::bail!("BEDROCK_RERANK_MODEL_ID={model} needs a build with the `aws-rerank` feature")
    }

    fn ocr_service(&self) -> anyhow::Result<Arc<dyn crate::ports::OcrService>> {
        #[cfg(feature = "aws-ocr")]
        return Ok(Arc::new(crate::aws::TextractOcr::new(
            self.clients.clone(),
            self.settings.bucket.clone(),
        )));
        #[cfg(not(feature = "aws-ocr"))]
        anyhow::bail!("ASKDOCS_OCR=textract needs a build with the `aws-ocr` feature")
    }

    fn secrets_manager_secret(&self, arn: &str) -> anyhow::Result<Arc<dyn SigningSecret>> {
        Ok(Arc::new(
            self.clients.signing_secret(arn, MIN_JWT_SECRET_BYTES),
        ))
    }

    fn aws(&self) -> Option<(&AwsClients, &AwsSettings)> {
        Some((&self.clients, &self.settings))
    }
}
