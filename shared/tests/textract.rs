//! The Textract adapter against a stand-in speaking Textract's JSON protocol
//! (awsJson1.1, `X-Amz-Target: Textract.<Operation>`). No emulator serves
//! Textract: the stand-in runs text detection jobs that take a few polls,
//! pages results with NextToken, answers a repeated start with the same job
//! (as Textract does for one ClientRequestToken), and refuses bad documents
//! as Textract does. The SDK client is the real one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askdocs_shared::aws::{AwsClients, TextractOcr};
use askdocs_shared::error::Error;
use askdocs_shared::model::Format;
use askdocs_shared::ports::{OcrRequest, OcrService};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

const BUCKET: &str = "askdocs-documents";

#[derive(Default)]
struct Jobs {
    /// ClientRequestToken → job id.
    by_token: HashMap<String, String>,
    /// Job id → polls left before it succeeds.
    polls_left: HashMap<String, u32>,
    started: Vec<Value>,
    detected: Vec<Value>,
    polls: usize,
}

#[derive(Clone)]
struct StandIn {
    jobs: Arc<Mutex<Jobs>>,
    /// Polls a job takes.
    job_polls: u32,
}

/// LINE blocks (and a WORD one, which is not text to keep) for pages 1..=3.
fn blocks() -> Vec<Value> {
    let mut blocks = vec![json!({"BlockType": "PAGE", "Page": 1})];
    for (page, lines) in [
        (1, vec!["The Lighthouse Keeper's Manual"]),
        (
            2,
            vec![
                "Chapter 2: The fog pump",
                "Error code E-4012 means the fog pump stalled.",
            ],
        ),
        (
            3,
            vec![
                "Chapter 3: Harbour fees",
                "Visiting boats pay 40 crowns per night.",
            ],
        ),
    ] {
        for line in lines {
            blocks.push(json!({"BlockType": "LINE", "Text": line, "Page": page}));
            blocks.push(json!({"BlockType": "WORD", "Text": "word", "Page": page}));
        }
    }
    blocks
}

fn reply(value: Value) -> Response {
    (
        [("content-type", "application/x-amz-json-1.1")],
        value.to_string(),
    )
        .into_response()
}

fn refuse(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

async fn textract(State(stand_in): State<StandIn>, headers: HeaderMap, body: String) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut jobs = stand_in.jobs.lock().unwrap();
    match target.as_str() {
        "Textract.StartDocumentTextDetection" => {
            let name = request["DocumentLocation"]["S3Object"]["Name"]
                .as_str()
                .unwrap_or("");
            if name.ends_with("bad.pdf") {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "BadDocumentException",
                    "Request has invalid Document",
                );
            }
            jobs.started.push(request.clone());
            let token = request["ClientRequestToken"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let next = format!("job-{}", jobs.by_token.len() + 1);
            let job = jobs.by_token.entry(token).or_insert(next).clone();
            let polls = stand_in.job_polls;
            jobs.polls_left.entry(job.clone()).or_insert(polls);
            reply(json!({"JobId": job}))
        }
        "Textract.GetDocumentTextDetection" => {
            jobs.polls += 1;
            let job = request["JobId"].as_str().unwrap_or("").to_string();
            let Some(left) = jobs.polls_left.get_mut(&job) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "InvalidJobIdException",
                    "no such job",
                );
            };
            if *left > 0 {
                *left -= 1;
                return reply(json!({"JobStatus": "IN_PROGRESS"}));
            }
            // Results two blocks at a time, as Textract pages long results.
            let all = blocks();
            let start: usize = request["NextToken"]
                .as_str()
                .and_then(|token| token.parse().ok())
                .unwrap_or(0);
            let end = (start + 2).min(all.len());
            let mut page = json!({
                "JobStatus": "SUCCEEDED",
                "DocumentMetadata": {"Pages": 3},
                "Blocks": all[start..end],
            });
            if end < all.len() {
                page["NextToken"] = json!(end.to_string());
            }
            reply(page)
        }
        "Textract.DetectDocumentText" => {
            jobs.detected.push(request.clone());
            reply(json!({
                "DocumentMetadata": {"Pages": 1},
                "Blocks": [
                    {"BlockType": "PAGE"},
                    {"BlockType": "LINE", "Text": "Chapter 2: The fog pump"},
                    {"BlockType": "LINE", "Text": "Error code E-4012 means the fog pump stalled."}
                ],
            }))
        }
        other => refuse(StatusCode::BAD_REQUEST, "UnknownOperationException", other),
    }
}

async fn start(job_polls: u32) -> (String, Arc<Mutex<Jobs>>) {
    let jobs = Arc::new(Mutex::new(Jobs::default()));
    let app = axum::Router::new().fallback(textract).with_state(StandIn {
        jobs: jobs.clone(),
        job_polls,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, jobs)
}

fn ocr(url: &str) -> TextractOcr {
    TextractOcr::with_clients(
        AwsClients::for_emulator(url),
        BUCKET,
        Duration::from_millis(5),
    )
}

fn request<'a>(key: &'a str, format: Format, pages: &'a [u32], wait: Duration) -> OcrRequest<'a> {
    OcrRequest {
        key,
        format,
        pages,
        run_token: "3f0e7a52-4a8b-4f7e-9d55-0d2f3c1b9a10",
        deadline: Instant::now() + wait,
    }
}

#[tokio::test]
async fn a_scanned_pdfs_pages_come_from_a_job_read_to_its_last_result_page() {
    let (url, jobs) = start(3).await;
    // WHEN pages 3 and 2 of a PDF in S3 are read
    let read = ocr(&url)
        .read_pages(request(
            "documents/u/d/scan.pdf",
            Format::Pdf,
            &[3, 2],
            Duration::from_secs(10),
        ))
        .await
        .unwrap();
    // THEN each comes back with its lines, in the order asked, and nothing of other pages
    assert_eq!(
        read,
        vec![
            (
                3,
                "Chapter 3: Harbour fees\nVisiting boats pay 40 crowns per night.".to_string()
            ),
            (
                2,
                "Chapter 2: The fog pump\nError code E-4012 means the fog pump stalled."
                    .to_string()
            ),
        ]
    );
    let jobs = jobs.lock().unwrap();
    // AND Textract read the object where it is, under the run's token
    assert_eq!(jobs.started.len(), 1);
    assert_eq!(
        jobs.started[0]["DocumentLocation"]["S3Object"],
        json!({"Bucket": BUCKET, "Name": "documents/u/d/scan.pdf"})
    );
    assert_eq!(
        jobs.started[0]["ClientRequestToken"],
        "3f0e7a52-4a8b-4f7e-9d55-0d2f3c1b9a10"
    );
    // AND the job was polled while it ran, then every result page was read
    let result_pages = blocks().len().div_ceil(2);
    assert_eq!(jobs.polls, 3 + result_pages);
}

#[tokio::test]
async fn a_run_out_of_time_is_retried_and_resumes_the_same_job() {
    // GIVEN a job that takes longer than the run may wait
    let (url, jobs) = start(40).await;
    let textract = ocr(&url);
    let error = textract
        .read_pages(request(
            "documents/u/d/long.pdf",
            Format::Pdf,
            &[1],
            Duration::from_millis(50),
        ))
        .await
        .unwrap_err();
    // THEN the run is told to try again
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    // WHEN the retried run asks again, with the same token and time enough
    let read = textract
        .read_pages(request(
            "documents/u/d/long.pdf",
            Format::Pdf,
            &[1],
            Duration::from_secs(10),
        ))
        .await
        .unwrap();
    assert_eq!(
        read,
        vec![(1, "The Lighthouse Keeper's Manual".to_string())]
    );
    // THEN it was the same job: Textract was not asked to read the file twice
    let jobs = jobs.lock().unwrap();
    assert_eq!(jobs.by_token.len(), 1);
    assert_eq!(
        jobs.started.len(),
        2,
        "the start was repeated with the same token"
    );
}

#[tokio::test]
async fn a_photo_is_read_at_once_and_a_bad_document_is_refused_for_good() {
    let (url, jobs) = start(0).await;
    let textract = ocr(&url);
    // WHEN a PNG is read
    let read = textract
        .read_pages(request(
            "documents/u/d/photo.png",
            Format::Png,
            &[1],
            Duration::from_secs(10),
        ))
        .await
        .unwrap();
    // THEN DetectDocumentText read it in S3, its lines on page 1
    assert_eq!(
        read,
        vec![(
            1,
            "Chapter 2: The fog pump\nError code E-4012 means the fog pump stalled.".to_string()
        )]
    );
    assert_eq!(
        jobs.lock().unwrap().detected[0]["Document"]["S3Object"],
        json!({"Bucket": BUCKET, "Name": "documents/u/d/photo.png"})
    );
    // WHEN Textract refuses a document
    let error = textract
        .read_pages(request(
            "documents/u/d/bad.pdf",
            Format::Pdf,
            &[1],
            Duration::from_secs(10),
        ))
        .await
        .unwrap_err();
    // THEN it is the document's problem, said in words, not a retry
    match error {
        Error::Unprocessable { code, message } => {
            assert_eq!(code, "unreadable_scan");
            assert!(
                message.starts_with("Textract cannot read this file"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}
