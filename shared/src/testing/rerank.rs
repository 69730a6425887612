//! A stand-in for Bedrock's Agent Runtime `Rerank` (restJson1, `POST
//! /rerank`): no emulator serves it. It checks the request has the shape the
//! API requires (one text query, inline text sources, a Bedrock reranking
//! model named by ARN) and scores each passage by the share of the
//! question's words it holds — a crude model, but a different order than
//! retrieval's, so a test can tell whose order an answer followed. It can
//! also be told to refuse (an error code and status) or to leave passages out.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Default)]
struct Calls {
    requests: Vec<Value>,
    refusal: Option<(u16, String)>,
    keep_only: Option<usize>,
}

#[derive(Clone, Default)]
pub struct RerankStandIn {
    calls: Arc<Mutex<Calls>>,
    pub url: String,
}

impl RerankStandIn {
    pub async fn start() -> Self {
        let mut stand_in = RerankStandIn::default();
        let app = axum::Router::new()
            .route("/rerank", axum::routing::post(rerank))
            .with_state(stand_in.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        stand_in.url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        stand_in
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.calls.lock().unwrap().requests.clone()
    }

    /// From now on answer every call with this error (`x-amzn-errortype`).
    pub fn refuse(&self, status: u16, code: &str) {
        self.calls.lock().unwrap().refusal = Some((status, code.to_string()));
    }

    /// From now on return only the best `count` results.
    pub fn keep_only(&self, count: usize) {
        self.calls.lock().unwrap().keep_only = Some(count);
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|word| word.len() > 2)
        .map(str::to_lowercase)
        .collect()
}

/// The share of the question's words the passage holds.
pub fn stand_in_relevance(question: &str, passage: &str) -> f32 {
    let asked = words(question);
    if asked.is_empty() {
        return 0.0;
    }
    let held = words(passage);
    asked.iter().filter(|word| held.contains(word)).count() as f32 / asked.len() as f32
}

fn refused(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("x-amzn-errortype", code.to_string())],
        Json(json!({ "message": message })),
    )
        .into_response()
}

async fn rerank(State(stand_in): State<RerankStandIn>, Json(body): Json<Value>) -> Response {
    let (refusal, keep_only) = {
        let mut calls = stand_in.calls.lock().unwrap();
        calls.requests.push(body.clone());
        (calls.refusal.clone(), calls.keep_only)
    };
    if let Some((status, code)) = refusal {
        return refused(status, &code, "refused by the stand-in");
    }
    match rerank_answer(&body, keep_only) {
        Ok(answer) => Json(answer).into_response(),
        Err(message) => refused(400, "ValidationException", message),
    }
}

/// What Rerank answers to the request `body`: its results, best first, at
/// most `keep_only` of them; or, for a request of the wrong shape, the
/// message of its ValidationException. (The whole-stack test's Bedrock
/// stand-in answers Rerank with it too.)
pub fn rerank_answer(body: &Value, keep_only: Option<usize>) -> Result<Value, &'static str> {
    let queries = body["queries"].as_array().cloned().unwrap_or_default();
    let question = match queries.as_slice() {
        [query] if query["type"] == "TEXT" => query["textQuery"]["text"].as_str(),
        _ => None,
    };
    let question = question.ok_or("exactly one TEXT query is required")?;
    let configuration = &body["rerankingConfiguration"];
    let arn = configuration["bedrockRerankingConfiguration"]["modelConfiguration"]["modelArn"]
        .as_str()
        .unwrap_or_default();
    if configuration["type"] != "BEDROCK_RERANKING_MODEL"
        || !arn.starts_with("arn:aws:bedrock:")
        || !arn.contains(":foundation-model/")
    {
        return Err("a Bedrock reranking model ARN is required");
    }
    let sources = body["sources"].as_array().cloned().unwrap_or_default();
    if sources.is_empty() || sources.len() > 1000 {
        return Err("1 to 1000 sources are required");
    }
    let mut results = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let document = &source["inlineDocumentSource"];
        let text = document["textDocument"]["text"]
            .as_str()
            .filter(|_| source["type"] == "INLINE" && document["type"] == "TEXT")
            .ok_or("sources must be inline text documents")?;
        results.push((index, stand_in_relevance(question, text)));
    }
    results.sort_by(|a, b| b.1.total_cmp(&a.1));
    let wanted = configuration["bedrockRerankingConfiguration"]["numberOfResults"]
        .as_u64()
        .map_or(results.len(), |wanted| wanted as usize);
    results.truncate(wanted.min(keep_only.unwrap_or(usize::MAX)));
    let results: Vec<Value> = results
        .into_iter()
        .map(|(index, score)| json!({ "index": index, "relevanceScore": score }))
        .collect();
    Ok(json!({ "results": results }))
}
