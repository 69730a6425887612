//! The processing handler fed the real S3 event from `events/s3-put.json`, on
//! the embedded backends with the real local embedding model.

use std::path::PathBuf;

use askdocs_processing::{handle, ProcessingState};
use askdocs_shared::documents::Documents;
use askdocs_shared::model::{Document, DocumentStatus};
use askdocs_shared::ports::{DocumentStore, VectorIndex};
use askdocs_shared::processing::Processed;
use askdocs_shared::testing::harness::{embedded_backends, event, fixture};
use askdocs_shared::testing::hostile;
use aws_lambda_events::event::s3::S3Event;
use std::sync::Arc;

/// Later than any timestamp: every run still `processing` counts as interrupted.
const EVERY_RUN: &str = "9999-12-31T23:59:59.999Z";

struct Harness {
    _data_dir: tempfile::TempDir,
    state: ProcessingState,
    documents: Arc<Documents>,
    store: Arc<dyn DocumentStore>,
    index: Arc<dyn VectorIndex>,
}

impl Harness {
    async fn new() -> Self {
        Self::with(&[]).await
    }

    /// With these settings over the defaults.
    async fn with(settings: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let backends = embedded_backends(data_dir.path(), settings).await;
        Harness {
            state: ProcessingState::new(&backends).unwrap(),
            documents: backends.documents().unwrap(),
            store: backends.document_store(),
            index: backends.vector_index().unwrap(),
            _data_dir: data_dir,
        }
    }

    /// GIVEN: a user's document recorded and its file stored, as after an upload.
    async fn upload(
        &self,
        user_id: &str,
        fixture_name: &str,
        file_name: &str,
        content_type: &str,
    ) -> Document {
        let bytes = fixture(fixture_name);
        self.upload_bytes(user_id, bytes, file_name, content_type)
            .await
    }

    async fn upload_bytes(
        &self,
        user_id: &str,
        bytes: Vec<u8>,
        file_name: &str,
        content_type: &str,
    ) -> Document {
        // Direct upload refuses empty files, so store those through the object store path.
        if bytes.is_empty() {
            let document = self
                .documents
                .upload(
                    &user_id.into(),
                    file_name,
                    Some(content_type),
                    b"placeholder".to_vec(),
                    u64::MAX,
                )
                .await
                .unwrap();
            std::fs::write(self.object_path(&document.key), b"").unwrap();
            return document;
        }
        self.documents
            .upload(
                &user_id.into(),
                file_name,
                Some(content_type),
                bytes,
                u64::MAX,
            )
            .await
            .unwrap()
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self._data_dir.path().join("objects").join(key)
    }

    /// WHEN: S3 delivers the ObjectCreated event for that document's key.
    async fn deliver(&self, document: &Document) -> Vec<Processed> {
        handle(&self.state, s3_event(&document.key)).await.unwrap()
    }

    /// The passages keyword search finds for `text`.
    async fn words(
        &self,
        scope: &askdocs_shared::model::SearchScope,
        text: &str,
    ) -> Vec<askdocs_shared::model::ScoredChunk> {
        let vector = vec![0.0; 384];
        let query = askdocs_shared::ports::SearchQuery {
            vector: &vector,
            text,
        };
        self.index.search(scope, query, 5).await.unwrap().by_words
    }

    async fn stored(&self, document: &Document) -> Document {
        self.store
            .get(&document.user_id, &document.document_id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// The real S3 event with its key swapped for ours, encoded as S3 encodes keys.
fn s3_event(key: &str) -> S3Event {
    let mut event = event("s3-put.json");
    let encoded = key.replace(' ', "+");
    event["Records"][0]["s3"]["object"]["key"] = serde_json::json!(encoded);
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn every_supported_format_becomes_ready_with_pages_and_chunks() {
    let harness = Harness::new().await;
    let cases = [
        (
            "lighthouse.pdf",
            "Lighthouse manual.pdf",
            "application/pdf",
            3,
        ),
        (
            "handbook.docx",
            "Staff handbook.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            2,
        ),
        ("notes.txt", "notes.txt", "text/plain", 1),
        ("guide.md", "guide.md", "text/markdown", 1),
        ("page.html", "page.html", "text/html", 1),
        ("prices.csv", "prices.csv", "text/csv", 1),
    ];
    for (fixture, name, content_type, pages) in cases {
        let document = harness.upload("user-a", fixture, name, content_type).await;
        assert_eq!(document.status, DocumentStatus::Pending);

        let outcome = harness.deliver(&document).await;

        let stored = harness.stored(&document).await;
        assert_eq!(
            stored.status,
            DocumentStatus::Ready,
            "{fixture}: {:?} {outcome:?}",
            stored.status_reason
        );
        assert_eq!(stored.pages, Some(pages), "{fixture}");
        let chunks = harness
            .index
            .count(&document.user_id, &document.document_id)
            .await
            .unwrap();
        assert!(chunks > 0, "{fixture}");
        assert_eq!(stored.chunks, Some(chunks as u32), "{fixture}");
        assert_eq!(stored.status_reason, None);
    }
}

#[tokio::test]
async fn pdf_chunks_keep_their_page_numbers() {
    let harness = Harness::new().await;
    let document = harness
        .upload("user-a", "lighthouse.pdf", "manual.pdf", "application/pdf")
        .await;
    harness.deliver(&document).await;
    let scope = askdocs_shared::model::SearchScope {
        user_id: "user-a".into(),
        document_ids: None,
    };
    let hits = harness.words(&scope, "E-4012").await;
    assert_eq!(hits[0].page, 2, "{hits:?}");
    let hits = harness.words(&scope, "harbour fee").await;
    assert_eq!(hits[0].page, 3, "{hits:?}");
}

/// (file name, document id) of each user's documents where `text` is found, with its page.
async fn pages_with(harness: &Harness, user: &str, text: &str) -> Vec<(String, u32)> {
    let scope = askdocs_shared::model::SearchScope {
        user_id: user.into(),
        document_ids: None,
    };
    harness
        .words(&scope, text)
        .await
        .into_iter()
        .map(|hit| (hit.document_id.to_string(), hit.page))
        .collect()
}

#[tokio::test]
async fn scans_and_photos_are_read_by_ocr_and_cite_their_own_pages() {
    // (tesseract-ocr and poppler-utils: scripts/ocr-tools.sh, run by make test)
    let harness = Harness::new().await;
    let cases = [
        // A PDF of pictures only, a PDF whose page 2 alone is a picture, a photo of page 2.
        ("scanned-manual.pdf", "scan.pdf", "application/pdf", 3, 2),
        ("mixed-manual.pdf", "mixed.pdf", "application/pdf", 3, 2),
        ("page-photo.png", "photo.png", "image/png", 1, 1),
    ];
    for (fixture, name, content_type, pages, page_with_code) in cases {
        // GIVEN the upload
        let document = harness.upload("user-o", fixture, name, content_type).await;
        // WHEN it is processed
        harness.deliver(&document).await;
        // THEN it is ready, every page counted, with nothing left to say
        let stored = harness.stored(&document).await;
        assert_eq!(
            (stored.status, stored.pages, stored.status_reason.as_deref()),
            (DocumentStatus::Ready, Some(pages), None),
            "{fixture}"
        );
        // AND the words on its pictures are found, on the page they are on
        let found = pages_with(&harness, "user-o", "E-4012").await;
        assert!(
            found.contains(&(document.document_id.to_string(), page_with_code)),
            "{fixture}: {found:?}"
        );
    }
    // AND a mixed PDF's text pages are its own text, on their pages
    let found = pages_with(&harness, "user-o", "harbour fee").await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(_, page)| *page == 3), "{found:?}");
}

#[tokio::test]
async fn a_scan_beyond_the_page_limit_fails_before_any_page_is_read() {
    let harness = Harness::with(&[("ASKDOCS_OCR_MAX_PAGES", "2")]).await;
    let document = harness
        .upload(
            "user-o",
            "scanned-manual.pdf",
            "scan.pdf",
            "application/pdf",
        )
        .await;
    harness.deliver(&document).await;
    let stored = harness.stored(&document).await;
    assert_eq!(stored.status, DocumentStatus::Failed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some(
            "3 pages have no text layer to read; OCR reads at most 2 pages of a document \
             (ASKDOCS_OCR_MAX_PAGES): split the scan into smaller files"
        )
    );
    // AND nothing of it is indexed
    assert_eq!(
        harness
            .index
            .count(&document.user_id, &document.document_id)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn without_ocr_the_text_pages_still_index_and_the_owner_is_told() {
    let harness = Harness::with(&[("ASKDOCS_OCR", "off")]).await;
    // GIVEN a PDF whose page 2 is a scan, and a photo
    let mixed = harness
        .upload("user-o", "mixed-manual.pdf", "mixed.pdf", "application/pdf")
        .await;
    let photo = harness
        .upload("user-o", "page-photo.png", "photo.png", "image/png")
        .await;
    harness.deliver(&mixed).await;
    harness.deliver(&photo).await;
    // THEN the PDF is ready on its text pages, and says which page was not read and why
    let stored = harness.stored(&mixed).await;
    assert_eq!(stored.status, DocumentStatus::Ready);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some(
            "page 2 without a text layer (scanned?) not read: OCR is turned off (ASKDOCS_OCR=off)"
        )
    );
    assert_eq!(pages_with(&harness, "user-o", "harbour fee").await.len(), 1);
    assert!(pages_with(&harness, "user-o", "E-4012").await.is_empty());
    // AND the photo, all picture, fails with the reason
    let stored = harness.stored(&photo).await;
    assert_eq!(stored.status, DocumentStatus::Failed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("the PNG image was not read: OCR is turned off (ASKDOCS_OCR=off)")
    );
}

#[tokio::test]
async fn bad_files_fail_with_a_reason_and_leave_nothing_indexed() {
    let harness = Harness::new().await;
    let cases = [
        ("corrupt.pdf", "corrupt.pdf", "application/pdf", "damaged"),
        (
            "scanned.pdf",
            "scan.pdf",
            "application/pdf",
            // Read by OCR where tesseract is installed (nothing found on a
            // drawn rectangle); where not, left unread with what to install.
            "scan",
        ),
        ("empty.txt", "empty.txt", "text/plain", "the file is empty"),
        (
            "binary.txt",
            "program.txt",
            "text/plain",
            "binary, not text",
        ),
        (
            "bomb.docx",
            "bomb.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "zip bomb",
        ),
        ("notes.txt", "notes.pdf", "application/pdf", "not a PDF"),
    ];
    for (fixture, name, content_type, reason) in cases {
        let document = harness.upload("user-b", fixture, name, content_type).await;

        let outcome = harness.deliver(&document).await;

        let stored = harness.stored(&document).await;
        assert_eq!(
            stored.status,
            DocumentStatus::Failed,
            "{fixture}: {outcome:?}"
        );
        let stated = stored.status_reason.clone().unwrap_or_default();
        assert!(stated.contains(reason), "{fixture}: {stated}");
        assert_eq!(
            harness
                .index
                .count(&document.user_id, &document.document_id)
                .await
                .unwrap(),
            0,
            "{fixture}"
        );
    }
}

#[tokio::test]
async fn the_same_event_delivered_twice_leaves_one_copy() {
    let harness = Harness::new().await;
    let document = harness
        .upload("user-c", "lighthouse.pdf", "manual.pdf", "application/pdf")
        .await;
    harness.deliver(&document).await;
    let first = harness
        .index
        .count(&document.user_id, &document.document_id)
        .await
        .unwrap();

    // WHEN S3 delivers the same notification again
    let outcome = harness.deliver(&document).await;

    // THEN it is skipped and the index holds exactly the same chunks
    assert!(
        matches!(outcome[0], Processed::Skipped { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        harness
            .index
            .count(&document.user_id, &document.document_id)
            .await
            .unwrap(),
        first
    );
    assert_eq!(harness.stored(&document).await.chunks, Some(first as u32));
}

#[tokio::test]
async fn a_failed_document_reprocessed_replaces_rather_than_duplicates() {
    let harness = Harness::new().await;
    let document = harness
        .upload("user-d", "notes.txt", "notes.txt", "text/plain")
        .await;
    harness.deliver(&document).await;
    let chunks = harness
        .index
        .count(&document.user_id, &document.document_id)
        .await
        .unwrap();
    // GIVEN the document was marked failed (e.g. a retried run) with its chunks still there
    let failed = askdocs_shared::model::ProcessingOutcome::Failed {
        reason: "retry".into(),
    };
    harness
        .store
        .finish_processing(&document.user_id, &document.document_id, &failed)
        .await
        .unwrap();
    // WHEN it is processed again THEN the chunk count is the same, not doubled
    harness.deliver(&document).await;
    assert_eq!(
        harness
            .index
            .count(&document.user_id, &document.document_id)
            .await
            .unwrap(),
        chunks
    );
    assert_eq!(
        harness.stored(&document).await.status,
        DocumentStatus::Ready
    );
}

#[tokio::test]
async fn keys_that_are_not_known_documents_are_skipped() {
    let harness = Harness::new().await;
    for key in [
        "documents/9b2f1c3e-4d5a-4b6c-8d7e-0f1a2b3c4d5e/0c8f6a52-3b1d-4e7f-9a2b-5c6d7e8f9a0b/Annual_Report_2026.pdf",
        "uploads/elsewhere.pdf",
    ] {
        let outcome = handle(&harness.state, s3_event(key)).await.unwrap();
        assert!(matches!(outcome[0], Processed::Skipped { .. }), "{key}: {outcome:?}");
    }
    // The committed event itself parses and names a key in the documents layout.
    let event: S3Event = serde_json::from_value(event("s3-put.json")).unwrap();
    let keys = askdocs_processing::created_object_keys(&event);
    assert!(askdocs_shared::model::object_key::parse_object_key(&keys[0]).is_some());
}

#[tokio::test]
async fn a_document_another_run_holds_asks_for_a_retry_instead_of_being_dropped() {
    let harness = Harness::new().await;
    let document = harness
        .upload("user-e", "notes.txt", "notes.txt", "text/plain")
        .await;
    // GIVEN another run has just claimed the document
    let recent =
        askdocs_shared::model::timestamp(chrono::Utc::now() - chrono::Duration::minutes(15));
    assert!(harness
        .store
        .start_processing(&document.user_id, &document.document_id, &recent)
        .await
        .unwrap()
        .is_some());

    // WHEN the same upload's event arrives THEN Lambda is asked to retry it later
    let error = handle(&harness.state, s3_event(&document.key))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(
        harness.stored(&document).await.status,
        DocumentStatus::Processing
    );
}

#[tokio::test]
async fn a_file_put_after_its_document_was_deleted_is_removed() {
    let harness = Harness::new().await;
    let document = harness
        .upload("user-f", "notes.txt", "notes.txt", "text/plain")
        .await;
    // GIVEN the document is deleted but its upload URL is used again afterwards
    harness
        .documents
        .delete(&document.user_id, &document.document_id)
        .await
        .unwrap();
    std::fs::create_dir_all(harness.object_path(&document.key).parent().unwrap()).unwrap();
    std::fs::write(harness.object_path(&document.key), b"late upload").unwrap();

    // WHEN its event is processed THEN nothing is indexed and the stray file is gone
    let outcome = harness.deliver(&document).await;
    assert!(
        matches!(outcome[0], Processed::Skipped { .. }),
        "{outcome:?}"
    );
    assert!(!harness.object_path(&document.key).exists());
    assert_eq!(
        harness
            .index
            .count(&document.user_id, &document.document_id)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn runs_interrupted_by_a_restart_are_recovered_and_processed_again() {
    let harness = Harness::new().await;
    let document = harness
        .upload("user-g", "notes.txt", "notes.txt", "text/plain")
        .await;
    // GIVEN a run claimed the document and then the process died
    let long_ago = "2000-01-01T00:00:00.000Z";
    assert!(harness
        .store
        .start_processing(&document.user_id, &document.document_id, long_ago)
        .await
        .unwrap()
        .is_some());

    // WHEN the server starts again and recovers interrupted runs
    let recovered = harness
        .state
        .processor
        .recover_interrupted(EVERY_RUN)
        .await
        .unwrap();

    // THEN the document is handed back for processing, and processing it makes it ready
    let retried: Vec<_> = recovered
        .retry
        .iter()
        .map(|retry| (retry.key.clone(), retry.size))
        .collect();
    assert_eq!(retried, vec![(document.key.clone(), document.size)]);
    assert_eq!(
        harness.stored(&document).await.status,
        DocumentStatus::Failed
    );
    harness.deliver(&document).await;
    assert_eq!(
        harness.stored(&document).await.status,
        DocumentStatus::Ready
    );
    // AND a second recovery finds nothing
    assert!(harness
        .state
        .processor
        .recover_interrupted(EVERY_RUN)
        .await
        .unwrap()
        .retry
        .is_empty());
}

#[tokio::test]
async fn hostile_files_fail_alone_with_a_reason_within_their_limits() {
    // GIVEN tight extract limits, so each hostile file is stopped quickly
    let harness = Harness::with(&[
        ("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "5"),
        ("ASKDOCS_EXTRACT_MEMORY_MB", "256"),
    ])
    .await;
    for file in hostile::all(256 << 20) {
        // WHEN each is uploaded and its event processed
        let document = harness
            .upload_bytes("user-h", file.bytes, file.name, file.content_type)
            .await;
        let started = std::time::Instant::now();
        harness.deliver(&document).await;
        let elapsed = started.elapsed();
        // THEN the run ends — this test process is still here — with a reason a person reads
        let stored = harness.stored(&document).await;
        let reason = stored.status_reason.clone().unwrap_or_default();
        println!(
            "{}: {:?} {reason:?} after {elapsed:?}",
            file.name, stored.status
        );
        assert!(
            stored.status == DocumentStatus::Ready
                || (stored.status == DocumentStatus::Failed
                    && !reason.is_empty()
                    && !reason.contains("on our side")),
            "{}: {stored:?}",
            file.name
        );
        // AND within the time limit, give or take the run's own work
        assert!(
            elapsed < std::time::Duration::from_secs(30),
            "{} took {elapsed:?}",
            file.name
        );
        assert_eq!(
            harness
                .index
                .count(&document.user_id, &document.document_id)
                .await
                .unwrap(),
            stored.chunks.unwrap_or(0) as usize
        );
    }
}

#[tokio::test]
async fn a_run_over_its_time_says_so() {
    let harness = Harness::with(&[("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "2")]).await;
    let file = hostile::exponential_xobjects_pdf();
    let document = harness
        .upload_bytes("user-t", file.bytes, file.name, file.content_type)
        .await;
    harness.deliver(&document).await;
    let stored = harness.stored(&document).await;
    assert_eq!(stored.status, DocumentStatus::Failed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("the PDF could not be read safely: it took longer than 2 s")
    );
}

#[tokio::test]
async fn a_run_over_its_memory_says_so() {
    let harness = Harness::with(&[("ASKDOCS_EXTRACT_MEMORY_MB", "128")]).await;
    let file = hostile::flate_bomb_pdf(512 << 20);
    let document = harness
        .upload_bytes("user-m", file.bytes, file.name, file.content_type)
        .await;
    harness.deliver(&document).await;
    let stored = harness.stored(&document).await;
    assert_eq!(stored.status, DocumentStatus::Failed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("the PDF could not be read safely: it needed more than 128 MB")
    );
}

#[tokio::test]
async fn a_document_whose_runs_died_twice_is_given_up() {
    let harness = Harness::new().await;
    let document = harness
        .upload("user-d", "notes.txt", "notes.txt", "text/plain")
        .await;
    // GIVEN two runs claimed the document and died (the second took over the first)
    let long_ago = "2000-01-01T00:00:00.000Z";
    for attempt in 1..=2 {
        assert_eq!(
            harness
                .store
                .start_processing(&document.user_id, &document.document_id, long_ago)
                .await
                .unwrap(),
            Some(attempt)
        );
        if attempt == 1 {
            harness
                .store
                .finish_processing(
                    &document.user_id,
                    &document.document_id,
                    &askdocs_shared::model::ProcessingOutcome::Failed {
                        reason: askdocs_shared::processing::INTERRUPTED.into(),
                    },
                )
                .await
                .unwrap();
        }
    }
    // WHEN the server starts again THEN the document is failed, not retried
    let recovered = harness
        .state
        .processor
        .recover_interrupted(EVERY_RUN)
        .await
        .unwrap();
    assert!(recovered.retry.is_empty());
    assert_eq!(recovered.failed, 1);
    let stored = harness.stored(&document).await;
    assert_eq!(stored.status, DocumentStatus::Failed);
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("processing stopped twice; upload it again")
    );
}

#[tokio::test]
async fn deleting_a_document_stops_its_run() {
    // GIVEN a document whose parser spins for up to a minute
    let harness = Harness::with(&[("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "60")]).await;
    let file = hostile::exponential_xobjects_pdf();
    let document = harness
        .upload_bytes("user-x", file.bytes, file.name, file.content_type)
        .await;
    let state = harness.state.clone();
    let key = document.key.clone();
    let run = tokio::spawn(async move { handle(&state, s3_event(&key)).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // WHEN it is deleted
    let started = std::time::Instant::now();
    harness
        .documents
        .delete(&document.user_id, &document.document_id)
        .await
        .unwrap();
    // THEN the run ends at once, having recorded nothing
    let outcome = run.await.unwrap().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(outcome[0], Processed::Skipped { .. }),
        "{outcome:?}"
    );
    assert!(harness
        .store
        .get(&document.user_id, &document.document_id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_removed_file_takes_the_passages_of_its_deleted_document_along() {
    // GIVEN a ready document whose record was deleted by a function that may
    // not write the index (OpenSearch Serverless lets only processing in)
    let harness = Harness::new().await;
    let document = harness
        .upload("user-r", "notes.txt", "notes.txt", "text/plain")
        .await;
    harness.deliver(&document).await;
    assert!(
        harness
            .index
            .count(&document.user_id, &document.document_id)
            .await
            .unwrap()
            > 0
    );
    harness
        .store
        .delete(&document.user_id, &document.document_id)
        .await
        .unwrap();

    // WHEN S3 reports its file removed
    let mut event = s3_event(&document.key);
    event.records[0].event_name = Some("ObjectRemoved:Delete".into());
    handle(&harness.state, event).await.unwrap();

    // THEN no passage of it is left
    assert_eq!(
        harness
            .index
            .count(&document.user_id, &document.document_id)
            .await
            .unwrap(),
        0
    );
}

/// The real SQS event of `name` whose first message's body is `body`.
fn sqs_event(name: &str, body: &str) -> serde_json::Value {
    let mut event = event(name);
    event["Records"][0]["body"] = serde_json::json!(body);
    event
}

/// WHEN: Lambda invokes the function with `payload`, as the runtime does.
async fn invoke(harness: &Harness, payload: serde_json::Value) -> serde_json::Value {
    askdocs_processing::lambda::handle_event(
        &harness.state,
        lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_upload_notification_on_the_processing_queue_is_processed() {
    // GIVEN an uploaded file, and S3's notification of it as the queue delivers it
    let harness = Harness::new().await;
    let document = harness
        .upload("user-q", "notes.txt", "queued notes.txt", "text/plain")
        .await;
    let notification = serde_json::to_string(&s3_event(&document.key)).unwrap();
    let batch = sqs_event("sqs-s3-put.json", &notification);
    // WHEN the processing function receives the batch
    let response = invoke(&harness, batch).await;
    // THEN the document is ready and no message is handed back for retry
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
    assert_eq!(
        harness.stored(&document).await.status,
        DocumentStatus::Ready
    );
}

#[tokio::test]
async fn a_reprocess_message_runs_the_document_again() {
    // GIVEN a document whose run died, put back on the queue by the sweep
    let harness = Harness::new().await;
    let document = harness
        .upload("user-r", "notes.txt", "notes.txt", "text/plain")
        .await;
    let message = askdocs_shared::ports::ReprocessMessage::for_document(&document);
    let batch = sqs_event(
        "sqs-reprocess.json",
        &serde_json::to_string(&message).unwrap(),
    );
    // WHEN the processing function receives it
    let response = invoke(&harness, batch).await;
    // THEN the document is processed
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
    assert_eq!(
        harness.stored(&document).await.status,
        DocumentStatus::Ready
    );
}

#[tokio::test]
async fn s3s_test_event_and_unreadable_messages_are_not_retried_forever() {
    let harness = Harness::new().await;
    for body in [
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-27T09:58:01.123Z","Bucket":"askdocs-documents","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#,
        "not json at all",
        r#"{"something":"else"}"#,
    ] {
        // WHEN a message that is no work arrives
        let response = invoke(&harness, sqs_event("sqs-s3-put.json", body)).await;
        // THEN it is done with (logged), not handed back to be delivered again
        assert_eq!(
            response["batchItemFailures"],
            serde_json::json!([]),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_document_held_by_another_run_is_handed_back_to_the_queue() {
    // GIVEN a document another run is processing right now
    let harness = Harness::new().await;
    let document = harness
        .upload("user-h", "notes.txt", "held.txt", "text/plain")
        .await;
    harness
        .store
        .start_processing(
            &document.user_id,
            &document.document_id,
            "2000-01-01T00:00:00.000Z",
        )
        .await
        .unwrap()
        .unwrap();
    let notification = serde_json::to_string(&s3_event(&document.key)).unwrap();
    let batch = sqs_event("sqs-s3-put.json", &notification);
    let message_id = batch["Records"][0]["messageId"].clone();
    // WHEN its upload notification arrives
    let response = invoke(&harness, batch).await;
    // THEN that message is reported failed, so SQS delivers it again later
    assert_eq!(
        response["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": message_id}])
    );
}

#[tokio::test]
async fn an_upload_url_that_expired_without_its_file_fails_and_one_whose_file_came_is_processed() {
    // GIVEN two upload URLs issued long ago: one file never arrived, the
    // other did but its notification was lost
    let harness = Harness::new().await;
    let user = askdocs_shared::model::UserId::generate();
    let ticket = |name: &str| {
        let mut document =
            askdocs_shared::testing::sample_document(&user, "2026-01-01T00:00:00.000Z");
        document.status = DocumentStatus::Uploading;
        document.file_name = name.to_string();
        document.content_type = "text/plain".into();
        document.key = format!("documents/{user}/{}/{name}", document.document_id);
        document
    };
    let (never, arrived) = (ticket("never.txt"), ticket("arrived.txt"));
    for document in [&never, &arrived] {
        assert!(harness
            .store
            .create(document, &askdocs_shared::config::Quota::UNLIMITED)
            .await
            .unwrap());
    }
    let path = harness.object_path(&arrived.key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"The harbour fee is ten crowns.").unwrap();

    // WHEN the scheduled sweep runs
    let swept = askdocs_processing::sweep(&harness.state).await.unwrap();

    // THEN the upload that never came is failed, saying so
    assert_eq!(swept.failed, 1, "{swept:?}");
    let never = harness.stored(&never).await;
    assert_eq!(never.status, DocumentStatus::Failed);
    assert_eq!(
        never.status_reason.as_deref(),
        Some(askdocs_shared::processing::UPLOAD_NEVER_ARRIVED)
    );
    // AND the file that came is processed after all
    assert_eq!(harness.stored(&arrived).await.status, DocumentStatus::Ready);
}
