//! Both answer generators against the shared generator suite: the extractive
//! answerer with the real model, and the OpenAI-compatible adapter against a
//! stand-in chat server on loopback (checked at the HTTP level: what it sends,
//! how it reads the reply, how it reports failures).

use std::sync::{Arc, Mutex};

use askdocs_shared::embedded::{
    openai_chat::ChatEndpoint, ExtractiveAnswerer, MiniLmEmbedder, OpenAiChatGenerator,
};
use askdocs_shared::ports::Generator;
use askdocs_shared::testing::harness::model_dir;
use askdocs_shared::testing::{generator_contract, sample_generation_request};
use askdocs_shared::Error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[tokio::test]
async fn the_extractive_answerer_passes_the_generator_suite() {
    let embedder = Arc::new(MiniLmEmbedder::load(&model_dir()).unwrap());
    let answerer = ExtractiveAnswerer::new(embedder);
    generator_contract(&answerer).await;

    // Its answer is quoted from the passage, never written.
    let generated = answerer
        .generate(&sample_generation_request())
        .await
        .unwrap();
    assert!(
        generated
            .answer
            .contains("Error code E-4012 means the fog pump stalled."),
        "{}",
        generated.answer
    );
    assert!(
        generated.quotes[0].text.contains("fog pump"),
        "{generated:?}"
    );
}

#[derive(Clone, Default)]
struct ChatServer {
    requests: Arc<Mutex<Vec<Value>>>,
}

/// A loopback chat server answering with `status` and `reply`; returns its base URL.
async fn chat_server(status: StatusCode, reply: Value) -> (String, ChatServer) {
    let server = ChatServer::default();
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(
                move |State(server): State<ChatServer>, Json(body): Json<Value>| {
                    let reply = reply.clone();
                    async move {
                        server.requests.lock().unwrap().push(body);
                        (status, Json(reply))
                    }
                },
            ),
        )
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/v1"), server)
}

fn settings(base_url: &str) -> ChatEndpoint {
    ChatEndpoint {
        base_url: base_url.to_string(),
        model: "llama-3.2-3b".into(),
        api_key: Some("local-key".into()),
        max_tokens: 256,
        temperature: 0.0,
    }
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "llama-3.2-3b-instruct",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    })
}

#[tokio::test]
async fn the_chat_adapter_passes_the_generator_suite_and_sends_a_fenced_prompt() {
    let (url, server) = chat_server(
        StatusCode::OK,
        completion("It means the fog pump stalled [2]. See also [7]."),
    )
    .await;
    let generator = OpenAiChatGenerator::new(settings(&url)).unwrap();

    generator_contract(&generator).await;

    let sent = server.requests.lock().unwrap()[0].clone();
    assert_eq!(sent["model"], "llama-3.2-3b");
    assert_eq!(sent["temperature"], 0.0);
    assert_eq!(sent["max_tokens"], 256);
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains("only"));
    // The earlier turn, then the passages and the question.
    assert_eq!(messages[1]["content"], "Which manual is this?");
    assert_eq!(messages[2]["role"], "assistant");
    let user = messages[3]["content"].as_str().unwrap();
    assert!(
        user.contains("<passage number=\"2\" document=\"manual.pdf\" page=\"2\">"),
        "{user}"
    );
    assert!(user.ends_with("Question: What does error code E-4012 mean?"));

    // The reply's model is reported, and [7] (no such passage) is not a citation.
    let generated = generator
        .generate(&sample_generation_request())
        .await
        .unwrap();
    assert_eq!(generated.model, "llama-3.2-3b-instruct");
    assert_eq!(
        askdocs_shared::query::citations::cited_passages(&generated.answer, 2),
        vec![2]
    );
}

#[tokio::test]
async fn chat_failures_are_retryable_only_when_retrying_can_help() {
    let (busy, _) = chat_server(StatusCode::TOO_MANY_REQUESTS, json!({"error": "slow down"})).await;
    let error = OpenAiChatGenerator::new(settings(&busy))
        .unwrap()
        .generate(&sample_generation_request())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");

    let (broken, _) = chat_server(StatusCode::BAD_REQUEST, json!({"error": "no such model"})).await;
    let error = OpenAiChatGenerator::new(settings(&broken))
        .unwrap()
        .generate(&sample_generation_request())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Internal(_)), "{error:?}");

    let (garbled, _) = chat_server(StatusCode::OK, json!({"choices": []})).await;
    let error = OpenAiChatGenerator::new(settings(&garbled))
        .unwrap()
        .generate(&sample_generation_request())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Internal(_)), "{error:?}");

    // Nothing listens on port 9 of loopback.
    let error = OpenAiChatGenerator::new(settings("http://127.0.0.1:9/v1"))
        .unwrap()
        .generate(&sample_generation_request())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}
