//! Claude on Bedrock through the Converse API for answers (ConverseStream
//! when the client reads the answer as it is written). Model ids are
//! configuration.
//!
//! An answer is bounded by the time its ask has left: the call's timeout is
//! that time, the token budget what the model can write in it, and a call
//! that may have reached the model (timed out, or cut off mid-answer) is
//! never retried into a second billed call. Throttling and errors Bedrock
//! answers before generating are retried as the SDK retries them.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseOutput, ConverseStreamOutput,
    InferenceConfiguration, Message, StopReason, SystemContentBlock,
};
use serde_json::Value;

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

use super::errors::{describe, sdk_error, ServiceError};
use super::AwsClients;
use crate::error::{Error, Result};
use crate::model::{ChatRole, Completion, Generated, GenerationRequest};
use crate::ports::{AnswerText, Generator};

pub struct ClaudeGenerator {
    clients: AwsClients,
    model_id: String,
    max_tokens: i32,
    temperature: f32,
}

impl ClaudeGenerator {
    /// `model_id` may be a model id or an inference profile id / ARN.
    pub(crate) fn new(
        clients: AwsClients,
        model_id: &str,
        max_tokens: i32,
        temperature: f32,
    ) -> Self {
        ClaudeGenerator {
            clients,
            model_id: model_id.to_string(),
            max_tokens,
            temperature,
        }
    }
}

fn message(role: ChatRole, text: String) -> Result<Message> {
    let role = match role {
        ChatRole::User => ConversationRole::User,
        ChatRole::Assistant => ConversationRole::Assistant,
    };
    Message::builder()
        .role(role)
        .content(ContentBlock::Text(text))
        .build()
        .map_err(|error| Error::Internal(anyhow::anyhow!("building a Converse message: {error}")))
}

fn withheld() -> Error {
    Error::Unprocessable {
        code: "content_filtered",
        message:
            "the answer was withheld by the model's content filter; try rephrasing the question"
                .into(),
    }
}

/// What the model needs before its first word, and what it writes per second
/// at least (Claude Haiku on Bedrock: ~0.5–1 s to the first token, then well
/// over 100 tokens a second): the budget of an answer that must end in time.
const FIRST_TOKEN: Duration = Duration::from_millis(1500);
const TOKENS_PER_SECOND: f64 = 50.0;
/// Below this many tokens an answer is not worth starting.
const MIN_ANSWER_TOKENS: i32 = 64;

/// The tokens the model can surely write in `left`, or `None` if too few.
pub(crate) fn tokens_writable_in(left: Duration) -> Option<i32> {
    let writing = left.checked_sub(FIRST_TOKEN)?.as_secs_f64();
    let tokens = (writing * TOKENS_PER_SECOND).min(f64::from(i32::MAX)) as i32;
    (tokens >= MIN_ANSWER_TOKENS).then_some(tokens)
}

fn out_of_time() -> Error {
    Error::TimedOut(
        "the answer could not be written in the time a request is allowed; please try again".into(),
    )
}

/// A Converse call that may have reached the model (it timed out, or the
/// answer broke off) is not sent again: a second call would be billed again
/// and would not finish in the time left either. Calls Bedrock refused
/// before generating (throttling, 5xx answers) are left to the SDK's
/// standard classifiers.
#[derive(Debug)]
struct NoRetryOnceSent;

impl ClassifyRetry for NoRetryOnceSent {
    fn classify_retry(&self, context: &InterceptorContext) -> RetryAction {
        match context.output_or_error() {
            Some(Err(error))
                if error.is_timeout_error()
                    || error.is_response_error()
                    || error
                        .as_connector_error()
                        .is_some_and(|connector| connector.is_timeout() || connector.is_io()) =>
            {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "askdocs: no Converse retry once sent"
    }
}

/// What one Converse or ConverseStream call sends, apart from the operation.
struct ConverseCall {
    messages: Vec<Message>,
    inference: InferenceConfiguration,
    settings: aws_sdk_bedrockruntime::config::Builder,
}

impl ClaudeGenerator {
    fn call(&self, request: &GenerationRequest) -> Result<ConverseCall> {
        let messages = request
            .prompt
            .messages
            .iter()
            .map(|turn| message(turn.role, turn.text.clone()))
            .collect::<Result<Vec<_>>>()?;
        let max_tokens = match request.time_left {
            Some(left) => tokens_writable_in(left)
                .ok_or_else(out_of_time)?
                .min(self.max_tokens),
            None => self.max_tokens,
        };
        let mut settings =
            aws_sdk_bedrockruntime::config::Builder::default().retry_classifier(NoRetryOnceSent);
        if let Some(left) = request.time_left {
            // One deadline for every attempt together: a timed-out attempt
            // leaves no time for another.
            settings = settings.timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .operation_timeout(left)
                    .operation_attempt_timeout(left)
                    .build(),
            );
        }
        Ok(ConverseCall {
            messages,
            inference: InferenceConfiguration::builder()
                .max_tokens(max_tokens)
                .temperature(self.temperature)
                .build(),
            settings,
        })
    }

    fn generated(&self, answer: &str, stop_reason: Option<&StopReason>) -> Result<Generated> {
        let completion = match stop_reason {
            Some(StopReason::ContentFiltered | StopReason::GuardrailIntervened) => {
                return Err(withheld())
            }
            Some(StopReason::MaxTokens) => Completion::Truncated,
            _ => Completion::Complete,
        };
        let answer = answer.trim();
        if answer.is_empty() {
            return Err(Error::Internal(anyhow::anyhow!(
                "Converse returned no text (stop reason {stop_reason:?})"
            )));
        }
        Ok(Generated {
            answer: answer.to_string(),
            quotes: Vec::new(),
            model: self.model_id.clone(),
            completion,
        })
    }
}

fn converse_failed<E: ServiceError>(
    operation: &str,
    error: aws_sdk_bedrockruntime::error::SdkError<E, HttpResponse>,
) -> Error {
    match error {
        aws_sdk_bedrockruntime::error::SdkError::TimeoutError(_) => out_of_time(),
        error => sdk_error(operation, error),
    }
}

/// A failure of ConverseStream once the answer is under way. Exceptions in
/// the event stream carry no error code, only their type: a throttled,
/// unavailable or failing model may answer a retry, the rest is ours to fix.
fn stream_failed(
    error: aws_sdk_bedrockruntime::error::SdkError<
        ConverseStreamOutputError,
        aws_smithy_types::event_stream::RawMessage,
    >,
) -> Error {
    use aws_sdk_bedrockruntime::error::SdkError;
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => matches!(
            service.err(),
            ConverseStreamOutputError::ThrottlingException(_)
                | ConverseStreamOutputError::ServiceUnavailableException(_)
                | ConverseStreamOutputError::InternalServerException(_)
                | ConverseStreamOutputError::ModelStreamErrorException(_)
        ),
        _ => false,
    };
    let detail = anyhow::anyhow!("Bedrock ConverseStream: {}", describe(&error));
    if retryable {
        Error::Unavailable(detail)
    } else {
        Error::Internal(detail)
    }
}

/// Sends `request` as the Converse or ConverseStream `operation`: the two
/// take the same fields but are different SDK builder types.
macro_rules! send_converse {
    ($generator:expr, $operation:ident, $request:expr, $name:literal) => {{
        let call = $generator.call($request)?;
        $generator
            .clients
            .bedrock()
            .await
            .$operation()
            .model_id(&$generator.model_id)
            .system(SystemContentBlock::Text($request.prompt.system.clone()))
            .set_messages(Some(call.messages))
            .inference_config(call.inference)
            .customize()
            .config_override(call.settings)
            .send()
            .await
            .map_err(|error| converse_failed($name, error))?
    }};
}

#[async_trait]
impl Generator for ClaudeGenerator {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let output = send_converse!(self, converse, request, "Bedrock Converse");
        let answer = match output.output() {
            Some(ConverseOutput::Message(reply)) => reply
                .content()
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::Text(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        self.generated(&answer, Some(output.stop_reason()))
    }

    /// ConverseStream: each piece of text is passed on as Bedrock sends it.
    /// Returning early (the client hung up, or the time ran out) drops the
    /// stream, which closes the connection and stops the model.
    async fn generate_streaming(
        &self,
        request: &GenerationRequest,
        written: &AnswerText,
    ) -> Result<Generated> {
        let deadline = request
            .time_left
            .map(|left| tokio::time::Instant::now() + left);
        let output = send_converse!(self, converse_stream, request, "Bedrock ConverseStream");
        let mut events = output.stream;
        let mut answer = String::new();
        let mut stop_reason = None;
        loop {
            let next = events.recv();
            let event = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, next)
                    .await
                    .map_err(|_| out_of_time())?,
                None => next.await,
            }
            .map_err(stream_failed)?;
            match event {
                None => break,
                Some(ConverseStreamOutput::ContentBlockDelta(delta)) => {
                    if let Some(ContentBlockDelta::Text(text)) = delta.delta() {
                        // Leading blank space of the answer is not sent.
                        let piece = if answer.trim().is_empty() {
                            text.trim_start()
                        } else {
                            text.as_str()
                        };
                        written.send(piece).await?;
                        answer.push_str(piece);
                    }
                }
                Some(ConverseStreamOutput::MessageStop(stop)) => {
                    stop_reason = Some(stop.stop_reason().clone());
                }
                Some(_) => {}
            }
        }
        self.generated(&answer, stop_reason.as_ref())
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

/// One frame of Bedrock's event stream, as ConverseStream sends it: an
/// `event` named `name` (`contentBlockDelta`, `messageStop`, …) or an
/// `exception` of that type (`throttlingException`, …), its payload JSON.
/// For stand-ins that answer the adapter as Bedrock would (the tests, `make
/// bench`); the adapter itself only reads frames.
pub fn event_stream_frame(message_type: &str, name: &str, payload: &Value) -> Vec<u8> {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let type_header = if message_type == "exception" {
        ":exception-type"
    } else {
        ":event-type"
    };
    let message = Message::new(serde_json::to_vec(payload).expect("a JSON value serializes"))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.to_string().into()),
        ))
        .add_header(Header::new(
            type_header,
            HeaderValue::String(name.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut frame = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut frame)
        .expect("a frame of a JSON payload encodes");
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_gets_the_tokens_its_time_allows() {
        assert_eq!(tokens_writable_in(Duration::from_secs(25)), Some(1175));
        assert_eq!(tokens_writable_in(Duration::from_secs(5)), Some(175));
        assert_eq!(tokens_writable_in(Duration::from_millis(2500)), None);
        assert_eq!(tokens_writable_in(Duration::from_millis(500)), None);
    }
}
