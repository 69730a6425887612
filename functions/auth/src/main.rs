use askdocs_auth::{app, lambda::handle_event, AuthState};
use askdocs_shared::{backends::Backends, config::Config, logging};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = Config::from_env()?;
    logging::init(&config.log);
    let backends = Backends::connect(&config).await?;
    let state = AuthState::new(&backends)?;
    let authenticator = state.accounts.authenticator().clone();
    let app = app(state);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handle_event(app.clone(), authenticator.clone(), event)
    }))
    .await
}
