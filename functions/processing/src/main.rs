use askdocs_processing::{lambda::handle_event, ProcessingState};
use askdocs_shared::processing::sandbox::run_worker_if_requested;
use askdocs_shared::{backends::Backends, config::Config, logging};
use lambda_runtime::{service_fn, LambdaEvent};
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
        async move { handle_event(&state, event).await }
    }))
    .await
}
