//! API Gateway TOKEN authorizer: Allow with the user in the context for a
//! valid, unrevoked token; `Unauthorized` (API Gateway's 401) otherwise.

use askdocs_shared::auth::tokens::Authenticator;
use askdocs_shared::http::parse_bearer;
use serde::Deserialize;
use serde_json::{json, Value};

/// The event API Gateway sends a TOKEN authorizer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenAuthorizerEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub authorization_token: Option<String>,
    pub method_arn: String,
}

/// Why a token was refused; API Gateway only ever sees "Unauthorized".
#[derive(Debug, PartialEq, Eq)]
pub struct Unauthorized;

/// Returns the IAM policy document API Gateway expects, or `Err(Unauthorized)`.
pub async fn authorize(
    authenticator: &Authenticator,
    event: &TokenAuthorizerEvent,
) -> Result<Value, Unauthorized> {
    let token = event
        .authorization_token
        .as_deref()
        .and_then(parse_bearer)
        .ok_or(Unauthorized)?;
    let caller = authenticator.authenticate(token).await.map_err(|error| {
        tracing::info!(reason = %error, "authorizer refused a token");
        Unauthorized
    })?;
    Ok(json!({
        "principalId": caller.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": api_wide_resource(&event.method_arn),
            }]
        },
        "context": {
            "userId": caller.user_id,
            "email": caller.email,
            "tokenId": caller.token_id,
            "expiresAt": caller.expires_at.to_string(),
        }
    }))
}

/// API Gateway caches the policy per token for every route of the API, so it
/// must allow the whole stage, not just the method that happened to ask first:
/// `arn:…:api-id/stage/GET/documents` becomes `arn:…:api-id/stage/*`.
pub fn api_wide_resource(method_arn: &str) -> String {
    let mut parts = method_arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) => format!("{api}/{stage}/*"),
        _ => method_arn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_every_route_of_the_stage() {
        assert_eq!(
            api_wide_resource(
                "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/documents/42"
            ),
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*"
        );
    }
}
