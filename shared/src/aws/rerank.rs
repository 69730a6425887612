//! Bedrock's rerank models (Amazon Rerank 1.0, Cohere Rerank 3.5) through the
//! Agent Runtime's `Rerank`: the question and the passages retrieval fused,
//! each passage's relevance back. One call per question; the passages go
//! inline (nothing is read from S3).

use async_trait::async_trait;
use aws_sdk_bedrockagentruntime::types::{
    BedrockRerankingConfiguration, BedrockRerankingModelConfiguration, RerankDocument,
    RerankDocumentType, RerankQuery, RerankQueryContentType, RerankSource, RerankSourceType,
    RerankTextDocument, RerankingConfiguration, RerankingConfigurationType,
};

use super::errors::sdk_error;
use super::AwsClients;
use crate::error::{Error, Result};
use crate::ports::Reranker;

/// Rerank takes at most this many sources, each of at most this many characters.
pub const MAX_PASSAGES: usize = 1000;
const MAX_PASSAGE_CHARS: usize = 32_000;

pub struct BedrockReranker {
    clients: AwsClients,
    /// A model id (`amazon.rerank-v1:0`) or a model ARN.
    model: String,
}

impl BedrockReranker {
    pub fn new(clients: AwsClients, model: impl Into<String>) -> Self {
        BedrockReranker {
            clients,
            model: model.into(),
        }
    }

    /// Rerank names its model by ARN: an id is the foundation model of the
    /// Region the function runs in.
    async fn model_arn(&self) -> String {
        if self.model.starts_with("arn:") {
            return self.model.clone();
        }
        let region = self.clients.region().await;
        format!("arn:aws:bedrock:{region}::foundation-model/{}", self.model)
    }
}

fn build_error(error: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("Bedrock Rerank request: {error}"))
}

fn text_document(text: &str) -> RerankTextDocument {
    let text: String = text.chars().take(MAX_PASSAGE_CHARS).collect();
    RerankTextDocument::builder().text(text).build()
}

#[async_trait]
impl Reranker for BedrockReranker {
    async fn relevance(&self, question: &str, passages: &[&str]) -> Result<Vec<f32>> {
        if passages.is_empty() {
            return Ok(Vec::new());
        }
        let passages = &passages[..passages.len().min(MAX_PASSAGES)];
        let query = RerankQuery::builder()
            .r#type(RerankQueryContentType::Text)
            .text_query(text_document(question))
            .build()
            .map_err(build_error)?;
        let sources = passages
            .iter()
            .map(|passage| {
                let document = RerankDocument::builder()
                    .r#type(RerankDocumentType::Text)
                    .text_document(text_document(passage))
                    .build()
                    .map_err(build_error)?;
                RerankSource::builder()
                    .r#type(RerankSourceType::Inline)
                    .inline_document_source(document)
                    .build()
                    .map_err(build_error)
            })
            .collect::<Result<Vec<_>>>()?;
        let model = BedrockRerankingModelConfiguration::builder()
            .model_arn(self.model_arn().await)
            .build()
            .map_err(build_error)?;
        let configuration = RerankingConfiguration::builder()
            .r#type(RerankingConfigurationType::BedrockRerankingModel)
            .bedrock_reranking_configuration(
                BedrockRerankingConfiguration::builder()
                    .number_of_results(passages.len() as i32)
                    .model_configuration(model)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        let output = self
            .clients
            .rerank()
            .await
            .rerank()
            .queries(query)
            .set_sources(Some(sources))
            .reranking_configuration(configuration)
            .send()
            .await
            .map_err(|error| sdk_error("Bedrock Rerank", error))?;
        // Results come best first, each naming its source by position; a
        // passage the model left out scores below every one it kept.
        let mut relevance = vec![f32::NEG_INFINITY; passages.len()];
        for result in output.results() {
            let Some(slot) = usize::try_from(result.index())
                .ok()
                .and_then(|index| relevance.get_mut(index))
            else {
                return Err(Error::Internal(anyhow::anyhow!(
                    "Bedrock Rerank answered with index {} for {} passages",
                    result.index(),
                    passages.len()
                )));
            };
            *slot = result.relevance_score();
        }
        Ok(relevance)
    }

    fn model_id(&self) -> &str {
        &self.model
    }
}
