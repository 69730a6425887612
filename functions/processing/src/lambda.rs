//! One Lambda binary, three kinds of event: SQS batches from the processing
//! queue (S3 notifications and re-driven documents), S3 notifications sent
//! to the function directly, and the scheduled sweep.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::{handle, handle_queued, sweep, ProcessingEvent, ProcessingState};
use askdocs_shared::Error;

/// Routes one invocation. An SQS batch answers which messages to deliver
/// again (Lambda's partial batch response); a failed direct invocation makes
/// Lambda retry the event, then send it to the on-failure queue.
pub async fn handle_event(
    state: &ProcessingState,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let outcome = match ProcessingEvent::parse(event.payload) {
        Ok(ProcessingEvent::Queued(batch)) => {
            let response = handle_queued(state, batch).await;
            return serde_json::to_value(response).map_err(|error| Diagnostic {
                error_type: "ResponseEncoding".into(),
                error_message: error.to_string(),
            });
        }
        Ok(ProcessingEvent::Uploaded(event)) => handle(state, event).await.map(|_| ()),
        Ok(ProcessingEvent::Scheduled(_)) => sweep(state).await.map(|_| ()),
        Err(problem) => {
            return Err(Diagnostic {
                error_type: "UnsupportedEvent".into(),
                error_message: problem,
            })
        }
    };
    outcome.map(|()| Value::Null).map_err(diagnostic)
}

fn diagnostic(error: Error) -> Diagnostic {
    Diagnostic {
        error_type: if error.is_retryable() {
            "Retryable"
        } else {
            "ProcessingFailed"
        }
        .to_string(),
        error_message: error.public_message(),
    }
}
