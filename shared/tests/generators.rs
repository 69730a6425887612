//! Both answer generators against the shared generator suite: the extractive
//! answerer with the real model, and the OpenAI-compatible adapter against a
//! stand-in chat server on loopback (checked at the HTTP level: what it sends,
//! how it reads the reply, how it reports failures).

use std::sync::{Arc, Mutex};

use askdocs_shared::embedded::{openai_chat::ChatEndpoint, MiniLmEmbedder, OpenAiChatGenerator};
use askdocs_shared::ports::Generator;
use askdocs_shared::query::answer::ExtractiveAnswerer;
use askdocs_shared::testing::harness::model_dir;
use askdocs_shared::testing::{generator_contract, sample_generation_request};
use askdocs_shared::Error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
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

fn request(question: &str, passages: &[&str]) -> askdocs_shared::model::GenerationRequest {
    let mut request = sample_generation_request();
    request.question = question.to_string();
    request.passages = passages
        .iter()
        .enumerate()
        .map(|(index, text)| askdocs_shared::model::Passage {
            number: index + 1,
            file_name: "faq.txt".into(),
            page: 1,
            text: text.to_string(),
            sentence_vectors: Default::default(),
        })
        .collect();
    request
}

#[tokio::test]
async fn the_extractive_answerer_quotes_the_answer_not_the_faq_question() {
    // GIVEN a FAQ whose entry repeats the user's question word for word
    let embedder = Arc::new(MiniLmEmbedder::load(&model_dir()).unwrap());
    let answerer = ExtractiveAnswerer::new(embedder);
    let faq =
        "Q: What do the letters XZ mean?\nNothing. They are just two letters, which come from \
               the file suffix. Q: Is xz faster than gzip?\nNo, it is slower.";

    // WHEN the user asks it, also in a second, overlapping passage
    let generated = answerer
        .generate(&request("What do the letters XZ mean?", &[faq, faq]))
        .await
        .unwrap();

    // THEN the answer is the sentences that follow the question, each quoted once
    assert!(
        !generated.answer.contains("What do the letters"),
        "{}",
        generated.answer
    );
    assert!(
        generated.answer.contains("just two letters"),
        "{}",
        generated.answer
    );
    assert_eq!(
        generated.answer.matches("just two letters").count(),
        1,
        "{}",
        generated.answer
    );
}

#[tokio::test]
async fn a_near_miss_is_not_found_while_the_stated_fact_is_quoted() {
    let embedder = Arc::new(MiniLmEmbedder::load(&model_dir()).unwrap());
    let answerer = ExtractiveAnswerer::new(embedder);
    let manual = "If set to a value greater than zero, TMOUT is treated as the default timeout \
                  for the read builtin. The select command terminates if input does not arrive.";

    // GIVEN a manual that describes TMOUT but never gives its default value
    // WHEN asked for the value
    let generated = answerer
        .generate(&request(
            "What is the default value of TMOUT in bash?",
            &[manual],
        ))
        .await
        .unwrap();
    // THEN it says it could not find it, citing nothing
    assert_eq!(generated.answer, askdocs_shared::model::NOT_FOUND_ANSWER);
    assert!(generated.quotes.is_empty());

    // AND a constant the documents name but never give the value of is not found either
    let generated = answerer
        .generate(&request(
            "What is the numeric value of the BZ_MAX_UNUSED constant?",
            &["BZ_MAX_UNUSED bytes of unused input are kept. Under LP64, sizeof(int) is still 4."],
        ))
        .await
        .unwrap();
    assert_eq!(generated.answer, askdocs_shared::model::NOT_FOUND_ANSWER);

    // AND when the value is stated, that sentence is the answer
    let generated = answerer
        .generate(&request(
            "How many bytes does BZ_MAX_UNUSED allow?",
            &["The library checks its inputs. BZ_MAX_UNUSED is 5000 bytes, the most unused input kept."],
        ))
        .await
        .unwrap();
    assert!(
        generated.answer.starts_with("BZ_MAX_UNUSED is 5000 bytes"),
        "{}",
        generated.answer
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
                        let stream = body["stream"] == true;
                        server.requests.lock().unwrap().push(body);
                        if stream && status == StatusCode::OK {
                            return streamed_reply(&reply);
                        }
                        (status, Json(reply)).into_response()
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

/// `reply` as an OpenAI-compatible server streams it: a chunk per word as
/// server-sent events (with a keep-alive comment), `data: [DONE]` last, sent
/// in 7-byte pieces so events and characters break across reads.
fn streamed_reply(reply: &Value) -> axum::response::Response {
    let content = reply["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    let finish = reply["choices"][0]["finish_reason"].clone();
    let model = reply["model"].clone();
    let mut text = String::from(": keep-alive\n\n");
    let words: Vec<String> = content.split_inclusive(' ').map(str::to_string).collect();
    for (index, word) in words.iter().enumerate() {
        let last = index + 1 == words.len();
        let chunk = json!({
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [{"index": 0, "delta": {"content": word},
                         "finish_reason": if last { finish.clone() } else { Value::Null }}]
        });
        text.push_str(&format!("data: {chunk}\r\n\r\n"));
    }
    text.push_str("data: [DONE]\n\n");
    let pieces: Vec<Result<Vec<u8>, std::convert::Infallible>> = text
        .into_bytes()
        .chunks(7)
        .map(|piece| Ok(piece.to_vec()))
        .collect();
    (
        [("content-type", "text/event-stream")],
        axum::body::Body::from_stream(futures::stream::iter(pieces)),
    )
        .into_response()
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

/// The real model, counting the texts it is asked to embed.
struct CountingEmbedder {
    model: MiniLmEmbedder,
    texts_embedded: Mutex<usize>,
}

#[async_trait::async_trait]
impl askdocs_shared::ports::Embedder for CountingEmbedder {
    async fn embed(&self, texts: &[String]) -> askdocs_shared::Result<Vec<Vec<f32>>> {
        *self.texts_embedded.lock().unwrap() += texts.len();
        self.model.embed(texts).await
    }
    fn dimensions(&self) -> usize {
        self.model.dimensions()
    }
    fn model_id(&self) -> &str {
        self.model.model_id()
    }
}

#[tokio::test]
async fn the_extractive_answerer_runs_no_model_when_retrieval_brought_every_vector() {
    // GIVEN passages indexed with their sentence vectors, and the question's
    // vector from retrieval
    use askdocs_shared::ports::Embedder;
    let embedder = Arc::new(CountingEmbedder {
        model: MiniLmEmbedder::load(&model_dir()).unwrap(),
        texts_embedded: Mutex::new(0),
    });
    let mut request = sample_generation_request();
    let texts: Vec<String> = request.passages.iter().map(|p| p.text.clone()).collect();
    let indexed = embedder.model.embed_passages("", &texts).await.unwrap();
    for (passage, vectors) in request.passages.iter_mut().zip(indexed) {
        passage.sentence_vectors = vectors.sentences.into();
    }
    let answerer = ExtractiveAnswerer::new(embedder.clone());
    let without_vector = answerer.generate(&request).await.unwrap();
    assert_eq!(
        *embedder.texts_embedded.lock().unwrap(),
        1,
        "only the question"
    );

    // WHEN the question comes with its vector
    request.question_vector = Some(
        embedder
            .model
            .embed(std::slice::from_ref(&request.question))
            .await
            .unwrap()
            .remove(0),
    );
    *embedder.texts_embedded.lock().unwrap() = 0;
    let with_vector = answerer.generate(&request).await.unwrap();

    // THEN the model is not run again, and the answer is the same
    assert_eq!(*embedder.texts_embedded.lock().unwrap(), 0);
    assert_eq!(with_vector.answer, without_vector.answer);
    assert!(
        with_vector.answer.contains("fog pump stalled"),
        "{with_vector:?}"
    );
}

#[tokio::test]
async fn the_chat_adapter_streams_with_stream_true_and_reads_every_piece() {
    // GIVEN a server streaming an answer with non-ASCII words, cut at its limit
    let mut reply = completion("Müller’s pump — it stalled [2].");
    reply["choices"][0]["finish_reason"] = json!("length");
    let (url, server) = chat_server(StatusCode::OK, reply).await;
    let generator = OpenAiChatGenerator::new(settings(&url)).unwrap();

    // WHEN the answer is streamed
    let (written, mut pieces) = askdocs_shared::ports::AnswerText::channel();
    let generated = generator
        .generate_streaming(&sample_generation_request(), &written)
        .await
        .unwrap();
    drop(written);
    let mut received = Vec::new();
    while let Some(piece) = pieces.recv().await {
        received.push(piece);
    }

    // THEN it asked for a stream, and passed each word on as it came
    assert_eq!(server.requests.lock().unwrap()[0]["stream"], true);
    assert_eq!(received.len(), 6, "{received:?}");
    assert_eq!(received.concat(), "Müller’s pump — it stalled [2].");
    assert_eq!(generated.answer, "Müller’s pump — it stalled [2].");
    assert_eq!(generated.model, "llama-3.2-3b-instruct");
    assert_eq!(
        generated.completion,
        askdocs_shared::model::Completion::Truncated
    );
}

/// A chat server whose stream is exactly `body`.
async fn raw_stream_server(body: &'static str) -> String {
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || async move { ([("content-type", "text/event-stream")], body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/v1")
}

#[tokio::test]
async fn a_chat_stream_that_breaks_off_or_reports_an_error_is_not_an_answer() {
    for (body, what) in [
        (
            "data: {\"choices\":[{\"delta\":{\"content\":\"It means the fog\"}}]}\n\n",
            "closed before [DONE] or a finish reason",
        ),
        (
            "data: {\"choices\":[{\"delta\":{\"content\":\"It means\"}}]}\n\ndata: {\"error\":{\"message\":\"out of memory\"}}\n\n",
            "an error chunk mid-answer",
        ),
    ] {
        // GIVEN a server whose stream ends that way
        let generator = OpenAiChatGenerator::new(settings(&raw_stream_server(body).await)).unwrap();
        // WHEN an answer is streamed from it
        let (written, _pieces) = askdocs_shared::ports::AnswerText::channel();
        let error = generator
            .generate_streaming(&sample_generation_request(), &written)
            .await
            .unwrap_err();
        // THEN it is a failure a retry may fix, not a short answer filed as whole
        assert!(matches!(error, Error::Unavailable(_)), "{what}: {error:?}");
    }
}
