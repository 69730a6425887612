//! Helpers for tests that drive the functions with the real events in
//! `events/`, on the embedded backends or on the AWS emulator.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::backends::Backends;
use crate::config::Config;
use crate::processing::sandbox::WorkerProgram;

/// The workspace root (this crate lives in `shared/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The model `make model` fetched, or wherever ASKDOCS_MODEL_DIR points.
pub fn model_dir() -> PathBuf {
    std::env::var_os("ASKDOCS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".models/all-MiniLM-L6-v2"))
}

/// A committed test document from `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(workspace().join("tests/fixtures").join(name))
        .unwrap_or_else(|error| panic!("fixture {name}: {error}"))
}

/// A real event from `events/`.
pub fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(workspace().join("events").join(name))
        .unwrap_or_else(|error| panic!("event {name}: {error}"));
    serde_json::from_str(&text).unwrap()
}

/// The processing binary, built next to the running test (`cargo test
/// --workspace` builds every binary), to run as the extract worker: a test
/// binary cannot re-execute itself as one.
pub fn worker_program() -> WorkerProgram {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let path = profile_dir.join("processing");
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (cargo test --workspace does)",
        path.display()
    );
    WorkerProgram::Exec { path }
}

/// The configuration `settings` describe, nothing from the process environment.
pub fn config_from(settings: &[(&str, String)]) -> Config {
    Config::from_lookup(|name| {
        settings
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })
    .unwrap()
}

/// The embedded backend in `data_dir`, with the real model and `extra` settings.
pub fn embedded_config(data_dir: &Path, extra: &[(&str, &str)]) -> Config {
    let mut settings = vec![
        ("ASKDOCS_DATA_DIR", data_dir.display().to_string()),
        ("ASKDOCS_MODEL_DIR", model_dir().display().to_string()),
    ];
    settings.extend(extra.iter().map(|(key, value)| (*key, value.to_string())));
    config_from(&settings)
}

/// Embedded backends in `data_dir` whose extract worker is the real processing binary.
pub async fn embedded_backends(data_dir: &Path, extra: &[(&str, &str)]) -> Backends {
    let mut backends = Backends::connect(&embedded_config(data_dir, extra))
        .await
        .unwrap();
    backends.set_worker_program(worker_program());
    backends
}

/// As the local server sees a request: the caller's Bearer token, no authorizer context.
pub fn with_bearer(mut event: Value, token: &str) -> Value {
    let value = format!("Bearer {token}");
    event["headers"]["Authorization"] = json!(value);
    event["multiValueHeaders"]["Authorization"] = json!([value]);
    if let Some(context) = event["requestContext"].as_object_mut() {
        context.remove("authorizer");
    }
    event
}

/// The event with these query string parameters (both of API Gateway's forms).
pub fn with_query(mut event: Value, query: Value) -> Value {
    let multi: serde_json::Map<String, Value> = query
        .as_object()
        .expect("query parameters are an object")
        .iter()
        .map(|(key, value)| (key.clone(), json!([value])))
        .collect();
    event["queryStringParameters"] = query;
    event["multiValueQueryStringParameters"] = Value::Object(multi);
    event
}

/// Registers and logs in a user; returns (user id, bearer token).
pub async fn signed_in(backends: &Backends, email: &str) -> (crate::model::UserId, String) {
    let accounts = backends.accounts().unwrap();
    let password = "Correct1horse".to_string();
    let user_id = accounts
        .register(email, password.clone(), None)
        .await
        .unwrap()
        .user_id;
    let session = accounts.login(email, password, None).await.unwrap();
    (user_id, session.token.token)
}

/// The endpoint of the AWS emulator `make test` starts (moto, at ASKDOCS_TEST_AWS_ENDPOINT).
#[cfg(feature = "aws-admin")]
pub fn aws_endpoint() -> String {
    std::env::var("ASKDOCS_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "ASKDOCS_TEST_AWS_ENDPOINT is not set: run `make test` (it starts moto), or \
             `make moto` and export ASKDOCS_TEST_AWS_ENDPOINT=http://127.0.0.1:5055"
        )
    })
}

/// Settings naming fresh tables, buckets and a vector index for one test.
#[cfg(feature = "aws-admin")]
pub fn aws_settings() -> Vec<(&'static str, String)> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    vec![
        ("ASKDOCS_BACKEND", "aws".into()),
        ("USERS_TABLE", format!("users-{run}")),
        ("TOKENS_TABLE", format!("tokens-{run}")),
        ("DOCUMENTS_TABLE", format!("documents-{run}")),
        ("HISTORY_TABLE", format!("history-{run}")),
        ("DOCUMENTS_BUCKET", format!("askdocs-{run}")),
        ("VECTOR_BUCKET", format!("vectors-{run}")),
        ("VECTOR_INDEX", "passages".into()),
        ("AWS_ENDPOINT_URL", aws_endpoint()),
        (
            "JWT_SECRET",
            "aws-test-secret-aws-test-secret-aws-test".into(),
        ),
        ("ASKDOCS_EMBEDDER", "minilm".into()),
        ("ASKDOCS_GENERATOR", "extractive".into()),
        ("ASKDOCS_MODEL_DIR", model_dir().display().to_string()),
    ]
}

/// The AWS backend on the emulator, with everything in `settings` created
/// (vector index of `dimension`), and the processing binary as extract worker.
#[cfg(feature = "aws-admin")]
pub async fn aws_backends(settings: &[(&str, String)], dimension: usize) -> Backends {
    let config = config_from(settings);
    let clients = crate::aws::AwsClients::for_emulator(&aws_endpoint());
    let crate::config::Backend::Aws(aws) = &config.backend else {
        panic!("AWS settings expected")
    };
    crate::aws::bootstrap::bootstrap(&clients, aws, dimension)
        .await
        .expect("the emulator accepts the schema");
    let mut backends = Backends::with_aws_clients(&config, clients).unwrap();
    backends.set_worker_program(worker_program());
    backends
}

/// Sends an API Gateway proxy event through a router; returns status and JSON body
/// (`Null` when empty). Every body the API sends must be JSON.
pub async fn send(app: &axum::Router, event: Value) -> (u16, Value) {
    let (status, _, body) = send_for_headers(app, event).await;
    (status, body)
}

/// The router's whole response to an API Gateway proxy event.
async fn respond(
    app: &axum::Router,
    event: &Value,
) -> (u16, axum::http::HeaderMap, axum::body::Bytes) {
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, bytes)
}

/// [`send`], with the response's headers.
pub async fn send_for_headers(
    app: &axum::Router,
    event: Value,
) -> (u16, axum::http::HeaderMap, Value) {
    let (status, headers, bytes) = respond(app, &event).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("every response body is JSON")
    };
    (status, headers, body)
}

/// The events of a `text/event-stream` body, in order: each event's name
/// (`message` when unnamed) and its data read as JSON. Panics on an event
/// whose data is not JSON: every event the API sends carries JSON.
pub fn server_sent_events(body: &str) -> Vec<(String, Value)> {
    crate::model::events::parse_events(body)
        .into_iter()
        .map(|(name, data)| {
            let value = serde_json::from_str(&data)
                .unwrap_or_else(|error| panic!("event {name} holds no JSON ({error}): {data}"));
            (name, value)
        })
        .collect()
}

/// [`send_for_headers`] asking for the answer as events: status, headers and
/// the events (an error status gives its JSON body as one `error` event).
pub async fn send_for_events(
    app: &axum::Router,
    mut event: Value,
) -> (u16, axum::http::HeaderMap, Vec<(String, Value)>) {
    event["headers"]["Accept"] = json!("text/event-stream");
    event["multiValueHeaders"]["Accept"] = json!(["text/event-stream"]);
    let (status, headers, bytes) = respond(app, &event).await;
    let text = String::from_utf8(bytes.to_vec()).expect("events are UTF-8");
    let events = if status == 200 {
        server_sent_events(&text)
    } else {
        vec![("error".to_string(), serde_json::from_str(&text).unwrap())]
    };
    (status, headers, events)
}

/// Fresh tables, buckets and an 8-dimension vector index (the contract
/// suites' vectors) on the emulator, with the clients to reach them.
#[cfg(feature = "aws-admin")]
pub async fn aws_emulator() -> (crate::aws::AwsClients, crate::config::AwsSettings) {
    let config = config_from(&aws_settings());
    let crate::config::Backend::Aws(settings) = config.backend else {
        panic!("AWS settings expected")
    };
    let clients = crate::aws::AwsClients::for_emulator(&aws_endpoint());
    crate::aws::bootstrap::bootstrap(&clients, &settings, 8)
        .await
        .expect("the emulator accepts the schema");
    (clients, settings)
}
