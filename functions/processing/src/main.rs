use askdocs_processing::{handle, ProcessingState};
use askdocs_shared::{backends::Backends, config::Config, logging};
use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    logging::init(config.log_format, &config.log_filter);
    let backends = Backends::connect(&config).await?;
    let state = ProcessingState::new(&backends)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let state = state.clone();
        async move {
            handle(&state, event.payload)
                .await
                .map(|_| ())
                .map_err(|error| Diagnostic {
                    // A failed invocation makes Lambda retry the event, then send it to the on-failure queue.
                    error_type: if error.is_retryable() {
                        "Retryable"
                    } else {
                        "ProcessingFailed"
                    }
                    .to_string(),
                    error_message: error.public_message(),
                })
        }
    }))
    .await
}
