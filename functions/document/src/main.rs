use askdocs_document::{app, DocumentState};
use askdocs_shared::{backends::Backends, config::Config, logging};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let config = Config::from_env()?;
    logging::init(&config.log);
    let backends = Backends::connect(&config).await?;
    lambda_http::run(app(DocumentState::new(&backends)?)).await
}
