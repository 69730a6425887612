//! The OpenSearch Serverless adapter against a stand-in on loopback that
//! behaves like a VECTORSEARCH collection (scripts/opensearch_standin.py):
//! it verifies SigV4 for service `aoss`, assigns its own ids, refuses custom
//! ids, has no `_delete_by_query` or `refresh`, and makes writes searchable
//! only after a delay. Nothing here serves the real service: what AOSS does
//! beyond what the stand-in models is not verified (see the README).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use askdocs_shared::aws::{AwsClients, OpenSearchIndex};
use askdocs_shared::testing::{self, harness::workspace};
use serde_json::Value;

struct StandIn {
    child: Child,
    endpoint: String,
}

impl StandIn {
    fn start(visibility_delay_ms: u64) -> Self {
        let mut child = Command::new("python3")
            .arg(workspace().join("scripts/opensearch_standin.py"))
            .args([
                "--port",
                "0",
                "--visibility-delay-ms",
                &visibility_delay_ms.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the stand-in");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let endpoint = first
            .trim()
            .strip_prefix("opensearch-standin listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        StandIn { child, endpoint }
    }

    async fn index(&self, name: &str, dimension: usize) -> OpenSearchIndex {
        let clients = AwsClients::for_emulator(&self.endpoint);
        let index = clients.opensearch_index(&self.endpoint, name);
        index.create_index(dimension).await.unwrap();
        index
    }

    /// Every request the stand-in received, as it recorded them.
    async fn requests(&self) -> Vec<Value> {
        let url = format!("{}/_standin/requests", self.endpoint);
        let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        body["requests"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_opensearch_index_passes_the_shared_suite_with_signed_requests() {
    // GIVEN a collection whose writes become searchable only after 300 ms
    let stand_in = StandIn::start(300);
    let index = stand_in.index("passages", 8).await;

    // WHEN the contract suite runs THEN the adapter keeps every promise of the port
    testing::vector_index_contract(&index).await;

    // AND every request was SigV4-signed for aoss with the body's hash
    let requests = stand_in.requests().await;
    assert!(!requests.is_empty());
    for request in &requests {
        let headers = &request["headers"];
        let authorization = headers["authorization"].as_str().unwrap_or_default();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=testing/")
                && authorization.contains("/eu-west-1/aoss/aws4_request"),
            "{request}"
        );
        assert_eq!(
            headers["x-amz-content-sha256"], request["body_sha256"],
            "{request}"
        );
        assert_eq!(request["auth"]["ok"], true, "{}", request["auth"]);
    }
    // AND bulk writes are NDJSON ending in a newline, without ids of our own
    let bulk = requests
        .iter()
        .find(|request| {
            request["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("_bulk")
        })
        .expect("a _bulk request");
    let body = bulk["body"].as_str().unwrap();
    assert!(body.ends_with('\n'), "{body}");
    assert!(
        !body.contains("\"_id\"") || body.contains("\"delete\""),
        "{body}"
    );
    // AND k-NN searches carry the owner filter
    let search = requests
        .iter()
        .find(|request| request["path"] == "/_msearch")
        .expect("an _msearch request");
    let body = search["body"].as_str().unwrap();
    assert!(
        body.contains("\"knn\"") && body.contains("\"filter\"") && body.contains("userId"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_index_is_told_by_opensearchs_error_type() {
    // GIVEN a collection with the index already made
    let stand_in = StandIn::start(0);
    let clients = AwsClients::for_emulator(&stand_in.endpoint);
    let index = clients.opensearch_index(&stand_in.endpoint, "passages");
    assert!(
        index.create_index(8).await.unwrap(),
        "created the first time"
    );
    // WHEN it is made again (a second bootstrap) THEN it is found, not an error
    assert!(!index.create_index(8).await.unwrap());
    // AND a mapping OpenSearch refuses for another reason is still an error
    let refused = clients.opensearch_index(&stand_in.endpoint, "Not_Lowercase");
    assert!(refused.create_index(8).await.is_err());
}

#[tokio::test]
async fn throttled_and_failing_opensearch_requests_are_tried_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    // GIVEN a collection that throttles, then fails once, then answers
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            match counter.fetch_add(1, Ordering::SeqCst) {
                0 => (
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "slow down".to_string(),
                ),
                1 => (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "busy".to_string(),
                ),
                _ => (axum::http::StatusCode::OK, r#"{"count": 7}"#.to_string()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let index = AwsClients::for_emulator(&endpoint).opensearch_index(&endpoint, "passages");
    // WHEN a document's passages are counted
    let count = askdocs_shared::ports::VectorIndex::count(&index, &"u1".into(), &"d1".into())
        .await
        .unwrap();
    // THEN the answer came on the third try
    assert_eq!(count, 7);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
