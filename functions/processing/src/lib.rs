//! The processing function: S3 `ObjectCreated` events → extract (in a
//! sandboxed child process) → chunk → embed → index, for every record; and a
//! scheduled sweep that re-drives runs that died and fails uploads that never
//! arrived. In AWS the S3 notifications reach it through an SQS queue (whose
//! event source bounds how many documents are processed at once), where the
//! sweep also puts the documents it re-drives.
//!
//! | event                                         | handler          | domain                 |
//! |-----------------------------------------------|------------------|------------------------|
//! | S3 `ObjectCreated:*` under `documents/`        | [`handle`]      | `Processor::process`   |
//! | S3 `ObjectRemoved:*` under `documents/`        | [`handle`]      | `Processor::forget`    |
//! | SQS: those S3 notifications, or `{"reprocess"}` | [`handle_queued`] | the two above        |
//! | EventBridge "Scheduled Event"                  | [`sweep`]       | `Processor::sweep`     |

pub mod lambda;

use std::sync::Arc;

use askdocs_shared::backends::Backends;
use askdocs_shared::ports::{ProcessingQueue, ReprocessMessage};
use askdocs_shared::processing::{Processed, Processor, Swept};
use askdocs_shared::Error;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::{S3Entity, S3Event, S3EventRecord, S3Object};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;

#[derive(Clone)]
pub struct ProcessingState {
    pub processor: Arc<Processor>,
    /// Where the sweep puts documents to run again (SQS in AWS); without
    /// one, it runs them itself.
    pub queue: Option<Arc<dyn ProcessingQueue>>,
}

impl ProcessingState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(ProcessingState {
            processor: backends.processor()?,
            queue: backends.processing_queue(),
        })
    }
}

/// What the function was invoked with.
#[derive(Debug)]
pub enum ProcessingEvent {
    Uploaded(S3Event),
    Queued(SqsEvent),
    Scheduled(EventBridgeEvent),
}

impl ProcessingEvent {
    /// S3 notifications and SQS batches hold `Records` (told apart by their
    /// `eventSource`); EventBridge schedules a `detail-type`.
    pub fn parse(payload: Value) -> Result<Self, String> {
        if let Some(records) = payload.get("Records") {
            let from_sqs = records
                .get(0)
                .and_then(|record| record.get("eventSource"))
                .and_then(Value::as_str)
                == Some("aws:sqs");
            if from_sqs {
                return serde_json::from_value(payload)
                    .map(ProcessingEvent::Queued)
                    .map_err(|error| format!("not an SQS event: {error}"));
            }
            return serde_json::from_value(payload)
                .map(ProcessingEvent::Uploaded)
                .map_err(|error| format!("not an S3 event: {error}"));
        }
        if payload.get("detail-type").is_some() {
            return serde_json::from_value(payload)
                .map(ProcessingEvent::Scheduled)
                .map_err(|error| format!("not an EventBridge event: {error}"));
        }
        Err("expected an S3 notification or a scheduled EventBridge event".into())
    }
}

/// The object keys of an event's records whose name starts with `kind`
/// (`ObjectCreated`, `ObjectRemoved`), URL-decoded as S3 encodes them (`+`
/// for a space, `%xx` for the rest).
fn object_keys(event: &S3Event, kind: &str) -> Vec<String> {
    event
        .records
        .iter()
        .filter(|record| {
            record
                .event_name
                .as_deref()
                .is_some_and(|name| name.starts_with(kind))
        })
        .filter_map(|record| record.s3.object.key.as_deref())
        .map(|key| {
            let spaced = key.replace('+', " ");
            percent_encoding::percent_decode_str(&spaced)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

pub fn created_object_keys(event: &S3Event) -> Vec<String> {
    object_keys(event, "ObjectCreated")
}

/// Processes every record. Permanent problems mark their document `failed` and
/// count as handled; if any record hit a problem a retry could fix, the whole
/// event is returned as an error so Lambda retries it (records already done
/// are skipped on the retry).
pub async fn handle(state: &ProcessingState, event: S3Event) -> Result<Vec<Processed>, Error> {
    let mut processed = Vec::new();
    let mut retryable = None;
    let created = created_object_keys(&event)
        .into_iter()
        .map(|key| (key, true));
    let removed = object_keys(&event, "ObjectRemoved")
        .into_iter()
        .map(|key| (key, false));
    for (key, is_created) in created.chain(removed) {
        let outcome = if is_created {
            state.processor.process(&key).await
        } else {
            state.processor.forget(&key).await
        };
        match outcome {
            Ok(outcome) => processed.push(outcome),
            Err(error) => {
                tracing::warn!(key, error = %error, "record failed; the event will be retried");
                retryable.get_or_insert(error);
            }
        }
    }
    match retryable {
        Some(error) => Err(error),
        None => Ok(processed),
    }
}

/// What one message of the processing queue asks for.
#[derive(Debug)]
enum QueuedWork {
    Notification(S3Event),
    Reprocess(ReprocessMessage),
    /// S3's `s3:TestEvent`, sent once when the notification is configured.
    Test,
}

fn queued_work(body: &str) -> Result<QueuedWork, String> {
    let value: Value = serde_json::from_str(body).map_err(|error| format!("not JSON: {error}"))?;
    if value.get("Records").is_some() {
        return serde_json::from_value(value)
            .map(QueuedWork::Notification)
            .map_err(|error| format!("not an S3 notification: {error}"));
    }
    if value.get("reprocess").is_some() {
        return serde_json::from_value(value)
            .map(QueuedWork::Reprocess)
            .map_err(|error| format!("not a reprocess message: {error}"));
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(QueuedWork::Test);
    }
    Err("neither an S3 notification nor a reprocess message".into())
}

/// How soon a message whose work a retry may finish is delivered again.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Processes each message of an SQS batch. A message whose work a retry
/// could finish is reported as failed: SQS delivers it again (after
/// [`RETRY_AFTER`]), and after its last receive moves it to the failure
/// queue. The others are done: a document that failed for good is marked
/// `failed`, and a message no retry can make readable is logged and dropped.
pub async fn handle_queued(state: &ProcessingState, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let body = message.body.as_deref().unwrap_or_default();
        let outcome = match queued_work(body) {
            Ok(QueuedWork::Notification(notification)) => {
                handle(state, notification).await.map(|_| ())
            }
            Ok(QueuedWork::Reprocess(message)) => state
                .processor
                .process(&message.reprocess.key)
                .await
                .map(|_| ()),
            Ok(QueuedWork::Test) => Ok(()),
            Err(problem) => {
                tracing::error!(message_id = %id, problem, body = %askdocs_shared::model::text::shorten(body, 500), "unreadable message on the processing queue; dropped");
                Ok(())
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(message_id = %id, error = %error, "message not done; SQS will deliver it again");
            if let (Some(queue), Some(receipt)) = (&state.queue, message.receipt_handle.as_deref())
            {
                if let Err(error) = queue.retry_later(receipt, RETRY_AFTER).await {
                    tracing::warn!(message_id = %id, error = %error, "could not bring the retry forward");
                }
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// The scheduled sweep: documents whose run died are put back on the
/// processing queue, to run in an invocation of their own (or given up after
/// their second death); uploads that never came are failed. Without a queue
/// (one machine, `make invoke`) they are processed here.
pub async fn sweep(state: &ProcessingState) -> Result<Swept, Error> {
    let swept = state.processor.sweep().await?;
    for document in &swept.retry {
        let queued = match &state.queue {
            Some(queue) => queue.requeue(document).await,
            None => Err(Error::Unavailable(anyhow::anyhow!("no processing queue"))),
        };
        if let Err(error) = queued {
            if state.queue.is_some() {
                tracing::warn!(key = %document.key, error = %error, "re-queueing failed; processing here");
            }
            if let Err(error) = state.processor.process(&document.key).await {
                // The next sweep tries again; this one goes on with the others.
                tracing::warn!(key = %document.key, error = %error, "re-driven document failed again; left for the next sweep");
            }
        }
    }
    tracing::info!(
        retried = swept.retry.len(),
        failed = swept.failed,
        "sweep done"
    );
    Ok(swept)
}

/// The S3 event for one stored object, shaped exactly as S3 sends it: the
/// local server and `askdocs ingest` run [`handle`] with it, the same path as in AWS.
pub fn object_created_event(bucket: &str, key: &str, size: u64) -> S3Event {
    let mut object = S3Object::default();
    object.key = Some(form_encode(key));
    object.size = Some(size as i64);
    let mut entity = S3Entity::default();
    entity.schema_version = Some("1.0".into());
    entity.bucket.name = Some(bucket.to_string());
    entity.bucket.arn = Some(format!("arn:aws:s3:::{bucket}"));
    entity.object = object;
    let mut record = S3EventRecord::default();
    record.event_version = Some("2.1".into());
    record.event_source = Some("aws:s3".into());
    record.event_time = chrono::Utc::now();
    record.event_name = Some("ObjectCreated:Put".into());
    record.s3 = entity;
    let mut event = S3Event::default();
    event.records = vec![record];
    event
}

/// Encodes a key as S3 does in event notifications.
fn form_encode(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    percent_encoding::utf8_percent_encode(key, KEEP)
        .to_string()
        .replace(' ', "+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        let event = object_created_event("bucket", "documents/u/d/Annual Report (2026) ü.pdf", 10);
        assert_eq!(
            event.records[0].s3.object.key.as_deref(),
            Some("documents/u/d/Annual+Report+%282026%29+%C3%BC.pdf")
        );
        assert_eq!(
            created_object_keys(&event),
            vec!["documents/u/d/Annual Report (2026) ü.pdf"]
        );
    }

    #[test]
    fn events_are_told_apart_by_their_shape() {
        let s3 = serde_json::to_value(object_created_event("b", "documents/u/d/a.pdf", 1)).unwrap();
        assert!(matches!(
            ProcessingEvent::parse(s3),
            Ok(ProcessingEvent::Uploaded(_))
        ));
        let schedule: Value =
            serde_json::from_str(include_str!("../../../events/schedule-sweep.json"))
                .expect("events/schedule-sweep.json is JSON");
        assert!(matches!(
            ProcessingEvent::parse(schedule),
            Ok(ProcessingEvent::Scheduled(_))
        ));
        assert!(ProcessingEvent::parse(serde_json::json!({"hello": 1})).is_err());
    }
}
