//! The processing queue in SQS: S3 notifications arrive on it, and the sweep
//! puts documents whose run died back on it, so each run has an invocation
//! of its own and the event source bounds how many run at once.

use std::time::Duration;

use async_trait::async_trait;

use super::errors::sdk_error;
use super::AwsClients;
use crate::error::{Error, Result};
use crate::model::Document;
use crate::ports::{ProcessingQueue, ReprocessMessage};

pub struct SqsProcessingQueue {
    clients: AwsClients,
    queue_url: String,
}

impl SqsProcessingQueue {
    pub(crate) fn new(clients: AwsClients, queue_url: &str) -> Self {
        SqsProcessingQueue {
            clients,
            queue_url: queue_url.to_string(),
        }
    }

    /// The bodies of up to 10 messages waiting on the queue, removed from it
    /// (tests read what was queued).
    #[cfg(feature = "testing")]
    pub async fn take_waiting(&self) -> Vec<String> {
        let client = self.clients.sqs().await;
        let received = client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receiving from the queue");
        let mut bodies = Vec::new();
        for message in received.messages() {
            if let Some(handle) = message.receipt_handle() {
                client
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("deleting a received message");
            }
            bodies.extend(message.body().map(str::to_string));
        }
        bodies
    }
}

#[async_trait]
impl ProcessingQueue for SqsProcessingQueue {
    async fn requeue(&self, document: &Document) -> Result<()> {
        let body = serde_json::to_string(&ReprocessMessage::for_document(document))
            .map_err(|error| Error::Internal(error.into()))?;
        self.clients
            .sqs()
            .await
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|error| sdk_error("SQS SendMessage (processing queue)", error))?;
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> Result<()> {
        self.clients
            .sqs()
            .await
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(delay.as_secs()).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|error| sdk_error("SQS ChangeMessageVisibility (processing queue)", error))?;
        Ok(())
    }
}
