//! The AWS adapters (S3, DynamoDB, S3 Vectors) against moto, a local AWS
//! emulator that `make test` installs from PyPI and starts with our
//! QueryVectors extension (scripts/moto.sh). Every adapter passes the same
//! suite as its embedded twin. moto does not check SigV4 signatures, so what
//! a presigned URL pins is checked in the URL itself.

use askdocs_shared::ports::ObjectStore;
use askdocs_shared::testing;
use askdocs_shared::testing::harness::aws_emulator;

#[tokio::test]
async fn dynamodb_user_store_passes_the_shared_suite() {
    let (clients, settings) = aws_emulator().await;
    testing::user_store_contract(&clients.user_store(&settings.users_table)).await;
}

#[tokio::test]
async fn dynamodb_token_store_passes_the_shared_suite() {
    let (clients, settings) = aws_emulator().await;
    testing::token_store_contract(&clients.token_store(&settings.tokens_table)).await;
}

#[tokio::test]
async fn dynamodb_document_store_passes_the_shared_suite() {
    let (clients, settings) = aws_emulator().await;
    testing::document_store_contract(&clients.document_store(&settings.documents_table)).await;
}

#[tokio::test]
async fn dynamodb_history_store_passes_the_shared_suite() {
    let (clients, settings) = aws_emulator().await;
    testing::history_store_contract(&clients.history_store(&settings.history_table)).await;
}

#[tokio::test]
async fn s3_object_store_passes_the_shared_suite() {
    let (clients, settings) = aws_emulator().await;
    testing::object_store_contract(&clients.object_store(&settings.bucket)).await;
}

#[tokio::test]
async fn s3_vectors_index_passes_the_shared_suite() {
    let (clients, settings) = aws_emulator().await;
    let askdocs_shared::config::VectorStoreSettings::S3Vectors { bucket, index } =
        &settings.vector_store
    else {
        panic!("the test settings name an S3 Vectors store")
    };
    testing::vector_index_contract(&clients.vector_index(bucket, index)).await;
}

#[tokio::test]
async fn presigned_uploads_pin_type_and_size_and_deliver_the_file() {
    let (clients, settings) = aws_emulator().await;
    let store = clients.object_store(&settings.bucket);
    let key = "documents/user-1/doc-1/Annual_report.pdf";
    let body = b"%PDF-1.4 a small file".to_vec();

    // GIVEN an upload URL for a 21-byte PDF
    let ticket = store
        .presign_upload(
            key,
            "application/pdf",
            body.len() as u64,
            std::time::Duration::from_secs(900),
        )
        .await
        .unwrap();

    // THEN it is a SigV4 presigned PUT whose signature covers Content-Type and Content-Length
    assert_eq!(ticket.method, "PUT");
    assert!(ticket.url.contains("X-Amz-Signature="), "{}", ticket.url);
    assert!(ticket.url.contains("X-Amz-Expires=900"), "{}", ticket.url);
    let signed = ticket
        .url
        .split("X-Amz-SignedHeaders=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(
        signed.contains("content-length") && signed.contains("content-type"),
        "{signed}"
    );
    assert_eq!(
        ticket.headers.get("Content-Type").map(String::as_str),
        Some("application/pdf")
    );
    assert_eq!(
        ticket.headers.get("Content-Length").map(String::as_str),
        Some("21")
    );

    // WHEN the client PUTs the file with those headers THEN the object is stored
    let client = reqwest::Client::new();
    let mut put = client.put(&ticket.url).body(body.clone());
    for (name, value) in &ticket.headers {
        put = put.header(name, value);
    }
    let response = put.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    assert_eq!(store.get(key).await.unwrap(), Some(body.clone()));

    // AND the download URL names the original file and returns the bytes
    let url = store
        .presign_download(
            key,
            "Annual report.pdf",
            std::time::Duration::from_secs(300),
        )
        .await
        .unwrap();
    assert!(url.contains("response-content-disposition="), "{url}");
    let downloaded = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(downloaded.to_vec(), body);
}

/// A proxy in front of moto that forwards every request, but holds back the
/// answer to the first request whose `X-Amz-Target` is `target` for `delay`
/// (the request itself has reached moto and is applied): what a client sees
/// when DynamoDB's answer is lost. Answers its endpoint and how many requests
/// of `target` it forwarded.
async fn answer_losing_proxy(
    target: &'static str,
    delay: std::time::Duration,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let upstream = testing::harness::aws_endpoint();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let client = reqwest::Client::new();
    let forward = move |request: axum::extract::Request| {
        let (upstream, counter, client) = (upstream.clone(), counter.clone(), client.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let matches = parts
                .headers
                .get("x-amz-target")
                .is_some_and(|value| value.to_str().unwrap_or_default().ends_with(target));
            let mut outgoing = client.request(
                parts.method.clone(),
                format!("{upstream}{}", parts.uri.path_and_query().unwrap()),
            );
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    outgoing = outgoing.header(name, value);
                }
            }
            let reply = outgoing.body(body).send().await.unwrap();
            let status = reply.status();
            let headers = reply.headers().clone();
            let bytes = reply.bytes().await.unwrap();
            if matches && counter.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(delay).await;
            }
            let mut response = axum::response::Response::new(axum::body::Body::from(bytes));
            *response.status_mut() = status;
            for (name, value) in &headers {
                if name != "content-length" && name != "transfer-encoding" {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
    };
    let app = axum::Router::new().fallback(forward);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, seen)
}

/// The document store on moto behind [`answer_losing_proxy`] for `target`,
/// with a DynamoDB attempt timeout (0.5 s) shorter than the lost answer's
/// delay (1.5 s); and how many `target` requests reached moto.
async fn store_losing_first_answer(
    target: &'static str,
) -> (
    askdocs_shared::aws::DynamoDocumentStore,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use askdocs_shared::aws::{AwsClients, ServiceTimeouts};
    let (_, settings) = aws_emulator().await;
    let (endpoint, seen) =
        answer_losing_proxy(target, std::time::Duration::from_millis(1500)).await;
    let timeouts = ServiceTimeouts {
        dynamodb: (
            std::time::Duration::from_millis(500),
            std::time::Duration::from_secs(10),
        ),
        ..ServiceTimeouts::default()
    };
    let store = AwsClients::for_emulator_with(&endpoint, timeouts)
        .document_store(&settings.documents_table);
    (store, seen)
}

#[tokio::test]
async fn a_conditional_update_whose_answer_was_lost_still_wins_the_document() {
    use askdocs_shared::ports::DocumentStore;
    // GIVEN a pending document, and a DynamoDB whose first answer to an
    // UpdateItem comes after the client has stopped waiting
    let (store, updates) = store_losing_first_answer("UpdateItem").await;
    let user = askdocs_shared::model::UserId::generate();
    let document = testing::sample_document(&user, "2026-03-01T00:00:00.000Z");
    assert!(store
        .create(&document, &askdocs_shared::config::Quota::UNLIMITED)
        .await
        .unwrap());

    // WHEN processing starts: the first attempt is applied but its answer is
    // lost, and the SDK's retry finds the condition no longer holds
    let started = store
        .start_processing(&user, &document.document_id, "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();

    // THEN the caller still won the document (it was its own write), once
    assert!(updates.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert_eq!(started, Some(1));
    let stored = store
        .get(&user, &document.document_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.status,
        askdocs_shared::model::DocumentStatus::Processing
    );
    assert_eq!(stored.attempts, 1);
    // AND another run cannot take it
    assert_eq!(
        store
            .start_processing(&user, &document.document_id, "2026-01-01T00:00:00.000Z")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_document_put_whose_answer_was_lost_is_not_reported_as_a_failure() {
    use askdocs_shared::ports::DocumentStore;
    // GIVEN a DynamoDB whose first answer to the document's write comes too late
    let (store, puts) = store_losing_first_answer("TransactWriteItems").await;
    let user = askdocs_shared::model::UserId::generate();
    let document = testing::sample_document(&user, "2026-03-01T00:00:00.000Z");
    // WHEN the document is recorded (the retry meets its own item)
    assert!(store
        .create(&document, &askdocs_shared::config::Quota::UNLIMITED)
        .await
        .unwrap());
    // THEN it is recorded once, as written
    assert!(puts.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert_eq!(
        store.get(&user, &document.document_id).await.unwrap(),
        Some(document)
    );
}

#[tokio::test]
async fn the_sweeps_requeued_documents_reach_the_processing_queue() {
    use askdocs_shared::ports::{ProcessingQueue, ReprocessMessage};
    let (clients, _) = aws_emulator().await;
    // GIVEN the processing queue
    let url = clients
        .create_queue(&format!("askdocs-test-{}", uuid::Uuid::new_v4()))
        .await;
    let queue = clients.processing_queue(&url);
    let document = testing::sample_document(&"user-1".into(), "2026-03-01T00:00:00.000Z");
    // WHEN a document is put back on it
    queue.requeue(&document).await.unwrap();
    // THEN one message names the document and its file
    let bodies = queue.take_waiting().await;
    assert_eq!(bodies.len(), 1);
    let message: ReprocessMessage = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(message, ReprocessMessage::for_document(&document));
    assert_eq!(message.reprocess.key, document.key);
}
