//! The query function as Lambda runs it: the real `query` binary, fed real
//! API Gateway events by a stand-in for Lambda's Runtime API, answering in
//! response-streaming mode as API Gateway's STREAM transfer mode expects
//! (a JSON prelude, eight NUL bytes, then the body as it is written).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use askdocs_shared::testing::harness::{
    embedded_backends, event, fixture, model_dir, server_sent_events, signed_in, with_bearer,
};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};

/// What the function sent back for one invocation.
#[derive(Debug, Clone)]
struct Reply {
    headers: HeaderMap,
    /// The body's pieces, as they arrived.
    chunks: Vec<Bytes>,
}

#[derive(Clone, Default)]
struct RuntimeApi {
    events: Arc<Mutex<Vec<Value>>>,
    replies: Arc<Mutex<Vec<(String, Reply)>>>,
    errors: Arc<Mutex<Vec<String>>>,
    replied: Arc<tokio::sync::Notify>,
}

/// `GET /runtime/invocation/next`: the next event, or none ever again.
async fn next_invocation(State(api): State<RuntimeApi>) -> impl IntoResponse {
    let next = {
        let mut events = api.events.lock().unwrap();
        (!events.is_empty()).then(|| events.remove(0))
    };
    let Some(event) = next else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        + Duration::from_secs(60);
    let request_id = uuid_like(api.replies.lock().unwrap().len());
    (
        [
            ("lambda-runtime-aws-request-id", request_id),
            (
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            ),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:askdocs-query".into(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-6746e2a1-5f0c9c7b2d3e4f5a6b7c8d9e;Sampled=0".into(),
            ),
        ],
        event.to_string(),
    )
}

fn uuid_like(number: usize) -> String {
    format!("8476a536-e9f4-11e8-9739-{number:012}")
}

/// `POST /runtime/invocation/{id}/response`: read as the function streams it.
async fn response(
    State(api): State<RuntimeApi>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> impl IntoResponse {
    let mut body = body;
    let mut chunks = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("the body arrives whole").into_data() {
            chunks.push(data);
        }
    }
    api.replies
        .lock()
        .unwrap()
        .push((request_id, Reply { headers, chunks }));
    api.replied.notify_one();
    axum::http::StatusCode::ACCEPTED
}

async fn error(State(api): State<RuntimeApi>, body: String) -> impl IntoResponse {
    api.errors.lock().unwrap().push(body);
    api.replied.notify_one();
    axum::http::StatusCode::ACCEPTED
}

async fn runtime_api(events: Vec<Value>) -> (String, RuntimeApi) {
    let api = RuntimeApi {
        events: Arc::new(Mutex::new(events)),
        ..RuntimeApi::default()
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address.to_string(), api)
}

/// A streamed reply: API Gateway's prelude (status and headers) and the body.
fn prelude_and_body(reply: &Reply) -> (Value, String) {
    let whole: Vec<u8> = reply.chunks.concat();
    let delimiter = whole
        .windows(8)
        .position(|window| window == [0u8; 8])
        .expect("eight NUL bytes end the prelude");
    assert!(
        delimiter < 16 * 1024,
        "the prelude fits API Gateway's 16 KB"
    );
    let prelude: Value = serde_json::from_slice(&whole[..delimiter]).unwrap();
    let body = String::from_utf8(whole[delimiter + 8..].to_vec()).unwrap();
    (prelude, body)
}

#[tokio::test]
async fn the_query_lambda_streams_an_answer_in_api_gateways_streaming_format() {
    // GIVEN Ada and her processed manual on the embedded backends
    let data_dir = tempfile::tempdir().unwrap();
    let backends = embedded_backends(data_dir.path(), &[]).await;
    let (ada, token) = signed_in(&backends, "ada@example.com").await;
    let document = backends
        .documents()
        .unwrap()
        .upload(
            &ada,
            "Lighthouse manual.pdf",
            None,
            fixture("lighthouse.pdf"),
            u64::MAX,
        )
        .await
        .unwrap();
    let processing = askdocs_processing::ProcessingState::new(&backends).unwrap();
    askdocs_processing::handle(
        &processing,
        askdocs_processing::object_created_event("askdocs-local", &document.key, 0),
    )
    .await
    .unwrap();
    // AND two real API Gateway events: her question asked for as events,
    // then as JSON
    let mut streamed = with_bearer(event("query-ask.json"), &token);
    streamed["headers"]["Accept"] = json!("text/event-stream");
    streamed["multiValueHeaders"]["Accept"] = json!(["text/event-stream"]);
    let plain = with_bearer(event("query-ask.json"), &token);
    let (address, api) = runtime_api(vec![streamed, plain]).await;

    // WHEN the query binary runs under that Runtime API
    let mut function = tokio::process::Command::new(env!("CARGO_BIN_EXE_query"))
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "askdocs-query")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/askdocs-query")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/07/[$LATEST]0123")
        .env("ASKDOCS_BACKEND", "embedded")
        .env("ASKDOCS_DATA_DIR", data_dir.path())
        .env("ASKDOCS_MODEL_DIR", model_dir())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let answered = async {
        while api.replies.lock().unwrap().len() + api.errors.lock().unwrap().len() < 2 {
            api.replied.notified().await;
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(Duration::from_secs(60), answered) => {}
        status = function.wait() => panic!("the function stopped: {status:?}"),
    }
    assert!(
        api.errors.lock().unwrap().is_empty(),
        "{:?}",
        api.errors.lock().unwrap()
    );
    let replies = api.replies.lock().unwrap().clone();

    // THEN it answered in Lambda's response-streaming mode, with the HTTP
    // integration prelude API Gateway reads
    let (_, reply) = &replies[0];
    assert_eq!(
        reply.headers["lambda-runtime-function-response-mode"],
        "streaming"
    );
    assert_eq!(
        reply.headers["content-type"],
        "application/vnd.awslambda.http-integration-response"
    );
    let (prelude, body) = prelude_and_body(reply);
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(prelude["headers"]["content-type"], "text/event-stream");
    // AND every header holds one value: API Gateway's prelude takes no lists
    for (name, value) in prelude["headers"].as_object().unwrap() {
        assert!(value.is_string(), "{name}: {value}");
    }
    // AND the body was streamed (chunked, no length known up front): the
    // passages first, then the answer as it was written, then where it was filed
    assert_eq!(reply.headers["transfer-encoding"], "chunked");
    assert!(!reply.headers.contains_key("content-length"));
    let events = server_sent_events(&body);
    assert_eq!(events[0].0, "citations", "{body}");
    assert!(events[1..events.len() - 1]
        .iter()
        .all(|(name, _)| name == "answer"));
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done", "{body}");
    assert!(done["answer"]
        .as_str()
        .unwrap()
        .contains("fog pump stalled"));
    assert!(done["queryId"].as_str().is_some());

    // AND the same function answers a client that asked for JSON with JSON
    let (_, reply) = &replies[1];
    let (prelude, body) = prelude_and_body(reply);
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(prelude["headers"]["content-type"], "application/json");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(answer["answer"]
        .as_str()
        .unwrap()
        .contains("fog pump stalled"));

    // AND both answers are in Ada's history
    let history = backends
        .asker()
        .unwrap()
        .history(&ada, None, None, None)
        .await
        .unwrap();
    let filed: Vec<&str> = history
        .items
        .iter()
        .map(|entry| entry.query_id.as_str())
        .collect();
    assert!(filed.contains(&done["queryId"].as_str().unwrap()));
    assert!(filed.contains(&answer["queryId"].as_str().unwrap()));
}
