//! The query function: ask questions of your documents, read your history.

use askdocs_shared::backends::Backends;
use askdocs_shared::http::finish;
use askdocs_shared::Error;
use axum::routing::{get, post};
use axum::Router;

#[derive(Clone)]
pub struct QueryState {}

impl QueryState {
    pub fn new(_backends: &Backends) -> anyhow::Result<Self> {
        Ok(QueryState {})
    }
}

async fn not_yet() -> Error {
    Error::NotImplemented("questions are not available yet".into())
}

pub fn routes(state: QueryState) -> Router {
    Router::new()
        .route("/query/ask", post(not_yet))
        .route("/query/history", get(not_yet))
        .with_state(state)
}

pub fn app(state: QueryState) -> Router {
    finish(routes(state))
}
