//! The Bedrock adapters at the SDK/HTTP level. No emulator serves Bedrock, so
//! a stand-in server on loopback answers the SDK's real, SigV4-signed
//! InvokeModel and Converse calls: the tests check what the adapters send,
//! how they read the replies, and how throttling is reported.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askdocs_shared::aws::{event_stream_frame, AwsClients};
use askdocs_shared::config::{BedrockSettings, DEFAULT_BEDROCK_MODEL_ID};
use askdocs_shared::model::Completion;
use askdocs_shared::ports::{AnswerText, Embedder, Generator};
use askdocs_shared::testing::{embedder_contract, generator_contract, sample_generation_request};
use askdocs_shared::Error;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct StandIn {
    calls: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
    throttle: bool,
    /// How Converse and ConverseStream answer: "end_turn", "max_tokens",
    /// "content_filtered", an HTTP failure "503" / "500"; ConverseStream
    /// also "throttled" (an exception after the first words) and "paced"
    /// (many words, 50 ms apart).
    converse: Arc<Mutex<String>>,
    /// Event-stream frames ConverseStream has sent, and whether the client
    /// went away before the stream ended.
    frames_sent: Arc<AtomicUsize>,
    hung_up: Arc<AtomicBool>,
}

fn stream_event(name: &str, payload: Value) -> Bytes {
    event_stream_frame("event", name, &payload).into()
}

fn text_delta(text: &str) -> Bytes {
    stream_event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": text}}),
    )
}

/// Counts the frames the client received, and notices it hanging up.
struct SentFrames {
    frames: std::vec::IntoIter<(Duration, Bytes)>,
    stand_in: StandIn,
}

impl Drop for SentFrames {
    fn drop(&mut self) {
        if self.frames.len() > 0 {
            self.stand_in.hung_up.store(true, Ordering::SeqCst);
        }
    }
}

async fn converse_stream(
    State(stand_in): State<StandIn>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mode = stand_in.record(format!("converse-stream {model}"), headers, &body);
    let now = Duration::ZERO;
    let mut frames = vec![(
        now,
        stream_event("messageStart", json!({"role": "assistant"})),
    )];
    match mode.as_str() {
        "503" => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("x-amzn-errortype", "ServiceUnavailableException")],
                Json(json!({"message": "ServiceUnavailableException"})),
            )
                .into_response()
        }
        "throttled" => {
            frames.push((now, text_delta("It means")));
            frames.push((
                now,
                event_stream_frame(
                    "exception",
                    "throttlingException",
                    &json!({"message": "Too many tokens, please wait"}),
                )
                .into(),
            ));
        }
        "paced" => {
            for word in 0..100 {
                frames.push((
                    Duration::from_millis(50),
                    text_delta(&format!("word{word} ")),
                ));
            }
        }
        _ => {
            for piece in ["It means", " the fog pump", " stalled [2]."] {
                frames.push((now, text_delta(piece)));
            }
        }
    }
    let stop = match mode.as_str() {
        "max_tokens" | "content_filtered" => mode.as_str(),
        _ => "end_turn",
    };
    frames.push((
        now,
        stream_event("contentBlockStop", json!({"contentBlockIndex": 0})),
    ));
    frames.push((
        now,
        stream_event("messageStop", json!({"stopReason": stop})),
    ));
    frames.push((
        now,
        stream_event(
            "metadata",
            json!({"usage": {"inputTokens": 120, "outputTokens": 12, "totalTokens": 132}, "metrics": {"latencyMs": 240}}),
        ),
    ));
    let sent = SentFrames {
        frames: frames.into_iter(),
        stand_in,
    };
    let body = futures::stream::unfold(sent, |mut sent| async move {
        let (pause, bytes) = sent.frames.next()?;
        tokio::time::sleep(pause).await;
        sent.stand_in.frames_sent.fetch_add(1, Ordering::SeqCst);
        Some((Ok::<_, std::convert::Infallible>(bytes), sent))
    });
    (
        [("content-type", "application/vnd.amazon.eventstream")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

impl StandIn {
    /// Notes a Converse or ConverseStream call; returns how to answer it.
    fn record(&self, call: String, headers: HeaderMap, body: &Bytes) -> String {
        let request: Value = serde_json::from_slice(body).unwrap();
        self.calls.lock().unwrap().push((call, headers, request));
        self.converse.lock().unwrap().clone()
    }
}

/// A pretend Titan: texts about pumps point one way, everything else another.
fn titan_vector(text: &str, dimensions: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dimensions];
    let axis = if text.to_lowercase().contains("pump") {
        0
    } else {
        1
    };
    vector[axis] = 0.8;
    vector[2] = 0.6;
    vector
}

async fn invoke(
    State(stand_in): State<StandIn>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let request: Value = serde_json::from_slice(&body).unwrap();
    stand_in
        .calls
        .lock()
        .unwrap()
        .push((format!("invoke {model}"), headers, request.clone()));
    if stand_in.throttle {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-amzn-errortype", "ThrottlingException")],
            Json(json!({"message": "Too many requests"})),
        )
            .into_response();
    }
    let dimensions = request["dimensions"].as_u64().unwrap() as usize;
    let text = request["inputText"].as_str().unwrap();
    Json(json!({"embedding": titan_vector(text, dimensions), "inputTextTokenCount": 5}))
        .into_response()
}

async fn converse(
    State(stand_in): State<StandIn>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mode = stand_in.record(format!("converse {model}"), headers, &body);
    let failure = |status: StatusCode, kind: &'static str| {
        (
            status,
            [("x-amzn-errortype", kind)],
            Json(json!({"message": kind})),
        )
            .into_response()
    };
    match mode.as_str() {
        // Bedrock takes its time: longer than the ask has left.
        "slow" => tokio::time::sleep(std::time::Duration::from_secs(6)).await,
        "503" => {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
            )
        }
        "500" => return failure(StatusCode::INTERNAL_SERVER_ERROR, "ModelTimeoutException"),
        _ => {}
    }
    let stop = if mode.is_empty() || mode == "slow" {
        "end_turn"
    } else {
        mode.as_str()
    };
    Json(json!({
        "output": {"message": {"role": "assistant", "content": [{"text": "It means the fog pump stalled [2]."}]}},
        "stopReason": stop,
        "usage": {"inputTokens": 120, "outputTokens": 12, "totalTokens": 132},
        "metrics": {"latencyMs": 240}
    }))
    .into_response()
}

async fn stand_in(throttle: bool) -> (AwsClients, StandIn) {
    let stand_in = StandIn {
        throttle,
        ..StandIn::default()
    };
    let app = Router::new()
        .route("/model/{model}/invoke", post(invoke))
        .route("/model/{model}/converse", post(converse))
        .route("/model/{model}/converse-stream", post(converse_stream))
        .with_state(stand_in.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        AwsClients::for_emulator(&format!("http://{address}")),
        stand_in,
    )
}

#[tokio::test]
async fn titan_embeddings_pass_the_embedder_suite_with_signed_requests() {
    let (clients, stand_in) = stand_in(false).await;
    let settings = BedrockSettings::default();
    let embedder = clients.titan_embedder(&settings.embedding_model_id, 256);

    embedder_contract(&embedder).await;

    let calls = stand_in.calls.lock().unwrap();
    let (call, headers, body) = &calls[0];
    assert_eq!(call, "invoke amazon.titan-embed-text-v2:0");
    assert_eq!(body["dimensions"], 256);
    assert_eq!(body["normalize"], true);
    let authorization = headers["authorization"].to_str().unwrap();
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256")
            && authorization.contains("/bedrock/aws4_request"),
        "{authorization}"
    );
}

#[tokio::test]
async fn titan_embeds_each_passage_under_its_documents_title() {
    // GIVEN Titan behind the stand-in
    let (clients, stand_in) = stand_in(false).await;
    let settings = BedrockSettings::default();
    let embedder = clients.titan_embedder(&settings.embedding_model_id, 256);

    // WHEN processing embeds two passages of ubuntu.csv
    let passages = [
        "version: 16.04 LTS; codename: Xenial Xerus".to_string(),
        "version: 18.04 LTS; codename: Bionic Beaver".to_string(),
    ];
    let vectors = embedder.embed_passages("ubuntu", &passages).await.unwrap();

    // THEN each is one vector of the passage read under the title, and no sentence vectors
    assert_eq!(vectors.len(), 2);
    assert!(vectors.iter().all(|vectors| vectors.sentences.is_empty()));
    let calls = stand_in.calls.lock().unwrap();
    let mut embedded: Vec<&str> = calls
        .iter()
        .map(|(_, _, body)| body["inputText"].as_str().unwrap())
        .collect();
    embedded.sort();
    assert_eq!(
        embedded,
        [
            "ubuntu\n\nversion: 16.04 LTS; codename: Xenial Xerus",
            "ubuntu\n\nversion: 18.04 LTS; codename: Bionic Beaver"
        ]
    );
}

#[tokio::test]
async fn claude_answers_through_converse_with_the_fenced_prompt() {
    let (clients, stand_in) = stand_in(false).await;
    let generator = clients.claude_generator(DEFAULT_BEDROCK_MODEL_ID, 1024, 0.0);

    generator_contract(&generator).await;

    let generated = generator
        .generate(&sample_generation_request())
        .await
        .unwrap();
    assert_eq!(generated.model, DEFAULT_BEDROCK_MODEL_ID);
    assert_eq!(
        askdocs_shared::query::citations::cited_passages(&generated.answer, 2),
        vec![2]
    );
    let calls = stand_in.calls.lock().unwrap();
    let (call, _, body) = &calls[0];
    assert_eq!(call, &format!("converse {DEFAULT_BEDROCK_MODEL_ID}"));
    assert!(body["system"][0]["text"].as_str().unwrap().contains("only"));
    assert_eq!(body["inferenceConfig"]["maxTokens"], 1024);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[1]["role"], "assistant");
    let last = messages.last().unwrap()["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        last.contains("<passage number=\"2\" document=\"manual.pdf\" page=\"2\">"),
        "{last}"
    );
}

#[tokio::test]
async fn throttling_is_reported_as_retryable() {
    let (clients, _) = stand_in(true).await;
    let embedder = clients.titan_embedder("amazon.titan-embed-text-v2:0", 1024);
    let error = embedder.embed(&["text".to_string()]).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_cut_answer_is_reported_and_a_filtered_one_is_refused_clearly() {
    let (clients, stand_in) = stand_in(false).await;
    let generator = clients.claude_generator(DEFAULT_BEDROCK_MODEL_ID, 1024, 0.0);
    let request = sample_generation_request();

    *stand_in.converse.lock().unwrap() = "max_tokens".into();
    let generated = generator.generate(&request).await.unwrap();
    assert_eq!(
        generated.completion,
        askdocs_shared::model::Completion::Truncated
    );

    *stand_in.converse.lock().unwrap() = "content_filtered".into();
    let error = generator.generate(&request).await.unwrap_err();
    assert_eq!(error.status_code().as_u16(), 422);
    assert_eq!(error.code(), "content_filtered");
}

#[tokio::test]
async fn bedrock_outages_are_retryable_and_answered_503_with_retry_after() {
    let (clients, stand_in) = stand_in(false).await;
    let generator = clients.claude_generator(DEFAULT_BEDROCK_MODEL_ID, 1024, 0.0);
    for mode in ["503", "500"] {
        *stand_in.converse.lock().unwrap() = mode.into();
        let error = generator
            .generate(&sample_generation_request())
            .await
            .unwrap_err();
        assert!(error.is_retryable(), "{mode}: {error:?}");
        assert_eq!(error.status_code().as_u16(), 503);
        assert!(error.retry_after().is_some());
    }
}

#[tokio::test]
async fn an_answer_gets_the_time_its_ask_has_left_and_is_never_billed_twice() {
    let (clients, stand_in) = stand_in(false).await;
    let generator = clients.claude_generator(DEFAULT_BEDROCK_MODEL_ID, 1024, 0.0);

    // GIVEN an ask with 3 s left
    let mut request = sample_generation_request();
    request.time_left = Some(std::time::Duration::from_secs(3));
    // WHEN the model answers in time
    generator.generate(&request).await.unwrap();
    // THEN it was asked for no more tokens than it can write in that time
    let max_tokens = stand_in.calls.lock().unwrap()[0].2["inferenceConfig"]["maxTokens"].clone();
    assert_eq!(max_tokens, 75);

    // GIVEN a model slower than the time left
    stand_in.calls.lock().unwrap().clear();
    *stand_in.converse.lock().unwrap() = "slow".into();
    let started = std::time::Instant::now();
    // WHEN it is asked
    let error = generator.generate(&request).await.unwrap_err();
    // THEN the ask ends when its time does, with a 504 that says so,
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.status_code().as_u16(), 504, "{error:?}");
    assert_eq!(error.code(), "timeout");
    // AND the call that timed out was not sent a second time
    assert_eq!(stand_in.calls.lock().unwrap().len(), 1);

    // GIVEN too little time left for any answer THEN the model is not called at all
    stand_in.calls.lock().unwrap().clear();
    request.time_left = Some(std::time::Duration::from_secs(2));
    let error = generator.generate(&request).await.unwrap_err();
    assert_eq!(error.status_code().as_u16(), 504);
    assert!(stand_in.calls.lock().unwrap().is_empty());
}

/// The pieces a streamed answer sent, joined, and how it ended.
async fn streamed(
    generator: &dyn Generator,
    request: &askdocs_shared::model::GenerationRequest,
) -> (
    String,
    askdocs_shared::Result<askdocs_shared::model::Generated>,
) {
    let (written, mut pieces) = AnswerText::channel();
    let outcome = generator.generate_streaming(request, &written).await;
    drop(written);
    let mut joined = String::new();
    while let Some(piece) = pieces.recv().await {
        joined.push_str(&piece);
    }
    (joined, outcome)
}

#[tokio::test]
async fn claude_streams_its_answer_through_converse_stream() {
    // GIVEN Bedrock answering in three pieces
    let (clients, stand_in) = stand_in(false).await;
    let generator = clients.claude_generator(DEFAULT_BEDROCK_MODEL_ID, 1024, 0.0);
    let request = sample_generation_request();

    // WHEN the answer is streamed
    let (joined, outcome) = streamed(&generator, &request).await;

    // THEN each piece was passed on, and together they are the answer
    let generated = outcome.unwrap();
    assert_eq!(joined, "It means the fog pump stalled [2].");
    assert_eq!(generated.answer, joined);
    assert_eq!(generated.completion, Completion::Complete);
    // AND the call was ConverseStream with the same fenced prompt and budget
    let calls = stand_in.calls.lock().unwrap();
    let (call, headers, body) = &calls[0];
    assert_eq!(call, &format!("converse-stream {DEFAULT_BEDROCK_MODEL_ID}"));
    assert!(headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256"));
    assert!(body["system"][0]["text"].as_str().unwrap().contains("only"));
    assert_eq!(body["inferenceConfig"]["maxTokens"], 1024);
}

#[tokio::test]
async fn a_streamed_answer_reports_a_cut_a_filter_and_a_failure_mid_stream() {
    let (clients, stand_in) = stand_in(false).await;
    let generator = clients.claude_generator(DEFAULT_BEDROCK_MODEL_ID, 1024, 0.0);
    let request = sample_generation_request();

    *stand_in.converse.lock().unwrap() = "max_tokens".into();
    let (_, outcome) = streamed(&generator, &request).await;
    assert_eq!(outcome.unwrap().completion, Completion::Truncated);

    *stand_in.converse.lock().unwrap() = "content_filtered".into();
    let (_, outcome) = streamed(&generator, &request).await;
    assert_eq!(outcome.unwrap_err().code(), "content_filtered");

    // A throttling exception after the first words: retryable, not internal.
    *stand_in.converse.lock().unwrap() = "throttled".into();
    let (joined, outcome) = streamed(&generator, &request).await;
    assert_eq!(joined, "It means");
    let error = outcome.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(error.status_code().as_u16(), 503);

    *stand_in.converse.lock().unwrap() = "503".into();
    let (joined, outcome) = streamed(&generator, &request).await;
    assert!(joined.is_empty());
    assert_eq!(outcome.unwrap_err().status_code().as_u16(), 503);
}

#[tokio::test]
async fn dropping_a_streamed_answer_closes_bedrocks_stream() {
    // GIVEN Bedrock writing 100 words, 50 ms apart
    let (clients, stand_in) = stand_in(false).await;
    *stand_in.converse.lock().unwrap() = "paced".into();
    let generator = clients.claude_generator(DEFAULT_BEDROCK_MODEL_ID, 1024, 0.0);
    let request = sample_generation_request();
    let (written, mut pieces) = AnswerText::channel();

    // WHEN the asker stops after the first three words (the client hung up)
    let generation = generator.generate_streaming(&request, &written);
    tokio::select! {
        _ = generation => panic!("the answer cannot end in time"),
        _ = async { for _ in 0..3 { pieces.recv().await.unwrap(); } } => {}
    }

    // THEN Bedrock's stream is closed: no more words are sent (billed)
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = stand_in.frames_sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stand_in.frames_sent.load(Ordering::SeqCst), sent);
    assert!(sent < 10, "{sent} frames sent");
    assert!(stand_in.hung_up.load(Ordering::SeqCst));
}
