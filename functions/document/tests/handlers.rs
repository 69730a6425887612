//! The document function driven by real API Gateway events from `events/`, on
//! the embedded backends. Processing runs through the processing handler with
//! a real S3 event, as it does after an upload in AWS.

use askdocs_document::{app, DocumentState};
use askdocs_shared::backends::Backends;
use askdocs_shared::testing::harness::{
    embedded_backends, event, fixture, send, signed_in, with_bearer, with_query,
};
use serde_json::{json, Value};

struct Harness {
    data_dir: tempfile::TempDir,
    backends: Backends,
    state: DocumentState,
}

impl Harness {
    async fn new() -> Self {
        Self::with(&[]).await
    }

    /// With these settings over the defaults.
    async fn with(settings: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut settings = settings.to_vec();
        settings.push(("ASKDOCS_PUBLIC_URL", "http://127.0.0.1:3000"));
        let backends = embedded_backends(data_dir.path(), &settings).await;
        Harness {
            state: DocumentState::new(&backends).unwrap(),
            backends,
            data_dir,
        }
    }

    /// A registered, logged-in user: (user id, bearer token).
    async fn user(&self, email: &str) -> (askdocs_shared::model::UserId, String) {
        signed_in(&self.backends, email).await
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        send(&app(self.state.clone()), event).await
    }

    /// Runs the processing handler on the document's upload, as S3's notification would.
    async fn process(&self, key: &str) {
        let state = askdocs_processing::ProcessingState::new(&self.backends).unwrap();
        let event = askdocs_processing::object_created_event("askdocs-local", key, 0);
        askdocs_processing::handle(&state, event).await.unwrap();
    }
}

fn with_body(mut event: Value, body: &str) -> Value {
    event["body"] = json!(body);
    event
}

fn for_document(mut event: Value, id: &str) -> Value {
    event["path"] = json!(format!("/documents/{id}"));
    event["pathParameters"] = json!({"id": id});
    event
}

fn with_content_type(mut event: Value, content_type: &str) -> Value {
    event["headers"]["Content-Type"] = json!(content_type);
    event["multiValueHeaders"]["Content-Type"] = json!([content_type]);
    event
}

fn assert_error(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}

#[tokio::test]
async fn an_upload_url_is_issued_and_the_document_waits_as_pending() {
    let harness = Harness::new().await;
    let (user_id, token) = harness.user("ada@example.com").await;

    // WHEN the client asks to upload "Annual Report, 2026.pdf"
    let (status, ticket) = harness
        .send(with_bearer(event("document-upload.json"), &token))
        .await;

    // THEN it gets a PUT URL pinned to the type and size, under the user's key prefix
    assert_eq!(status, 201, "{ticket}");
    let document_id = ticket["documentId"].as_str().unwrap();
    assert_eq!(
        ticket["key"],
        format!("documents/{user_id}/{document_id}/Annual_Report_2026.pdf")
    );
    assert_eq!(ticket["uploadMethod"], "PUT");
    assert_eq!(ticket["expiresIn"], 900);
    assert_eq!(ticket["uploadHeaders"]["Content-Type"], "application/pdf");
    assert_eq!(ticket["uploadHeaders"]["Content-Length"], "48213");
    assert!(ticket["uploadUrl"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:3000/local-objects/documents/"));

    // AND the document is listed as uploading under its original name
    let (status, list) = harness
        .send(with_bearer(event("document-list.json"), &token))
        .await;
    assert_eq!(status, 200);
    let listed = &list["documents"][0];
    assert_eq!(listed["documentId"], document_id);
    assert_eq!(listed["fileName"], "Annual Report, 2026.pdf");
    assert_eq!(listed["status"], "uploading");
    assert_eq!(listed["size"], 48213);
    for field in [
        "contentType",
        "statusReason",
        "pages",
        "chunks",
        "uploadDate",
        "updatedAt",
    ] {
        assert!(listed.get(field).is_some(), "{field} missing from {listed}");
    }
    assert!(listed.get("userId").is_none() && listed.get("key").is_none());
}

#[tokio::test]
async fn bad_upload_requests_are_refused_and_record_nothing() {
    let harness = Harness::new().await;
    let (_, token) = harness.user("lin@example.com").await;
    let upload = |body: Value| {
        with_body(
            with_bearer(event("document-upload.json"), &token),
            &body.to_string(),
        )
    };
    let cases = [
        (
            json!({"fileName": "animation.gif", "contentType": "image/gif", "size": 10}),
            415,
            "unsupported_media_type",
        ),
        (
            json!({"fileName": "huge.pdf", "contentType": "application/pdf", "size": 50 * 1024 * 1024 + 1}),
            400,
            "validation_failed",
        ),
        (
            json!({"fileName": "zero.pdf", "contentType": "application/pdf", "size": 0}),
            400,
            "validation_failed",
        ),
        (
            json!({"fileName": "minus.pdf", "contentType": "application/pdf", "size": -5}),
            400,
            "invalid_request",
        ),
        (
            json!({"fileName": "a.pdf", "contentType": "application/pdf", "size": "big"}),
            400,
            "invalid_request",
        ),
        (
            json!({"contentType": "application/pdf", "size": 10}),
            400,
            "invalid_request",
        ),
        (
            json!({"fileName": "  ", "contentType": "application/pdf", "size": 10}),
            400,
            "validation_failed",
        ),
        (
            json!({"fileName": "x".repeat(300), "contentType": "application/pdf", "size": 10}),
            400,
            "validation_failed",
        ),
        (
            json!({"fileName": "invoice\u{202E}fdp.exe", "contentType": "application/pdf", "size": 10}),
            400,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        let (actual, response) = harness.send(upload(body.clone())).await;
        assert_error(actual, &response, status, code);
    }
    let (actual, response) = harness
        .send(with_body(
            with_bearer(event("document-upload.json"), &token),
            "not json",
        ))
        .await;
    assert_error(actual, &response, 400, "invalid_request");

    let (_, list) = harness
        .send(with_bearer(event("document-list.json"), &token))
        .await;
    assert_eq!(list["documents"], json!([]));
}

#[tokio::test]
async fn awkward_file_names_work_and_are_kept() {
    let harness = Harness::new().await;
    let (user_id, token) = harness.user("kay@example.com").await;
    for (name, safe) in [
        ("Q3 results, final (v2).pdf", "Q3_results_final_v2.pdf"),
        ("Übersicht über Verträge.pdf", "bersicht_ber_Vertr_ge.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("报告.pdf", "document.pdf"),
    ] {
        let body =
            json!({"fileName": name, "contentType": "application/pdf", "size": 100}).to_string();
        let (status, ticket) = harness
            .send(with_body(
                with_bearer(event("document-upload.json"), &token),
                &body,
            ))
            .await;
        assert_eq!(status, 201, "{name}: {ticket}");
        let id = ticket["documentId"].as_str().unwrap();
        assert_eq!(ticket["key"], format!("documents/{user_id}/{id}/{safe}"));
        let (_, details) = harness
            .send(for_document(
                with_bearer(event("document-get.json"), &token),
                id,
            ))
            .await;
        assert_eq!(details["fileName"], name);
    }
}

#[tokio::test]
async fn a_small_file_sent_directly_is_processed_to_ready() {
    let harness = Harness::new().await;
    let (user_id, token) = harness.user("ola@example.com").await;

    // WHEN a text file is posted as the body with ?fileName=
    let (status, document) = harness
        .send(with_bearer(event("document-upload-direct.json"), &token))
        .await;
    assert_eq!(status, 201, "{document}");
    assert_eq!(document["fileName"], "tide notes.txt");
    assert_eq!(document["contentType"], "text/plain");
    assert_eq!(document["status"], "pending");
    let id = document["documentId"].as_str().unwrap().to_string();

    // AND S3's notification runs processing
    let stored = harness
        .backends
        .document_store()
        .get(&user_id, &id.as_str().into())
        .await
        .unwrap()
        .unwrap();
    harness.process(&stored.key).await;

    // THEN it reads as ready, with a download link
    let (status, details) = harness
        .send(for_document(
            with_bearer(event("document-get.json"), &token),
            &id,
        ))
        .await;
    assert_eq!(status, 200, "{details}");
    assert_eq!(details["status"], "ready");
    assert_eq!(details["pages"], 1);
    assert_eq!(details["chunks"], 1);
    assert!(details["downloadUrl"]
        .as_str()
        .unwrap()
        .contains("/local-objects/documents/"));
}

#[tokio::test]
async fn direct_uploads_are_limited_and_typed() {
    let harness = Harness::new().await;
    let (_, token) = harness.user("per@example.com").await;
    let direct = |body: &str, name: &str, content_type: &str| {
        with_content_type(
            with_query(
                with_body(
                    with_bearer(event("document-upload-direct.json"), &token),
                    body,
                ),
                json!({"fileName": name}),
            ),
            content_type,
        )
    };
    let big = "x".repeat(5 * 1024 * 1024 + 1);
    let (status, body) = harness.send(direct(&big, "big.txt", "text/plain")).await;
    assert_error(status, &body, 413, "payload_too_large");
    let (status, body) = harness.send(direct("GIF89a", "cat.gif", "image/gif")).await;
    assert_error(status, &body, 415, "unsupported_media_type");
    let (status, body) = harness.send(direct("", "empty.txt", "text/plain")).await;
    assert_error(status, &body, 400, "validation_failed");
    // A generic type falls back to the extension.
    let (status, body) = harness
        .send(direct("# Title", "readme.md", "application/octet-stream"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["contentType"], "text/markdown");
}

#[tokio::test]
async fn documents_list_newest_first_in_pages() {
    let harness = Harness::new().await;
    let (_, token) = harness.user("eva@example.com").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, ticket) = harness
            .send(with_bearer(event("document-upload.json"), &token))
            .await;
        ids.push(ticket["documentId"].as_str().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let list = |query: Value| with_query(with_bearer(event("document-list.json"), &token), query);
    let (_, first) = harness.send(list(json!({"limit": "2"}))).await;
    let page_ids = |page: &Value| {
        page["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["documentId"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(page_ids(&first), vec![ids[2].clone(), ids[1].clone()]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = harness
        .send(list(json!({"limit": "2", "cursor": cursor})))
        .await;
    assert_eq!(page_ids(&second), vec![ids[0].clone()]);
    assert_eq!(second["nextCursor"], Value::Null);

    for (query, code) in [
        (json!({"limit": "0"}), "validation_failed"),
        (json!({"limit": "1000"}), "validation_failed"),
        (json!({"limit": "ten"}), "invalid_request"),
        (json!({"cursor": "garbage"}), "invalid_request"),
    ] {
        let (status, body) = harness.send(list(query)).await;
        assert_error(status, &body, 400, code);
    }
}

#[tokio::test]
async fn another_users_document_is_404_exactly_like_a_missing_one() {
    let harness = Harness::new().await;
    let (_, owner) = harness.user("owner@example.com").await;
    let (_, stranger) = harness.user("stranger@example.com").await;
    let (_, ticket) = harness
        .send(with_bearer(event("document-upload.json"), &owner))
        .await;
    let id = ticket["documentId"].as_str().unwrap();

    let (status, theirs) = harness
        .send(for_document(
            with_bearer(event("document-get.json"), &stranger),
            id,
        ))
        .await;
    let (missing_status, missing) = harness
        .send(with_bearer(event("document-get.json"), &stranger))
        .await;
    assert_error(status, &theirs, 404, "not_found");
    assert_eq!((status, &theirs), (missing_status, &missing));

    let (status, body) = harness
        .send(for_document(
            with_bearer(event("document-delete.json"), &stranger),
            id,
        ))
        .await;
    assert_error(status, &body, 404, "not_found");
    let (status, _) = harness
        .send(for_document(
            with_bearer(event("document-get.json"), &owner),
            id,
        ))
        .await;
    assert_eq!(status, 200, "the stranger's delete removed nothing");

    let (_, list) = harness
        .send(with_bearer(event("document-list.json"), &stranger))
        .await;
    assert_eq!(list["documents"], json!([]));
}

#[tokio::test]
async fn delete_leaves_nothing_in_any_store() {
    let harness = Harness::new().await;
    let (user_id, token) = harness.user("del@example.com").await;
    let document = harness
        .backends
        .documents()
        .unwrap()
        .upload(
            &user_id,
            "manual.pdf",
            Some("application/pdf"),
            fixture("lighthouse.pdf"),
            u64::MAX,
        )
        .await
        .unwrap();
    harness.process(&document.key).await;
    let index = harness.backends.vector_index().unwrap();
    assert!(index.count(&user_id, &document.document_id).await.unwrap() > 0);

    // WHEN the owner deletes it
    let (status, body) = harness
        .send(for_document(
            with_bearer(event("document-delete.json"), &token),
            &document.document_id,
        ))
        .await;
    assert_eq!((status, body), (204, Value::Null));

    // THEN the object, the metadata and every chunk are gone
    assert_eq!(
        harness
            .backends
            .object_store()
            .unwrap()
            .get(&document.key)
            .await
            .unwrap(),
        None
    );
    assert!(!harness
        .data_dir
        .path()
        .join("objects")
        .join(&document.key)
        .exists());
    assert_eq!(
        harness
            .backends
            .document_store()
            .get(&user_id, &document.document_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        index.count(&user_id, &document.document_id).await.unwrap(),
        0
    );
    let scope = askdocs_shared::model::SearchScope {
        user_id: user_id.clone(),
        document_ids: None,
    };
    let vector = vec![0.0; 384];
    let query = askdocs_shared::ports::SearchQuery {
        vector: &vector,
        text: "E-4012 lighthouse harbour",
    };
    let hits = index.search(&scope, query, 10).await.unwrap();
    assert!(hits.by_words.is_empty() && hits.by_meaning.is_empty());
    // AND it reads as missing
    let (status, _) = harness
        .send(for_document(
            with_bearer(event("document-get.json"), &token),
            &document.document_id,
        ))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unreadable_ids_get_a_json_error() {
    let harness = Harness::new().await;
    let (_, token) = harness.user("odd@example.com").await;
    let (status, body) = harness
        .send(for_document(
            with_bearer(event("document-get.json"), &token),
            "%FF%FE",
        ))
        .await;
    assert_error(status, &body, 400, "invalid_request");
}

#[tokio::test]
async fn document_routes_need_a_token() {
    let harness = Harness::new().await;
    for name in [
        "document-upload.json",
        "document-list.json",
        "document-get.json",
        "document-delete.json",
    ] {
        let mut unauthenticated = event(name);
        unauthenticated["headers"]
            .as_object_mut()
            .unwrap()
            .remove("Authorization");
        unauthenticated["multiValueHeaders"]
            .as_object_mut()
            .unwrap()
            .remove("Authorization");
        unauthenticated["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("authorizer");
        let (status, body) = harness.send(unauthenticated).await;
        assert_error(status, &body, 401, "unauthorized");
    }
}

#[tokio::test]
async fn uploads_past_the_quota_are_refused_and_a_delete_makes_room() {
    // GIVEN Quinn may keep 2 documents and 1 MB, and has asked for two upload URLs
    let harness = Harness::with(&[
        ("ASKDOCS_MAX_DOCUMENTS_PER_USER", "2"),
        ("ASKDOCS_MAX_BYTES_PER_USER", "1048576"),
    ])
    .await;
    let (_, token) = harness.user("quinn@example.com").await;
    let ticket = |size: u64| {
        with_body(
            with_bearer(event("document-upload.json"), &token),
            &json!({"fileName": "a.pdf", "contentType": "application/pdf", "size": size})
                .to_string(),
        )
    };
    let (status, first) = harness.send(ticket(600_000)).await;
    assert_eq!(status, 201, "{first}");
    // WHEN a second would pass the bytes allowed THEN it is refused, saying the limit
    let (status, body) = harness.send(ticket(500_000)).await;
    assert_error(status, &body, 403, "quota_exceeded");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1 MB"),
        "{body}"
    );
    // AND one that fits is accepted, but a third document is not
    let (status, _) = harness.send(ticket(400_000)).await;
    assert_eq!(status, 201);
    let (status, body) = harness.send(ticket(1)).await;
    assert_error(status, &body, 403, "quota_exceeded");
    let direct = with_bearer(event("document-upload-direct.json"), &token);
    let (status, body) = harness.send(direct.clone()).await;
    assert_error(status, &body, 403, "quota_exceeded");
    let (_, list) = harness
        .send(with_bearer(event("document-list.json"), &token))
        .await;
    assert_eq!(list["documents"].as_array().unwrap().len(), 2);

    // WHEN the first is deleted THEN there is room again
    let mut delete = with_bearer(event("document-delete.json"), &token);
    delete["path"] = json!(format!(
        "/documents/{}",
        first["documentId"].as_str().unwrap()
    ));
    let (status, _) = harness.send(delete).await;
    assert_eq!(status, 204);
    let (status, body) = harness.send(direct).await;
    assert_eq!(status, 201, "{body}");
}
