//! Amazon Textract reads the pages that are pictures of text, where the
//! uploads are: the asynchronous text detection for PDFs and TIFFs in S3
//! (results paged through to the end), the synchronous one for a PNG or JPEG.
//!
//! A job is started with the document's run token as its client request
//! token: Textract answers a repeated start with the same job, so a retried
//! run resumes the job instead of paying for it twice. Waiting is bounded by
//! the request's deadline; past it the run is retried and resumes polling.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_textract::types::{
    Block, BlockType, Document as TextractDocument, DocumentLocation, JobStatus, S3Object,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;

use super::errors::{sdk_error, ServiceError};
use super::AwsClients;
use crate::error::{Error, Result};
use crate::model::Format;
use crate::ports::{OcrRequest, OcrService};

/// Textract's answers to a document it cannot read: a permanent refusal.
const UNREADABLE: &[&str] = &[
    "BadDocumentException",
    "UnsupportedDocumentException",
    "DocumentTooLargeException",
    "InvalidS3ObjectException",
];
/// Blocks per result page (Textract's most).
const MAX_RESULTS: i32 = 1000;

pub struct TextractOcr {
    clients: AwsClients,
    bucket: String,
    /// First and longest pause between polls of a running job.
    poll: (Duration, Duration),
}

impl TextractOcr {
    pub(crate) fn new(clients: AwsClients, bucket: impl Into<String>) -> Self {
        TextractOcr {
            clients,
            bucket: bucket.into(),
            poll: (Duration::from_secs(1), Duration::from_secs(5)),
        }
    }

    /// The adapter on clients built elsewhere (tests against a stand-in).
    #[cfg(feature = "testing")]
    pub fn with_clients(clients: AwsClients, bucket: &str, poll: Duration) -> Self {
        TextractOcr {
            poll: (poll, poll),
            ..Self::new(clients, bucket)
        }
    }

    fn object(&self, key: &str) -> S3Object {
        S3Object::builder().bucket(&self.bucket).name(key).build()
    }

    /// One image: DetectDocumentText, answered at once.
    async fn read_image(&self, key: &str) -> Result<Vec<Block>> {
        let output = self
            .clients
            .textract()
            .await
            .detect_document_text()
            .document(
                TextractDocument::builder()
                    .s3_object(self.object(key))
                    .build(),
            )
            .send()
            .await
            .map_err(|error| refused_or(error, "Textract DetectDocumentText"))?;
        Ok(output.blocks.unwrap_or_default())
    }

    /// A PDF or TIFF: a text detection job, waited for, its results paged through.
    async fn read_document(&self, request: &OcrRequest<'_>) -> Result<Vec<Block>> {
        let textract = self.clients.textract().await;
        let job = textract
            .start_document_text_detection()
            .document_location(
                DocumentLocation::builder()
                    .s3_object(self.object(request.key))
                    .build(),
            )
            .client_request_token(request.run_token)
            .send()
            .await
            .map_err(|error| refused_or(error, "Textract StartDocumentTextDetection"))?
            .job_id
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!("Textract started a job without an id"))
            })?;
        let mut pause = self.poll.0;
        loop {
            let first = textract
                .get_document_text_detection()
                .job_id(&job)
                .max_results(MAX_RESULTS)
                .send()
                .await
                .map_err(|error| sdk_error("Textract GetDocumentTextDetection", error))?;
            match first.job_status() {
                Some(JobStatus::InProgress) => {}
                Some(JobStatus::Succeeded) | Some(JobStatus::PartialSuccess) => {
                    let mut blocks = first.blocks.unwrap_or_default();
                    let mut next = first.next_token;
                    while let Some(token) = next {
                        let page = textract
                            .get_document_text_detection()
                            .job_id(&job)
                            .max_results(MAX_RESULTS)
                            .next_token(token)
                            .send()
                            .await
                            .map_err(|error| {
                                sdk_error("Textract GetDocumentTextDetection", error)
                            })?;
                        blocks.extend(page.blocks.unwrap_or_default());
                        next = page.next_token;
                    }
                    return Ok(blocks);
                }
                status => {
                    tracing::warn!(job, ?status, message = ?first.status_message(), "Textract job failed");
                    return Err(Error::Unprocessable {
                        code: "unreadable_scan",
                        message: format!(
                            "Textract could not read the {}{}",
                            request.format.name(),
                            first
                                .status_message()
                                .map(|message| format!(": {message}"))
                                .unwrap_or_default()
                        ),
                    });
                }
            }
            if Instant::now() + pause > request.deadline {
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "Textract job {job} is still running; the retried run resumes it"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.poll.1);
        }
    }
}

/// A document Textract refuses is the document's problem; anything else is ours.
fn refused_or<E: ServiceError>(
    error: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    context: &str,
) -> Error {
    match error.code() {
        Some(code) if UNREADABLE.contains(&code) => Error::Unprocessable {
            code: "unreadable_scan",
            message: format!(
                "Textract cannot read this file ({})",
                error.message().unwrap_or(code)
            ),
        },
        _ => sdk_error(context, error),
    }
}

/// Each page's LINE blocks, in Textract's reading order, one line each.
fn page_texts(blocks: &[Block]) -> BTreeMap<u32, String> {
    let mut pages: BTreeMap<u32, String> = BTreeMap::new();
    for block in blocks {
        if block.block_type() != Some(&BlockType::Line) {
            continue;
        }
        let Some(text) = block.text() else { continue };
        let page = block.page().map_or(1, |page| page.max(1) as u32);
        let lines = pages.entry(page).or_default();
        if !lines.is_empty() {
            lines.push('\n');
        }
        lines.push_str(text);
    }
    pages
}

#[async_trait]
impl OcrService for TextractOcr {
    async fn read_pages(&self, request: OcrRequest<'_>) -> Result<Vec<(u32, String)>> {
        let blocks = match request.format {
            Format::Png | Format::Jpeg => self.read_image(request.key).await?,
            Format::Pdf | Format::Tiff => self.read_document(&request).await?,
            other => {
                return Err(Error::Internal(anyhow::anyhow!(
                    "{} is not read by OCR",
                    other.name()
                )))
            }
        };
        let mut texts = page_texts(&blocks);
        Ok(request
            .pages
            .iter()
            .map(|&page| (page, texts.remove(&page).unwrap_or_default()))
            .collect())
    }
}
