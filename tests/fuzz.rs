//! Fuzz targets that run on stable Rust (shared::testing::fuzz): extraction of
//! each format through the sandbox, chunking, and the request extractors of
//! every route. `make test` runs each briefly; for longer runs:
//!
//!     FUZZ_ITERATIONS=20000 cargo test --release -p askdocs-local --test fuzz
//!
//! (scripts/fuzz.sh does that, and runs the cargo-fuzz targets in fuzz/).
//! A failure prints the seed and iteration; FUZZ_SEED replays it.

use std::time::{Duration, Instant};

use askdocs_shared::config::{ChunkSettings, ExtractLimits};
use askdocs_shared::model::Format;
use askdocs_shared::processing::chunk::{chunk_pages, Page};
use askdocs_shared::processing::runs::Cancellation;
use askdocs_shared::processing::sandbox::{ParseFailure, Sandbox, WorkerProgram};
use askdocs_shared::testing::fuzz::{budget, Mutator};
use askdocs_shared::testing::harness::{embedded_backends, fixture, signed_in};
use askdocs_shared::testing::hostile;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt as _;

const PDF_TOKENS: &[&[u8]] = &[
    b"<<",
    b">>",
    b"[",
    b"]",
    b" obj ",
    b"endobj",
    b"stream\n",
    b"endstream",
    b" 0 R",
    b"/Type /Page",
    b"/Parent 2 0 R",
    b"/Kids [3 0 R]",
    b"/XObject",
    b" Do ",
    b"/Filter /FlateDecode",
    b"BT (x) Tj ET",
    b"xref",
    b"trailer",
    b"startxref",
    b"/Length 99999999",
    b"/Resources << /Font << /F1 5 0 R >> >>",
    b"/F1 12 Tf ",
    b"[(a) -500 (b)] TJ",
    b" 0 0 1 72 700 Tm ",
    b"/Subtype /Type0 /Encoding /Identity-H",
    b"/DescendantFonts [6 0 R]",
    b"/W [1 [500 600] 10 20 300]",
    b"/ToUnicode 7 0 R",
    b"beginbfrange <00> <FF> <0041> endbfrange",
    b"/Encoding << /Differences [1 /fi /uni0041] >>",
    b"/Subtype /Type3 /FontMatrix [0.001 0 0 0.001 0 0]",
    b"/Subtype /Form /Matrix [1 0 0 1 0 0]",
];
const XML_TOKENS: &[&[u8]] = &[
    b"<w:p>",
    b"</w:p>",
    b"<w:t>",
    b"</w:t>",
    b"<w:br w:type=\"page\"/>",
    b"<w:tab/>",
    b"&amp;",
    b"&#x10FFFF;",
    b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
    b"PK\x03\x04",
];
const HTML_TOKENS: &[&[u8]] = &[
    b"<div>",
    b"</div>",
    b"<table><tr><td>",
    b"</td><td>",
    b"</tr></table>",
    b"<script>",
    b"<pre>",
    b"<h1>",
    b"&nbsp;",
    b"<li>",
    b"<!--",
    b"-->",
    b"<![CDATA[",
];
const TEXT_TOKENS: &[&[u8]] = &[
    b"\x1b[1m",
    b"\x1b[0m",
    b"a\x08a",
    b"_\x08b",
    b"\r\n",
    b"\n\n",
    b". ",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\t",
    b"\0",
    b"\"",
    b",",
    b";",
];

fn seeds(format: Format) -> Vec<Vec<u8>> {
    match format {
        Format::Pdf => vec![
            fixture("lighthouse.pdf"),
            fixture("corrupt.pdf"),
            fixture("scanned.pdf"),
            hostile::self_drawing_pdf().bytes,
            hostile::own_parent_pdf().bytes,
        ],
        Format::Docx => vec![fixture("handbook.docx")],
        Format::Html => vec![
            fixture("page.html"),
            b"<html><body><p>x</p></body></html>".to_vec(),
        ],
        Format::Csv => vec![fixture("prices.csv")],
        Format::Png => vec![
            hostile::white_png(32, 16),
            hostile::truncated_png().bytes,
            hostile::huge_header_png().bytes,
        ],
        Format::Jpeg => vec![hostile::huge_header_jpeg().bytes],
        Format::Tiff => vec![hostile::looping_tiff().bytes],
        Format::Text | Format::Markdown => vec![
            fixture("notes.txt"),
            fixture("guide.md"),
            fixture("maintenance-log.txt"),
            fixture("binary.txt"),
        ],
    }
}

fn tokens(format: Format) -> &'static [&'static [u8]] {
    match format {
        Format::Pdf => PDF_TOKENS,
        Format::Docx => XML_TOKENS,
        Format::Html => HTML_TOKENS,
        _ => TEXT_TOKENS,
    }
}

/// Whatever bytes arrive, parsing ends — with passages that fit, or a
/// reason for the owner — within the limits; the worker never fails us.
#[tokio::test]
async fn extraction_of_every_format_ends_within_its_limits() {
    let (iterations, seed) = budget(40);
    let limits = ExtractLimits {
        timeout: Duration::from_secs(3),
        memory_bytes: 256 << 20,
    };
    let settings = ChunkSettings::default();
    let sandbox = Sandbox::new(
        WorkerProgram::Exec {
            path: env!("CARGO_BIN_EXE_askdocs").into(),
        },
        limits,
        settings,
        5_000,
        50 << 20,
    );
    let never = Cancellation::never();
    for (index, format) in Format::ALL.into_iter().enumerate() {
        let mut mutator = Mutator::new(seed + index as u64, seeds(format), tokens(format), 1 << 20);
        for iteration in 0..iterations {
            let input = mutator.input();
            let started = Instant::now();
            let outcome = sandbox.parse(input.clone(), format, &never).await;
            let context = format!(
                "{format:?} input {iteration} (FUZZ_SEED={seed}, {} bytes)",
                input.len()
            );
            match outcome {
                Ok(parsed) => {
                    assert!(
                        parsed
                            .chunks
                            .iter()
                            .all(|chunk| chunk.text.chars().count() <= settings.max_chars),
                        "{context}: a passage is too long"
                    );
                }
                Err(ParseFailure::Refused(reason)) => {
                    assert!(!reason.trim().is_empty(), "{context}: empty reason")
                }
                Err(other) => panic!("{context}: {other:?}"),
            }
            assert!(
                started.elapsed() < limits.timeout + Duration::from_secs(3),
                "{context}: took {:?}",
                started.elapsed()
            );
        }
    }
}

/// Passages always fit, keep their page, count up, and carry text.
#[test]
fn chunking_keeps_its_promises_on_any_text() {
    let (iterations, seed) = budget(500);
    let mut mutator = Mutator::new(
        seed,
        vec![
            fixture("maintenance-log.txt"),
            fixture("guide.md"),
            "x".repeat(5000).into_bytes(),
            ". ".repeat(3000).into_bytes(),
        ],
        TEXT_TOKENS,
        256 << 10,
    );
    for iteration in 0..iterations {
        let input = mutator.input();
        let max_chars = 200 + mutator.rng().below(1000);
        let settings = ChunkSettings {
            max_chars,
            overlap_chars: mutator.rng().below(max_chars / 2 + 1),
        };
        let text = String::from_utf8_lossy(&input);
        let split = text
            .char_indices()
            .nth(text.chars().count() / 2)
            .map_or(0, |(at, _)| at);
        let pages = [
            Page {
                number: 1,
                text: text[..split].to_string(),
            },
            Page {
                number: 2,
                text: text[split..].to_string(),
            },
        ];
        let chunks = chunk_pages(&pages, settings);
        let context = format!("input {iteration} (FUZZ_SEED={seed}), {settings:?}");
        for (ordinal, chunk) in chunks.iter().enumerate() {
            assert_eq!(chunk.ordinal as usize, ordinal, "{context}");
            assert!(chunk.text.chars().count() <= max_chars, "{context}");
            assert!(chunk.text.chars().any(char::is_alphanumeric), "{context}");
            assert!([1, 2].contains(&chunk.page), "{context}");
        }
    }
}

/// Whatever a client sends to any route, the answer is JSON, and never a
/// server error: the extractors turn every malformed part into a 4xx.
#[tokio::test]
async fn request_extractors_answer_every_request_with_a_client_error() {
    let (iterations, seed) = budget(500);
    let data_dir = tempfile::tempdir().unwrap();
    let backends = embedded_backends(
        data_dir.path(),
        &[("ASKDOCS_PUBLIC_URL", "http://127.0.0.1:3000")],
    )
    .await;
    let (_, token) = signed_in(&backends, "fuzz@example.com").await;
    let app = askdocs_shared::http::finish(
        axum::Router::new()
            .merge(askdocs_auth::routes(
                askdocs_auth::AuthState::new(&backends).unwrap(),
            ))
            .merge(askdocs_document::routes(
                askdocs_document::DocumentState::new(&backends).unwrap(),
            ))
            .merge(askdocs_query::routes(
                askdocs_query::QueryState::new(&backends).unwrap(),
            )),
        None,
    );
    let targets = [
        (
            "POST",
            "/auth/register",
            r#"{"email":"a@b.co","password":"Correct1horse","name":"A"}"#,
        ),
        (
            "POST",
            "/auth/login",
            r#"{"email":"fuzz@example.com","password":"Correct1horse"}"#,
        ),
        ("GET", "/auth/profile", ""),
        (
            "POST",
            "/documents/upload",
            r#"{"fileName":"a.pdf","contentType":"application/pdf","size":10}"#,
        ),
        ("POST", "/documents?fileName=a.txt", "hello"),
        (
            "GET",
            "/documents?limit=5&cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "",
        ),
        ("GET", "/documents/0c8f6a52-3b1d-4e7f-9a2b-5c6d7e8f9a0b", ""),
        (
            "DELETE",
            "/documents/0c8f6a52-3b1d-4e7f-9a2b-5c6d7e8f9a0b",
            "",
        ),
        (
            "POST",
            "/query/ask",
            r#"{"question":"What is E-4012?","topK":3,"documentIds":null}"#,
        ),
        ("GET", "/query/history?limit=2&conversationId=abc", ""),
    ];
    let json_tokens: &[&[u8]] = &[
        b"{", b"}", b"[", b"]", b"\"", b":", b",", b"null", b"true", b"-1", b"1e999", b"\\u0000",
        b"\\ud800", b"%00", b"%ff", b"&", b"=", b"/", b"..", b"?",
    ];
    let mut mutator = Mutator::new(
        seed,
        targets
            .iter()
            .map(|(_, path, body)| format!("{path}\n{body}").into_bytes())
            .collect(),
        json_tokens,
        64 << 10,
    );
    for iteration in 0..iterations {
        let (method, _, _) = targets[mutator.rng().below(targets.len())];
        let input = String::from_utf8_lossy(&mutator.input()).into_owned();
        let (path, body) = input.split_once('\n').unwrap_or((input.as_str(), ""));
        let path: String = path.chars().filter(|c| c.is_ascii_graphic()).collect();
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        let Ok(uri) = path.parse::<axum::http::Uri>() else {
            continue;
        };
        let mut request = Request::builder().method(method).uri(uri);
        if mutator.rng().below(4) != 0 {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let content_type = [
            "application/json",
            "text/plain",
            "application/pdf",
            "",
            "multipart/form-data",
        ][mutator.rng().below(5)];
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let context = format!("{method} {path} (input {iteration}, FUZZ_SEED={seed})");
        assert!(
            status < 500,
            "{context}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        if status >= 400 {
            let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("{context}: not JSON: {}", String::from_utf8_lossy(&bytes))
            });
            assert!(error["error"]["code"].is_string(), "{context}: {error}");
        }
    }
}
