//! `POST /query/ask` as server-sent events, for a client that sends
//! `Accept: text/event-stream`: the answer is read as it is written.
//!
//! | event       | data                                                        |
//! |-------------|-------------------------------------------------------------|
//! | `citations` | `{citations, conversationId}`: the passages retrieved, `[n]` in the text numbers them |
//! | `answer`    | `{text}`: the next piece of the answer                       |
//! | `done`      | the JSON answer (`answer`, `citations` as filed, `queryId`, …) and `serverTiming` |
//! | `error`     | `{error: {code, message}}`, as a JSON error; the stream ends  |
//!
//! The answer is generated while the client reads the stream and by no one
//! else: when the server drops the stream (the local server, as soon as the
//! client hangs up), the generation goes with it (no more tokens are billed)
//! and the history write that would have followed it. On AWS the function
//! learns of a hang-up only if Lambda closes its response stream; otherwise
//! the answer runs to its end (bounded by its token budget and deadline) and
//! is filed.

use std::convert::Infallible;
use std::sync::Arc;

use askdocs_shared::metrics::{self, Metric};
use askdocs_shared::ports::AnswerText;
use askdocs_shared::query::{Answer, Asker, PreparedAsk};
use askdocs_shared::Error;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use futures::Stream;
use serde::Serialize;
use tokio::sync::mpsc::Receiver;
use tracing::Instrument as _;

use crate::AskResponse;

/// Whether the client asked for the answer as a stream of events.
pub fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media_type| {
            let mut parameters = media_type.split(';');
            let essence = parameters.next().unwrap_or_default().trim();
            // `q=0` says "not this one".
            let refused = parameters.any(|parameter| {
                parameter.split_once('=').is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("q")
                        && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
                })
            });
            essence.eq_ignore_ascii_case("text/event-stream") && !refused
        })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sources<'a> {
    citations: Vec<askdocs_shared::model::Citation>,
    conversation_id: &'a askdocs_shared::model::ConversationId,
}

#[derive(Serialize)]
struct Piece<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Finished {
    #[serde(flatten)]
    answer: AskResponse,
    /// Where the time went (the JSON answer's `Server-Timing` header).
    server_timing: String,
}

fn event(name: &'static str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

fn failed(error: &Error) -> Event {
    if error.status_code().is_server_error() {
        // The detail stays in the log; the client reads the public message.
        // The response is already a 200, so API Gateway's 5xx count misses
        // it: the metric is what the alarm watches.
        tracing::error!(error = %error, code = error.code(), "the streamed answer failed");
        metrics::count(Metric::AnswersFailed);
    } else {
        tracing::info!(error = %error, code = error.code(), "the streamed answer was refused");
    }
    event("error", &error.body())
}

/// Where the stream is.
enum Step {
    Sources(PreparedAsk),
    Answering {
        answering: BoxFuture<'static, askdocs_shared::Result<Answer>>,
        pieces: Receiver<String>,
        outcome: Option<askdocs_shared::Result<Answer>>,
    },
    Ended,
}

fn finished(outcome: askdocs_shared::Result<Answer>) -> Event {
    match outcome {
        Ok(answer) => {
            tracing::info!(query_id = %answer.query_id, "the streamed answer ended");
            let server_timing = answer.timings.server_timing();
            event(
                "done",
                &Finished {
                    answer: AskResponse::from(answer),
                    server_timing,
                },
            )
        }
        Err(error) => failed(&error),
    }
}

/// The events of one answer: its sources, its text as it is written, then
/// how it ended.
fn events(
    asker: Arc<Asker>,
    prepared: PreparedAsk,
    span: tracing::Span,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Step::Sources(prepared), move |step| {
        let asker = asker.clone();
        let step_of_request = async move {
            match step {
                Step::Sources(prepared) => {
                    let sources = event(
                        "citations",
                        &Sources {
                            citations: prepared.sources(),
                            conversation_id: prepared.conversation_id(),
                        },
                    );
                    let (written, pieces) = AnswerText::channel();
                    let answering: BoxFuture<'static, _> = Box::pin(async move {
                        // `written` lives as long as the generation: the
                        // pieces end when the answer does.
                        asker.answer(prepared, Some(&written)).await
                    });
                    let next = Step::Answering {
                        answering,
                        pieces,
                        outcome: None,
                    };
                    Some((Ok(sources), next))
                }
                Step::Answering {
                    mut answering,
                    mut pieces,
                    mut outcome,
                } => loop {
                    if outcome.is_none() {
                        tokio::select! {
                            biased;
                            piece = pieces.recv() => match piece {
                                Some(piece) => {
                                    let next = Step::Answering { answering, pieces, outcome };
                                    return Some((Ok(event("answer", &Piece { text: &piece })), next));
                                }
                                // Every piece is read; the answer is being filed.
                                None => outcome = Some((&mut answering).await),
                            },
                            ended = &mut answering => outcome = Some(ended),
                        }
                    } else {
                        // Pieces written just before the answer ended come first.
                        if let Ok(piece) = pieces.try_recv() {
                            let next = Step::Answering {
                                answering,
                                pieces,
                                outcome,
                            };
                            return Some((Ok(event("answer", &Piece { text: &piece })), next));
                        }
                        let ended = outcome.take().expect("checked above");
                        return Some((Ok(finished(ended)), Step::Ended));
                    }
                },
                Step::Ended => None,
            }
        };
        step_of_request.instrument(span.clone())
    })
}

/// The answer to a prepared ask as a `text/event-stream` response.
pub fn answer_stream(asker: Arc<Asker>, prepared: PreparedAsk) -> Response {
    // The body is polled after the handler returned (by the server, or by
    // the Lambda runtime's own task): its logs keep the request's span.
    let mut response = Sse::new(events(asker, prepared, tracing::Span::current())).into_response();
    let headers = response.headers_mut();
    // An answer is the caller's own: stored by no cache (as every API answer).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies (nginx and the like) pass each event on at once.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_asks_for_a_stream_with_its_accept_header() {
        let accept = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            wants_event_stream(&headers)
        };
        assert!(accept("text/event-stream"));
        assert!(accept("application/json, Text/Event-Stream;q=0.9"));
        assert!(!accept("application/json"));
        assert!(!accept("*/*"));
        assert!(!accept("application/json, text/event-stream;q=0"));
        assert!(!wants_event_stream(&HeaderMap::new()));
    }
}
