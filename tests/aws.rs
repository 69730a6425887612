//! The functions on the AWS backend set — DynamoDB, S3 and S3 Vectors served
//! by moto with our QueryVectors extension, started by `make test` — driven
//! by the real events from `events/`, exactly as Lambda would deliver them.

mod common;

use askdocs_shared::error::Error;
use askdocs_shared::testing::harness::{
    aws_backends, aws_endpoint, aws_settings, event, send, with_bearer,
};
use serde_json::json;

/// The dimension of all-MiniLM-L6-v2, the embedder these tests run with.
const DIMENSION: usize = 384;

#[tokio::test]
async fn the_token_signing_secret_is_read_from_secrets_manager() {
    use askdocs_shared::ports::SigningSecret as _;
    let clients = askdocs_shared::aws::AwsClients::for_emulator(&aws_endpoint());
    // GIVEN a signing secret stored in Secrets Manager, and one too short to sign with
    let name = format!(
        "askdocs-jwt-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let arn = clients
        .store_secret(&name, "a-signing-secret-of-more-than-32-bytes")
        .await;
    let short = clients
        .store_secret(&format!("{name}-short"), "too short")
        .await;
    // WHEN the functions load them
    let loaded = clients.signing_secret(&arn, 32).load().await;
    let refused = clients.signing_secret(&short, 32).load().await;
    let missing = clients
        .signing_secret(&format!("{arn}-missing"), 32)
        .load()
        .await;
    // THEN the stored value is used, and the others are errors, not panics
    assert_eq!(loaded.unwrap(), b"a-signing-secret-of-more-than-32-bytes");
    assert!(matches!(refused, Err(Error::Internal(_))));
    assert!(matches!(missing, Err(Error::Internal(_))));
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_unavailable_after_retries() {
    use askdocs_shared::ports::UserStore as _;
    // GIVEN clients aimed at a port nothing listens on
    let clients = askdocs_shared::aws::AwsClients::for_emulator("http://127.0.0.1:9");
    // WHEN a user is read
    let result = clients
        .user_store("askdocs-users")
        .get(&"someone".into())
        .await;
    // THEN the error says "try again later" (503), not a crash or a 500
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

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
    let storage = |profile: &serde_json::Value| {
        (
            profile["storage"]["documents"].as_u64().unwrap(),
            profile["storage"]["bytes"].as_u64().unwrap(),
        )
    };
    let (_, mut profile) = send(&auth, with_bearer(event("auth-profile.json"), &token)).await;
    assert_eq!(storage(&profile), (0, 0));
    profile.as_object_mut().unwrap().remove("storage");
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

    // THEN it lists as uploading (until processing picks the file up), reads
    // with a download URL, and deletes completely
    let id = ticket["documentId"].as_str().unwrap();
    let (_, list) = send(&documents, with_bearer(event("document-list.json"), &token)).await;
    assert_eq!(list["documents"][0]["documentId"], id);
    assert_eq!(list["documents"][0]["status"], "uploading");
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
    // AND it counts against the quota until deleted (the counter in DynamoDB)
    let (_, profile) = send(&auth, with_bearer(event("auth-profile.json"), &token)).await;
    assert_eq!(storage(&profile).0, 1, "{profile}");
    let mut delete = with_bearer(event("document-delete.json"), &token);
    delete["path"] = json!(format!("/documents/{id}"));
    let (status, _) = send(&documents, delete).await;
    assert_eq!(status, 204);
    let (status, _) = send(&documents, get).await;
    assert_eq!(status, 404);
    let key = ticket["key"].as_str().unwrap();
    assert_eq!(
        backends.object_store().unwrap().get(key).await.unwrap(),
        None
    );
    let (_, profile) = send(&auth, with_bearer(event("auth-profile.json"), &token)).await;
    assert_eq!(storage(&profile), (0, 0), "{profile}");

    // AND logging out revokes the token in DynamoDB
    let (status, _) = send(&auth, with_bearer(event("auth-logout.json"), &token)).await;
    assert_eq!(status, 204);
    let (status, _) = send(&documents, with_bearer(event("document-list.json"), &token)).await;
    assert_eq!(status, 401);
}

/// The whole AWS column on the emulator, as the "done when" runs it:
/// `askdocs bootstrap-aws`, then `askdocs serve` on ASKDOCS_BACKEND=aws with
/// the local model and the extractive answerer, and the real processing
/// binary fed S3 events through a Lambda Runtime API stand-in.
mod whole_stack {
    use super::common::{signed_in, LambdaRuntime, Server};
    use askdocs_processing::object_created_event;
    use askdocs_shared::testing::harness::{aws_endpoint, aws_settings, fixture};
    use serde_json::{json, Value};

    fn processing_binary() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_BIN_EXE_askdocs")).with_file_name("processing")
    }

    fn query_binary() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_BIN_EXE_askdocs")).with_file_name("query")
    }

    /// The query function's one endpoint: Bedrock's ConverseStream answered
    /// by a stand-in (three pieces of text as event-stream frames), every
    /// other call passed on to the emulator. No emulator serves Bedrock.
    struct BedrockStandIn;

    impl BedrockStandIn {
        fn start(emulator: &str) -> StandIn {
            use axum::extract::{Path, Request};
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let recorded = calls.clone();
            let emulator = emulator.trim_end_matches('/').to_string();
            let client = reqwest::Client::new();
            let converse_stream = move |Path(model): Path<String>| {
                let recorded = recorded.clone();
                async move {
                    recorded
                        .lock()
                        .unwrap()
                        .push(format!("converse-stream {model}"));
                    let mut body = frame("messageStart", json!({"role": "assistant"}));
                    for text in ["It means", " the fog pump", " stalled [1]."] {
                        body.extend(frame(
                            "contentBlockDelta",
                            json!({"contentBlockIndex": 0, "delta": {"text": text}}),
                        ));
                    }
                    body.extend(frame("messageStop", json!({"stopReason": "end_turn"})));
                    (
                        [("content-type", "application/vnd.amazon.eventstream")],
                        body,
                    )
                }
            };
            // Bedrock's Rerank (the Agent Runtime), answered as the Rerank
            // stand-in answers: by the share of the question's words.
            let recorded = calls.clone();
            let rerank = move |axum::Json(body): axum::Json<Value>| {
                let recorded = recorded.clone();
                async move {
                    let model = &body["rerankingConfiguration"]["bedrockRerankingConfiguration"]
                        ["modelConfiguration"]["modelArn"];
                    recorded
                        .lock()
                        .unwrap()
                        .push(format!("rerank {}", model.as_str().unwrap_or_default()));
                    axum::Json(
                        askdocs_shared::testing::rerank::rerank_answer(&body, None)
                            .expect("a well-formed Rerank request"),
                    )
                }
            };
            let forward =
                move |request: Request| forward(client.clone(), emulator.clone(), request);
            let app = axum::Router::new()
                .route(
                    "/model/{model}/converse-stream",
                    axum::routing::post(converse_stream),
                )
                .route("/rerank", axum::routing::post(rerank))
                .fallback(forward);
            StandIn::serve(runtime, app, calls)
        }
    }

    /// Passes a request on to the emulator, as a stand-in does with every
    /// call that is not to the service it stands in for.
    async fn forward(
        client: reqwest::Client,
        emulator: String,
        request: axum::extract::Request,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut call = client.request(parts.method, format!("{emulator}{path}"));
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                call = call.header(name, value);
            }
        }
        let answer = call.body(body).send().await.unwrap();
        let status = answer.status();
        let headers = answer.headers().clone();
        let bytes = answer.bytes().await.unwrap();
        let mut response = (status, bytes).into_response();
        for (name, value) in &headers {
            if name != "content-length" && name != "transfer-encoding" {
                response.headers_mut().insert(name, value.clone());
            }
        }
        response
    }

    /// The processing function's endpoint for Textract: text detection
    /// answered by a stand-in that records which S3 object it was asked to
    /// read and knows the lighthouse manual's lines;
    /// every other call passed on to the emulator. No emulator serves Textract.
    struct TextractStandIn;

    impl TextractStandIn {
        const PAGES: [&'static [&'static str]; 3] = [
            &[
                "The Lighthouse Keeper's Manual",
                "The keeper logs the tide every six hours in the blue ledger.",
            ],
            &[
                "Chapter 2: The fog pump",
                "Error code E-4012 means the fog pump stalled.",
                "To clear it, close valve three and restart the pump after ten minutes.",
            ],
            &[
                "Chapter 3: Harbour fees",
                "Visiting boats pay a harbour fee of 40 crowns per night.",
            ],
        ];

        fn start(emulator: &str) -> StandIn {
            use axum::extract::Request;
            use axum::response::IntoResponse;
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let recorded = calls.clone();
            let emulator = emulator.trim_end_matches('/').to_string();
            let client = reqwest::Client::new();
            let handle = move |request: Request| {
                let (client, emulator, recorded) =
                    (client.clone(), emulator.clone(), recorded.clone());
                async move {
                    let target = request
                        .headers()
                        .get("x-amz-target")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let Some(operation) = target.strip_prefix("Textract.") else {
                        return forward(client, emulator, request).await;
                    };
                    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    let asked: Value = serde_json::from_slice(&body).unwrap();
                    let object = asked["DocumentLocation"]["S3Object"]
                        .as_object()
                        .or_else(|| asked["Document"]["S3Object"].as_object())
                        .cloned();
                    let object = object
                        .map(|object| {
                            let field = |name: &str| object[name].as_str().unwrap().to_string();
                            format!(" {}/{}", field("Bucket"), field("Name"))
                        })
                        .unwrap_or_default();
                    recorded
                        .lock()
                        .unwrap()
                        .push(format!("{operation}{object}"));
                    let lines = |pages: &[usize]| -> Vec<Value> {
                        pages
                            .iter()
                            .flat_map(|&page| Self::PAGES[page - 1].iter().map(move |line| json!({"BlockType": "LINE", "Text": line, "Page": page})))
                            .collect()
                    };
                    let answer = match operation {
                        "StartDocumentTextDetection" => json!({"JobId": "job-1"}),
                        "GetDocumentTextDetection" => {
                            json!({"JobStatus": "SUCCEEDED", "DocumentMetadata": {"Pages": 3}, "Blocks": lines(&[1, 2, 3])})
                        }
                        // A photo of page 2.
                        "DetectDocumentText" => {
                            json!({"DocumentMetadata": {"Pages": 1}, "Blocks": lines(&[2]).into_iter().map(|mut block| { block["Page"] = json!(1); block }).collect::<Vec<_>>()})
                        }
                        other => panic!("unexpected Textract call {other}"),
                    };
                    (
                        [("content-type", "application/x-amz-json-1.1")],
                        answer.to_string(),
                    )
                        .into_response()
                }
            };
            let app = axum::Router::new().fallback(handle);
            StandIn::serve(runtime, app, calls)
        }
    }

    /// A stand-in for one AWS service on loopback: what it was asked (its
    /// calls), every other request passed on to the emulator.
    struct StandIn {
        url: String,
        calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        _runtime: tokio::runtime::Runtime,
    }

    impl StandIn {
        fn serve(
            runtime: tokio::runtime::Runtime,
            app: axum::Router,
            calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        ) -> Self {
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
            StandIn {
                url,
                calls,
                _runtime: runtime,
            }
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    /// Uploads `bytes` through a presigned S3 URL from `server`; (document id, key).
    fn upload_presigned(
        server: &Server,
        token: &str,
        name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> (String, String) {
        let request = json!({"fileName": name, "contentType": content_type, "size": bytes.len()});
        let (status, ticket) = server.call(
            "POST",
            "/documents/upload",
            Some(token),
            Some(&request.to_string()),
        );
        assert_eq!(status, 201, "{ticket}");
        let mut put = Server::agent().put(ticket["uploadUrl"].as_str().unwrap());
        for (name, value) in ticket["uploadHeaders"].as_object().unwrap() {
            if name != "Content-Length" {
                put = put.set(name, value.as_str().unwrap());
            }
        }
        assert_eq!(put.send_bytes(bytes).unwrap().status(), 200);
        (
            ticket["documentId"].as_str().unwrap().to_string(),
            ticket["key"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn a_scan_and_a_photo_are_read_by_textract_and_answer_with_their_pages() {
        let settings = env_of(&aws_settings());
        let get = |name: &str| setting(&settings, name);
        bootstrap_aws(&settings);
        let server = serve(&settings);
        // GIVEN the processing function as the stack runs it: OCR by Textract
        // (ASKDOCS_OCR's default on AWS), here a stand-in in front of the emulator
        let textract = TextractStandIn::start(&aws_endpoint());
        let mut processing_settings = settings.clone();
        processing_settings.retain(|(name, _)| *name != "AWS_ENDPOINT_URL");
        processing_settings.push(("AWS_ENDPOINT_URL", textract.url.clone()));
        let processing = LambdaRuntime::start(&processing_binary(), &processing_settings);
        let ada = signed_in(&server, "ocr-ada@example.com");

        // WHEN Ada uploads a scanned PDF and a photo of a page through presigned S3 URLs
        let scan = fixture("scanned-manual.pdf");
        let photo = fixture("page-photo.png");
        let (scan_id, scan_key) = upload_presigned(
            &server,
            &ada,
            "scanned manual.pdf",
            "application/pdf",
            &scan,
        );
        let (photo_id, photo_key) =
            upload_presigned(&server, &ada, "photo.png", "image/png", &photo);
        for (key, size) in [(&scan_key, scan.len()), (&photo_key, photo.len())] {
            processing
                .invoke(s3_event(&get("DOCUMENTS_BUCKET"), key, size as u64))
                .expect("processing succeeds");
        }

        // THEN both are ready, every page counted
        for (id, pages) in [(&scan_id, 3), (&photo_id, 1)] {
            let (_, document) = server.call("GET", &format!("/documents/{id}"), Some(&ada), None);
            assert_eq!(
                (document["status"].as_str(), document["pages"].as_u64()),
                (Some("ready"), Some(pages)),
                "{document}"
            );
        }
        // AND Textract was asked as the stack allows: a job for the PDF, read to its end; the photo at once
        let bucket = get("DOCUMENTS_BUCKET");
        assert_eq!(
            textract.calls(),
            [
                format!("StartDocumentTextDetection {bucket}/{scan_key}"),
                "GetDocumentTextDetection".to_string(),
                format!("DetectDocumentText {bucket}/{photo_key}"),
            ]
        );
        // AND her question is answered from the scan's page 2 (or the photo's page 1)
        let question =
            json!({"question": "What does error code E-4012 mean?", "documentIds": [scan_id]})
                .to_string();
        let (status, answer) = server.call("POST", "/query/ask", Some(&ada), Some(&question));
        assert_eq!(status, 200, "{answer}");
        assert!(
            answer["answer"].as_str().unwrap().contains("fog pump"),
            "{answer}"
        );
        assert_eq!(
            (
                answer["citations"][0]["documentId"].as_str(),
                answer["citations"][0]["page"].as_u64()
            ),
            (Some(scan_id.as_str()), Some(2)),
            "{answer}"
        );
        let question =
            json!({"question": "What does error code E-4012 mean?", "documentIds": [photo_id]})
                .to_string();
        let (_, answer) = server.call("POST", "/query/ask", Some(&ada), Some(&question));
        assert_eq!(
            (
                answer["citations"][0]["documentId"].as_str(),
                answer["citations"][0]["page"].as_u64()
            ),
            (Some(photo_id.as_str()), Some(1)),
            "{answer}"
        );
    }

    fn frame(kind: &str, payload: Value) -> Vec<u8> {
        askdocs_shared::aws::event_stream_frame("event", kind, &payload)
    }

    fn setting(settings: &[(&'static str, String)], name: &str) -> String {
        settings
            .iter()
            .find(|(key, _)| *key == name)
            .unwrap()
            .1
            .clone()
    }

    /// `askdocs bootstrap-aws` with `settings`, which must succeed.
    fn bootstrap_aws(settings: &[(&'static str, String)]) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_askdocs"))
            .arg("bootstrap-aws")
            .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `askdocs serve` with `settings`.
    fn serve(settings: &[(&'static str, String)]) -> Server {
        let refs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::start_with(&refs)
    }

    fn env_of(settings: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut env = settings.to_vec();
        env.extend([
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", "eu-west-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ]);
        env
    }

    fn s3_event(bucket: &str, key: &str, size: u64) -> Value {
        serde_json::to_value(object_created_event(bucket, key, size)).unwrap()
    }

    #[test]
    fn upload_process_ask_and_delete_on_aws() {
        let settings = env_of(&aws_settings());
        let get = |name: &str| setting(&settings, name);

        // GIVEN the resources made by askdocs bootstrap-aws, run twice (idempotent)
        for _ in 0..2 {
            bootstrap_aws(&settings);
        }
        // AND askdocs serve on the AWS backend, and the processing function
        let server = serve(&settings);
        let processing = LambdaRuntime::start(&processing_binary(), &settings);
        let ada = signed_in(&server, "ada@example.com");
        let bob = signed_in(&server, "bob@example.com");

        // WHEN Ada uploads a PDF through its presigned S3 URL
        let pdf = fixture("lighthouse.pdf");
        let (id, key) = upload_presigned(
            &server,
            &ada,
            "Lighthouse manual.pdf",
            "application/pdf",
            &pdf,
        );
        let (id, key) = (id.as_str(), key.as_str());

        // AND S3 notifies the processing function — twice, as it may
        let event = s3_event(&get("DOCUMENTS_BUCKET"), key, pdf.len() as u64);
        processing
            .invoke(event.clone())
            .expect("processing succeeds");
        let (_, document) = server.call("GET", &format!("/documents/{id}"), Some(&ada), None);
        assert_eq!(document["status"], "ready", "{document}");
        let chunks = document["chunks"].as_u64().unwrap();
        processing
            .invoke(event)
            .expect("a repeated event is harmless");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let clients = askdocs_shared::aws::AwsClients::for_emulator(&aws_endpoint());
        let index = clients.vector_index(&get("VECTOR_BUCKET"), &get("VECTOR_INDEX"));
        let ada_id = {
            let (_, profile) = server.call("GET", "/auth/profile", Some(&ada), None);
            askdocs_shared::model::UserId::new(profile["userId"].as_str().unwrap())
        };
        use askdocs_shared::ports::VectorIndex as _;
        assert_eq!(
            runtime.block_on(index.count(&ada_id, &id.into())).unwrap() as u64,
            chunks,
            "the same event delivered twice adds nothing"
        );

        // THEN Ada's question is answered from it, with citations
        let question = json!({"question": "What does error code E-4012 mean?"}).to_string();
        let (status, answer) = server.call("POST", "/query/ask", Some(&ada), Some(&question));
        assert_eq!(status, 200, "{answer}");
        assert!(
            answer["answer"].as_str().unwrap().contains("fog pump"),
            "{answer}"
        );
        assert_eq!(answer["citations"][0]["documentId"], id);
        assert_eq!(answer["citations"][0]["page"], 2);
        // AND Bob, asking the same, finds nothing of Ada's
        let (_, answer) = server.call("POST", "/query/ask", Some(&bob), Some(&question));
        assert!(
            answer["citations"].as_array().unwrap().is_empty(),
            "{answer}"
        );

        // AND the query function, as Lambda runs it on this stack with Claude
        // (a stand-in speaking Bedrock's event stream) and a rerank model (a
        // stand-in speaking Rerank's JSON), streams her answer
        let bedrock = BedrockStandIn::start(&aws_endpoint());
        let mut query_settings = settings.clone();
        query_settings
            .retain(|(name, _)| *name != "AWS_ENDPOINT_URL" && *name != "ASKDOCS_GENERATOR");
        query_settings.extend([
            ("AWS_ENDPOINT_URL", bedrock.url.clone()),
            ("ASKDOCS_GENERATOR", "bedrock".to_string()),
            (
                "BEDROCK_MODEL_ID",
                "eu.anthropic.claude-haiku-4-5-20251001-v1:0".to_string(),
            ),
            ("BEDROCK_RERANK_MODEL_ID", "amazon.rerank-v1:0".to_string()),
        ]);
        let query = LambdaRuntime::start(&query_binary(), &query_settings);
        let mut ask = askdocs_shared::testing::harness::with_bearer(
            askdocs_shared::testing::harness::event("query-ask.json"),
            &ada,
        );
        // (a question two pages answer, so there is an order to rerank)
        ask["body"] = json!(json!({
            "question": "What do the manual's chapters say about the fog pump and the harbour fees?"
        })
        .to_string());
        ask["headers"]["Accept"] = json!("text/event-stream");
        ask["multiValueHeaders"]["Accept"] = json!(["text/event-stream"]);
        let streamed = query.invoke(ask).expect("the query function answers");
        let streamed = streamed.as_str().expect("a streamed response");
        let (prelude, body) = streamed
            .split_once("\0\0\0\0\0\0\0\0")
            .expect("a prelude, then eight NULs");
        let prelude: Value = serde_json::from_str(prelude).unwrap();
        assert_eq!(prelude["statusCode"], 200, "{prelude}");
        assert_eq!(prelude["headers"]["content-type"], "text/event-stream");
        let events = askdocs_shared::testing::harness::server_sent_events(body);
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["citations", "answer", "answer", "answer", "done"],
            "{body}"
        );
        assert_eq!(events[0].1["citations"][0]["documentId"], id);
        let streamed_text: String = events[1..4]
            .iter()
            .map(|(_, data)| data["text"].as_str().unwrap())
            .collect();
        assert_eq!(streamed_text, "It means the fog pump stalled [1].");
        let done = &events[4].1;
        assert_eq!(done["model"], "eu.anthropic.claude-haiku-4-5-20251001-v1:0");
        assert_eq!(done["citations"][0]["documentId"], id);
        // AND Bedrock ranked the passages with the rerank model of the
        // function's Region, then answered through ConverseStream, once each
        let calls = bedrock.calls();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(
            calls[0].starts_with("rerank arn:aws:bedrock:")
                && calls[0].ends_with("::foundation-model/amazon.rerank-v1:0"),
            "{calls:?}"
        );
        assert_eq!(
            calls[1],
            "converse-stream eu.anthropic.claude-haiku-4-5-20251001-v1:0"
        );
        assert!(events[0].1["citations"].as_array().unwrap().len() > 1);
        // AND the answer is in her history on DynamoDB, whole
        let (_, history) = server.call("GET", "/query/history", Some(&ada), None);
        assert_eq!(history["items"][0]["queryId"], done["queryId"], "{history}");
        assert_eq!(history["items"][0]["answer"], done["answer"]);
        drop(query);

        // WHEN Ada deletes it THEN nothing is left in S3, DynamoDB or S3 Vectors
        let (status, _) = server.call("DELETE", &format!("/documents/{id}"), Some(&ada), None);
        assert_eq!(status, 204);
        assert_eq!(
            runtime.block_on(clients.object_versions(&get("DOCUMENTS_BUCKET"), key)),
            0
        );
        let store = clients.document_store(&get("DOCUMENTS_TABLE"));
        use askdocs_shared::ports::DocumentStore as _;
        assert!(runtime
            .block_on(store.get(&ada_id, &id.into()))
            .unwrap()
            .is_none());
        assert_eq!(
            runtime.block_on(index.count(&ada_id, &id.into())).unwrap(),
            0
        );
        // AND her history keeps the answer, its citation without the passage's words
        let (status, history) = server.call("GET", "/query/history", Some(&ada), None);
        assert_eq!(status, 200, "{history}");
        let citation = &history["items"][0]["citations"][0];
        assert_eq!(citation["documentDeleted"], true, "{history}");
        assert_eq!(
            (&citation["snippet"], &citation["text"]),
            (&json!(""), &json!(""))
        );
        assert_eq!(citation["fileName"], "Lighthouse manual.pdf");
    }
}
