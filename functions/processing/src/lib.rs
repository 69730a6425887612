//! The processing function: an S3 `ObjectCreated` event → extract → chunk →
//! embed → index, for every record of the event.

use std::sync::Arc;

use askdocs_shared::backends::Backends;
use askdocs_shared::ingest::{Processed, Processor};
use askdocs_shared::Error;
use aws_lambda_events::event::s3::S3Event;

#[derive(Clone)]
pub struct ProcessingState {
    pub processor: Arc<Processor>,
}

impl ProcessingState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(ProcessingState {
            processor: backends.processor()?,
        })
    }
}

/// The object keys of an event's `ObjectCreated` records, URL-decoded as S3
/// encodes them (`+` for a space, `%xx` for the rest).
pub fn created_object_keys(event: &S3Event) -> Vec<String> {
    event
        .records
        .iter()
        .filter(|record| {
            record
                .event_name
                .as_deref()
                .is_some_and(|name| name.starts_with("ObjectCreated"))
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

/// Processes every record. Permanent problems mark their document `failed` and
/// count as handled; if any record hit a problem a retry could fix, the whole
/// event is returned as an error so Lambda retries it (records already done
/// are skipped on the retry).
pub async fn handle(state: &ProcessingState, event: S3Event) -> Result<Vec<Processed>, Error> {
    let mut processed = Vec::new();
    let mut retryable = None;
    for key in created_object_keys(&event) {
        match state.processor.process(&key).await {
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

/// The S3 event for one stored object, shaped exactly as S3 sends it: the
/// local server and `askdocs ingest` run [`handle`] with it, the same path as in AWS.
pub fn object_created_event(key: &str, size: u64) -> S3Event {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/s3-put.json"))
            .expect("events/s3-put.json is valid JSON");
    let record = &mut event["Records"][0];
    record["eventTime"] = serde_json::json!(askdocs_shared::model::now());
    record["s3"]["bucket"]["name"] = serde_json::json!("askdocs-local");
    record["s3"]["bucket"]["arn"] = serde_json::json!("arn:aws:s3:::askdocs-local");
    record["s3"]["object"]["key"] = serde_json::json!(form_encode(key));
    record["s3"]["object"]["size"] = serde_json::json!(size);
    serde_json::from_value(event).expect("the S3 event template matches S3Event")
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
        let event = object_created_event("documents/u/d/Annual Report (2026) ü.pdf", 10);
        assert_eq!(
            event.records[0].s3.object.key.as_deref(),
            Some("documents/u/d/Annual+Report+%282026%29+%C3%BC.pdf")
        );
        assert_eq!(
            created_object_keys(&event),
            vec!["documents/u/d/Annual Report (2026) ü.pdf"]
        );
    }
}
