//! Hello-world Lambda function: the cold-start baseline of `make bench`.
//!
//! Shaped like lambda_runtime's own `basic-lambda` example: the default
//! tracing subscriber, a multi-threaded tokio runtime (as `#[tokio::main]` in
//! the four askdocs functions), and a handler that echoes its event.

use lambda_runtime::{service_fn, tracing, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(echo)).await
}

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}
