use askdocs_processing::{handle, sweep, ProcessingEvent, ProcessingState};
use askdocs_shared::processing::sandbox::run_worker_if_requested;
use askdocs_shared::{backends::Backends, config::Config, logging, Error};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Started as its own extract worker: parse one file and exit.
    run_worker_if_requested();
    let config = Config::from_env()?;
    logging::init(&config.log);
    let backends = Backends::connect(&config).await?;
    let state = ProcessingState::new(&backends)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let state = state.clone();
        async move {
            let outcome = match ProcessingEvent::parse(event.payload) {
                Ok(ProcessingEvent::Uploaded(event)) => handle(&state, event).await.map(|_| ()),
                Ok(ProcessingEvent::Scheduled(_)) => sweep(&state).await.map(|_| ()),
                Err(problem) => {
                    return Err(Diagnostic {
                        error_type: "UnsupportedEvent".into(),
                        error_message: problem,
                    })
                }
            };
            outcome.map_err(diagnostic)
        }
    }))
    .await
}

/// A failed invocation makes Lambda retry the event, then send it to the on-failure queue.
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
