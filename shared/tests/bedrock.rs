//! The Bedrock adapters at the SDK/HTTP level. No emulator serves Bedrock, so
//! a stand-in server on loopback answers the SDK's real, SigV4-signed
//! InvokeModel and Converse calls: the tests check what the adapters send,
//! how they read the replies, and how throttling is reported.

use std::sync::{Arc, Mutex};

use askdocs_shared::aws::AwsClients;
use askdocs_shared::config::{BedrockSettings, DEFAULT_BEDROCK_MODEL_ID};
use askdocs_shared::ports::{Embedder, Generator};
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
    /// How Converse answers: "end_turn", "max_tokens", "content_filtered",
    /// or an HTTP failure "503" / "500".
    converse: Arc<Mutex<String>>,
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
    let request: Value = serde_json::from_slice(&body).unwrap();
    stand_in
        .calls
        .lock()
        .unwrap()
        .push((format!("converse {model}"), headers, request));
    let mode = stand_in.converse.lock().unwrap().clone();
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
