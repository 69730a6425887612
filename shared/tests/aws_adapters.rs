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
