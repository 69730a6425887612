//! DynamoDB's BatchGetItem as the document store uses it, against a stand-in
//! on loopback: moto always processes every key, while DynamoDB under load
//! may leave some unprocessed for the caller to ask again.

use std::sync::{Arc, Mutex};

use askdocs_shared::aws::AwsClients;
use askdocs_shared::model::DocumentId;
use askdocs_shared::ports::DocumentStore;
use askdocs_shared::Error;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

const TABLE: &str = "documents";

/// Answers BatchGetItem with at most `per_call` of the keys asked; the rest
/// come back as UnprocessedKeys. Records the keys of every call.
#[derive(Clone)]
struct StandIn {
    per_call: usize,
    calls: Arc<Mutex<Vec<Vec<String>>>>,
}

fn document_item(key: &Value) -> Value {
    let id = key["documentId"]["S"].as_str().unwrap();
    json!({
        "userId": key["userId"],
        "documentId": {"S": id},
        "fileName": {"S": format!("{id}.txt")},
        "contentType": {"S": "text/plain"},
        "size": {"N": "10"},
        "objectKey": {"S": format!("uploads/{id}")},
        "status": {"S": "ready"},
        "uploadDate": {"S": "2026-01-01T00:00:00.000Z"},
        "updatedAt": {"S": "2026-01-01T00:00:00.000Z"},
    })
}

async fn dynamodb(State(stand_in): State<StandIn>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    assert_eq!(headers["x-amz-target"], "DynamoDB_20120810.BatchGetItem");
    let request: Value = serde_json::from_slice(&body).unwrap();
    let asked = &request["RequestItems"][TABLE];
    assert_eq!(asked["ConsistentRead"], true);
    let keys = asked["Keys"].as_array().unwrap();
    stand_in.calls.lock().unwrap().push(
        keys.iter()
            .map(|key| key["documentId"]["S"].as_str().unwrap().to_string())
            .collect(),
    );
    let (answered, left) = keys.split_at(stand_in.per_call.min(keys.len()));
    // Any order: the answered items come back reversed.
    let items: Vec<Value> = answered.iter().rev().map(document_item).collect();
    let unprocessed = match left {
        [] => json!({}),
        left => json!({ TABLE: { "Keys": left, "ConsistentRead": true } }),
    };
    Json(json!({ "Responses": { TABLE: items }, "UnprocessedKeys": unprocessed }))
}

async fn start(per_call: usize) -> (StandIn, AwsClients) {
    let stand_in = StandIn {
        per_call,
        calls: Arc::default(),
    };
    let app = Router::new()
        .route("/", post(dynamodb))
        .with_state(stand_in.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (stand_in, AwsClients::for_emulator(&endpoint))
}

#[tokio::test]
async fn keys_left_unprocessed_are_asked_again_and_the_order_asked_is_kept() {
    // GIVEN a DynamoDB that processes two keys a call
    let (stand_in, clients) = start(2).await;
    let store = clients.document_store(TABLE);
    let asked: Vec<DocumentId> = ["d3", "d1", "d2", "d1"].map(DocumentId::from).to_vec();
    // WHEN three documents are read at once (one of them named twice)
    let documents = store.get_many(&"owner".into(), &asked).await.unwrap();
    // THEN every one comes back, in the order asked, after a second call for the one left
    let ids: Vec<&str> = documents.iter().map(|d| d.document_id.as_str()).collect();
    assert_eq!(ids, ["d3", "d1", "d2", "d1"]);
    assert!(documents.iter().all(|d| d.user_id == "owner"));
    let calls = stand_in.calls.lock().unwrap().clone();
    assert_eq!(calls, [vec!["d1", "d2", "d3"], vec!["d3"]]);
}

#[tokio::test]
async fn keys_never_processed_make_the_store_unavailable() {
    // GIVEN a DynamoDB too loaded to process any key
    let (stand_in, clients) = start(0).await;
    let store = clients.document_store(TABLE);
    // WHEN documents are read THEN the store answers unavailable after the SDK's attempts
    let error = store
        .get_many(&"owner".into(), &["d1".into()])
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
    assert_eq!(stand_in.calls.lock().unwrap().len(), 3);
}
