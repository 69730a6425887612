//! The query function: ask questions of your own documents, answered with
//! citations, and read back what you asked.

use std::sync::Arc;

use askdocs_shared::auth::Authenticator;
use askdocs_shared::backends::Backends;
use askdocs_shared::http::{finish, ApiJson, ApiQuery, Authenticated};
use askdocs_shared::retrieve::{AskRequest, Asker};
use askdocs_shared::Result;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

#[derive(Clone)]
pub struct QueryState {
    pub asker: Arc<Asker>,
    pub authenticator: Arc<Authenticator>,
}

impl QueryState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(QueryState {
            asker: backends.asker()?,
            authenticator: backends.authenticator()?,
        })
    }
}

impl FromRef<QueryState> for Arc<Authenticator> {
    fn from_ref(state: &QueryState) -> Self {
        state.authenticator.clone()
    }
}

pub fn routes(state: QueryState) -> Router {
    Router::new()
        .route("/query/ask", post(ask))
        .route("/query/history", get(history))
        .with_state(state)
}

pub fn app(state: QueryState) -> Router {
    finish(routes(state))
}

async fn ask(
    State(state): State<QueryState>,
    Authenticated(caller): Authenticated,
    ApiJson(request): ApiJson<AskRequest>,
) -> Result<Response> {
    Ok(Json(state.asker.ask(&caller.user_id, request).await?).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HistoryQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    conversation_id: Option<String>,
}

async fn history(
    State(state): State<QueryState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Response> {
    let history = state
        .asker
        .history(
            &caller.user_id,
            query.limit,
            query.cursor.as_deref(),
            query.conversation_id.as_deref(),
        )
        .await?;
    Ok(Json(history).into_response())
}
