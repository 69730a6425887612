//! The auth and document functions on the AWS backend set — DynamoDB and S3
//! served by moto, started by `make test` — driven by the real API Gateway
//! events from `events/`, exactly as the Lambda runtime would deliver them.

use askdocs_shared::testing::harness::{aws_backends, aws_settings, event, send, with_bearer};
use serde_json::json;

/// The dimension of all-MiniLM-L6-v2, the embedder these tests run with.
const DIMENSION: usize = 384;

#[tokio::test]
async fn accounts_and_documents_work_on_dynamodb_and_s3() {
    let backends = aws_backends(&aws_settings(), DIMENSION).await;
    let auth = askdocs_auth::app(askdocs_auth::AuthState::new(&backends).unwrap());
    let documents = askdocs_document::app(askdocs_document::DocumentState::new(&backends).unwrap());

    // GIVEN a registered account (a second registration of its email is refused)
    let (status, registered) = send(&auth, event("auth-register.json")).await;
    assert_eq!(status, 201, "{registered}");
    let (status, taken) = send(&auth, event("auth-register.json")).await;
    assert_eq!(
        (status, taken["error"]["code"].as_str()),
        (409, Some("email_taken"))
    );
    let (status, session) = send(&auth, event("auth-login.json")).await;
    assert_eq!(status, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_string();
    let (_, profile) = send(&auth, with_bearer(event("auth-profile.json"), &token)).await;
    assert_eq!(profile, registered);

    // WHEN a document is uploaded through its presigned S3 URL
    let mut upload = with_bearer(event("document-upload.json"), &token);
    upload["body"] = json!(
        json!({"fileName": "Annual report.pdf", "contentType": "application/pdf", "size": 9})
            .to_string()
    );
    let (status, ticket) = send(&documents, upload).await;
    assert_eq!(status, 201, "{ticket}");
    assert!(ticket["uploadUrl"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Signature="));
    let client = reqwest::Client::new();
    let mut put = client
        .put(ticket["uploadUrl"].as_str().unwrap())
        .body(b"%PDF-1.4\n".to_vec());
    for (name, value) in ticket["uploadHeaders"].as_object().unwrap() {
        put = put.header(name.as_str(), value.as_str().unwrap());
    }
    assert!(put.send().await.unwrap().status().is_success());

    // THEN it lists as pending, reads with a download URL, and deletes completely
    let id = ticket["documentId"].as_str().unwrap();
    let (_, list) = send(&documents, with_bearer(event("document-list.json"), &token)).await;
    assert_eq!(list["documents"][0]["documentId"], id);
    assert_eq!(list["documents"][0]["status"], "pending");
    let mut get = with_bearer(event("document-get.json"), &token);
    get["path"] = json!(format!("/documents/{id}"));
    let (status, details) = send(&documents, get.clone()).await;
    assert_eq!(status, 200, "{details}");
    let downloaded = client
        .get(details["downloadUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&downloaded[..], b"%PDF-1.4\n");
    let mut delete = with_bearer(event("document-delete.json"), &token);
    delete["path"] = json!(format!("/documents/{id}"));
    let (status, _) = send(&documents, delete).await;
    assert_eq!(status, 204);
    let (status, _) = send(&documents, get).await;
    assert_eq!(status, 404);
    let key = ticket["key"].as_str().unwrap();
    assert_eq!(backends.object_store().get(key).await.unwrap(), None);

    // AND logging out revokes the token in DynamoDB
    let (status, _) = send(&auth, with_bearer(event("auth-logout.json"), &token)).await;
    assert_eq!(status, 204);
    let (status, _) = send(&documents, with_bearer(event("document-list.json"), &token)).await;
    assert_eq!(status, 401);
}
