//! The query function: ask questions of your own documents, answered with
//! citations, and read back what you asked.
//!
//! | route                 | handler     | domain            |
//! |-----------------------|-------------|-------------------|
//! | `POST /query/ask`     | [`ask`]     | `Asker::ask`      |
//! | `GET /query/history`  | [`history`] | `Asker::history`  |
//!
//! An ask whose `Accept` names `text/event-stream` is answered as
//! server-sent events ([`stream`]); any other gets the JSON answer.

pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use askdocs_shared::auth::tokens::Authenticator;
use askdocs_shared::backends::Backends;
use askdocs_shared::http::{finish, ApiJson, ApiQuery, Authenticated};
use askdocs_shared::model::{Citation, HistoryEntry};
use askdocs_shared::query::{Answer, Asker, Question};
use askdocs_shared::Result;
use axum::extract::{FromRef, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes(state: QueryState) -> Router {
    Router::new()
        .route("/query/ask", post(ask))
        .route("/query/history", get(history))
        .with_state(state)
}

pub fn app(state: QueryState) -> Router {
    let cors_origin = state.cors_origin.clone();
    finish(routes(state), cors_origin.as_deref())
}

#[derive(Clone)]
pub struct QueryState {
    pub asker: Arc<Asker>,
    pub authenticator: Arc<Authenticator>,
    pub cors_origin: Option<String>,
}

impl QueryState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(QueryState {
            asker: backends.asker()?,
            authenticator: backends.authenticator()?,
            cors_origin: backends.config().cors_origin.clone(),
        })
    }
}

impl FromRef<QueryState> for Arc<Authenticator> {
    fn from_ref(state: &QueryState) -> Self {
        state.authenticator.clone()
    }
}

/// `POST /query/ask`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AskRequest {
    pub question: String,
    #[serde(default)]
    pub document_ids: Option<Vec<String>>,
    #[serde(default)]
    pub top_k: Option<i64>,
    #[serde(default)]
    pub conversation_id: Option<String>,
}

impl From<AskRequest> for Question {
    fn from(request: AskRequest) -> Self {
        Question {
            question: request.question,
            document_ids: request.document_ids,
            top_k: request.top_k,
            conversation_id: request.conversation_id,
            time_budget: None,
        }
    }
}

/// What answering the response itself needs after the ask ends.
const RESPONSE_TIME: Duration = Duration::from_millis(500);

/// The time left of the Lambda invocation serving `context`, less what the
/// response needs: an ask must end before Lambda stops the function.
fn invocation_time_left(context: &lambda_http::Context) -> Duration {
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(context.deadline);
    deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(RESPONSE_TIME)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AskResponse {
    pub answer: String,
    pub citations: Vec<Citation>,
    pub conversation_id: askdocs_shared::model::ConversationId,
    pub query_id: String,
    pub model: String,
    /// The answer stopped at the model's length limit.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Documents in scope not searchable yet; the answer says so too.
    #[serde(skip_serializing_if = "is_zero")]
    pub still_processing: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl From<Answer> for AskResponse {
    fn from(answer: Answer) -> Self {
        AskResponse {
            answer: answer.answer,
            citations: answer.citations,
            conversation_id: answer.conversation_id,
            query_id: answer.query_id,
            model: answer.model,
            truncated: answer.truncated,
            still_processing: answer.still_processing,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryList {
    pub items: Vec<HistoryEntry>,
    pub next_cursor: Option<String>,
}

pub async fn ask(
    State(state): State<QueryState>,
    Authenticated(caller): Authenticated,
    invocation: Option<Extension<lambda_http::Context>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<AskRequest>,
) -> Result<Response> {
    let mut question = Question::from(request);
    question.time_budget = invocation.map(|Extension(context)| invocation_time_left(&context));
    // What is wrong with the request is answered as a JSON error before
    // any event is sent.
    let prepared = state.asker.prepare(&caller.user_id, question).await?;
    if stream::wants_event_stream(&headers) {
        return Ok(stream::answer_stream(state.asker.clone(), prepared));
    }
    let answer = state.asker.answer(prepared, None).await?;
    // Where the time went, for a client or a benchmark to read (W3C Server Timing).
    let server_timing = answer.timings.server_timing();
    let mut response = Json(AskResponse::from(answer)).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&server_timing) {
        response.headers_mut().insert("server-timing", value);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    conversation_id: Option<String>,
}

pub async fn history(
    State(state): State<QueryState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Response> {
    let listing = state
        .asker
        .history(
            &caller.user_id,
            query.limit,
            query.cursor.as_deref(),
            query.conversation_id.as_deref(),
        )
        .await?;
    Ok(Json(HistoryList {
        items: listing.items,
        next_cursor: listing.next_cursor,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ask_ends_before_lambda_stops_the_function() {
        // GIVEN an invocation with 10 s left
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let mut context = lambda_http::Context::default();
        context.deadline = (now + Duration::from_secs(10)).as_millis() as u64;
        // THEN the ask may take what is left, less the response's own time
        let left = invocation_time_left(&context);
        assert!(
            left <= Duration::from_millis(9500) && left > Duration::from_secs(9),
            "{left:?}"
        );
        // AND an invocation already past its deadline leaves nothing
        context.deadline = (now - Duration::from_secs(1)).as_millis() as u64;
        assert_eq!(invocation_time_left(&context), Duration::ZERO);
    }
}
