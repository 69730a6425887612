use askdocs_query::{app, QueryState};
use askdocs_shared::{backends::Backends, config::Config, logging};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = Config::from_env()?;
    logging::init(&config.log);
    let backends = Backends::connect(&config).await?;
    // Every response is streamed (API Gateway's STREAM transfer mode): an
    // answer asked for as events reaches the client as it is written.
    lambda_http::run_with_streaming_response(app(QueryState::new(&backends)?)).await
}
