//! One Lambda binary, two kinds of event: API Gateway proxy requests for the
//! auth routes, and TOKEN authorizer requests.

use std::sync::Arc;

use askdocs_shared::auth::tokens::Authenticator;
use axum::Router;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Service as _};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::authorizer::{authorize, TokenAuthorizerEvent};

/// Routes one invocation to the authorizer or to the HTTP app.
pub async fn handle_event(
    app: Router,
    authenticator: Arc<Authenticator>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let LambdaEvent { payload, context } = event;
    // Both triggers share this binary; only authorizer events carry `"type": "TOKEN"`.
    if payload.get("type").and_then(Value::as_str) == Some("TOKEN") {
        let event: TokenAuthorizerEvent = serde_json::from_value(payload)
            .map_err(|error| diagnostic("InvalidAuthorizerEvent", &error.to_string()))?;
        // API Gateway turns exactly this message into a 401.
        return authorize(&authenticator, &event)
            .await
            .map_err(|_| diagnostic("Unauthorized", "Unauthorized"));
    }
    let request: LambdaRequest = serde_json::from_value(payload).map_err(|error| {
        diagnostic(
            "UnsupportedEvent",
            &format!("not an API Gateway event: {error}"),
        )
    })?;
    let response = match Adapter::from(app)
        .call(LambdaEvent::new(request, context))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    serde_json::to_value(response)
        .map_err(|error| diagnostic("ResponseEncoding", &error.to_string()))
}

fn diagnostic(error_type: &str, message: &str) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_string(),
        error_message: message.to_string(),
    }
}
