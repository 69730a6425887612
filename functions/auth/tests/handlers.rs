//! The auth function driven by real API Gateway events from `events/`, on the
//! embedded backends in a temporary data directory.

use askdocs_auth::{app, lambda::handle_event, AuthState};
use askdocs_shared::backends::Backends;
use askdocs_shared::testing::harness::{embedded_config, event, send, with_bearer};
use axum::Router;
use serde_json::{json, Value};

const SECRET: &str = "handler-test-secret-handler-test-secret";

struct Harness {
    _data_dir: tempfile::TempDir,
    state: AuthState,
}

impl Harness {
    async fn new() -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let config = embedded_config(data_dir.path(), &[("JWT_SECRET", SECRET)]);
        let backends = Backends::connect(&config).await.unwrap();
        Harness {
            state: AuthState::new(&backends).unwrap(),
            _data_dir: data_dir,
        }
    }

    fn app(&self) -> Router {
        app(self.state.clone())
    }

    async fn send(&self, event: Value) -> (u16, Value) {
        send(&self.app(), event).await
    }

    /// Sends any event through the Lambda entry point, as the auth binary does.
    async fn invoke(&self, event: Value) -> Result<Value, lambda_runtime::Diagnostic> {
        let authenticator = self.state.accounts.authenticator().clone();
        let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        handle_event(self.app(), authenticator, event).await
    }

    async fn register(&self, email: &str) -> (u16, Value) {
        self.send(with_body(
            event("auth-register.json"),
            json!({"email": email, "password": "Correct1horse", "name": "Ada"}).to_string(),
        ))
        .await
    }

    async fn login(&self, email: &str, password: &str) -> (u16, Value) {
        self.send(with_body(
            event("auth-login.json"),
            json!({"email": email, "password": password}).to_string(),
        ))
        .await
    }
}

fn with_body(mut event: Value, body: String) -> Value {
    event["body"] = Value::String(body);
    event
}

/// As API Gateway delivers a request after the TOKEN authorizer allowed it.
fn behind_authorizer(mut event: Value, authorizer_context: &Value) -> Value {
    let mut context = authorizer_context.clone();
    context["principalId"] = context["userId"].clone();
    event["requestContext"]["authorizer"] = context;
    event["headers"]
        .as_object_mut()
        .unwrap()
        .remove("Authorization");
    event["multiValueHeaders"]
        .as_object_mut()
        .unwrap()
        .remove("Authorization");
    event
}

fn authorizer_event(token: &str) -> Value {
    let mut event = event("authorizer-token.json");
    event["authorizationToken"] = json!(format!("Bearer {token}"));
    event
}

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn register_login_profile_logout_then_the_token_is_dead() {
    let harness = Harness::new().await;

    // GIVEN a person registers (the event's email is mixed case)
    let (status, registered) = harness.send(event("auth-register.json")).await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(registered["email"], "ada@example.com");
    assert_eq!(registered["name"], "Ada Lovelace");
    assert!(registered["userId"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(registered["createdAt"].as_str().is_some());
    assert!(registered.get("passwordHash").is_none() && registered.get("password").is_none());

    // WHEN they log in
    let (status, session) = harness.send(event("auth-login.json")).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["tokenType"], "Bearer");
    assert_eq!(session["expiresIn"], 3600);
    assert_eq!(session["user"]["userId"], registered["userId"]);
    let token = session["token"].as_str().unwrap().to_string();

    // THEN the profile answers with their account
    let (status, profile) = harness
        .send(with_bearer(event("auth-profile.json"), &token))
        .await;
    assert_eq!(status, 200, "{profile}");
    // AND what they store against their quota (nothing yet)
    let mut profile = profile;
    let storage = profile.as_object_mut().unwrap().remove("storage").unwrap();
    assert_eq!(profile, registered);
    assert_eq!(
        storage,
        json!({"documents": 0, "bytes": 0, "maxDocuments": 1000, "maxBytes": 1073741824u64})
    );

    // WHEN they log out
    let (status, body) = harness
        .send(with_bearer(event("auth-logout.json"), &token))
        .await;
    assert_eq!((status, body), (204, Value::Null));

    // THEN the same token no longer reads the profile
    let (status, body) = harness
        .send(with_bearer(event("auth-profile.json"), &token))
        .await;
    assert_error(status, &body, 401, "unauthorized");
    assert_eq!(body["error"]["message"], "token has been revoked");
}

#[tokio::test]
async fn the_authorizer_allows_valid_tokens_and_its_context_identifies_the_caller() {
    let harness = Harness::new().await;
    harness.register("grace@example.com").await;
    let (_, session) = harness.login("grace@example.com", "Correct1horse").await;
    let token = session["token"].as_str().unwrap();

    // WHEN API Gateway asks the authorizer about a valid token
    let policy = harness.invoke(authorizer_event(token)).await.unwrap();

    // THEN it allows the whole stage for that user, with the user in the context
    assert_eq!(policy["principalId"], session["user"]["userId"]);
    let statement = &policy["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "execute-api:Invoke");
    assert_eq!(
        statement["Resource"],
        "arn:aws:execute-api:eu-west-1:123456789012:abc123def4/prod/*"
    );
    assert_eq!(policy["context"]["userId"], session["user"]["userId"]);
    assert_eq!(policy["context"]["email"], "grace@example.com");

    // AND a request API Gateway forwards with that context reads the profile
    // through the full Lambda entry point, with no token of its own
    let forwarded = behind_authorizer(event("auth-profile.json"), &policy["context"]);
    let response = harness.invoke(forwarded.clone()).await.unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let profile: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(profile["email"], "grace@example.com");

    // WHEN the user logs out
    let (status, _) = harness
        .send(with_bearer(event("auth-logout.json"), token))
        .await;
    assert_eq!(status, 204);

    // THEN the authorizer says Unauthorized (API Gateway's 401)
    let refusal = harness.invoke(authorizer_event(token)).await.unwrap_err();
    assert_eq!(refusal.error_message, "Unauthorized");
    // AND even a cached Allow from before the logout no longer works
    let response = harness.invoke(forwarded).await.unwrap();
    assert_eq!(response["statusCode"], 401, "{response}");
}

#[tokio::test]
async fn a_cached_authorizer_context_for_an_expired_token_is_refused() {
    let harness = Harness::new().await;
    harness.register("old@example.com").await;
    let (_, session) = harness.login("old@example.com", "Correct1horse").await;
    let token = session["token"].as_str().unwrap();
    let mut context = harness.invoke(authorizer_event(token)).await.unwrap()["context"].clone();
    // GIVEN API Gateway still holds an Allow whose token expired a minute ago
    context["expiresAt"] = json!((chrono::Utc::now().timestamp() - 60).to_string());
    let forwarded = behind_authorizer(event("auth-profile.json"), &context);
    // WHEN it forwards a request THEN the function refuses it
    let (status, body) = harness.send(forwarded).await;
    assert_error(status, &body, 401, "unauthorized");
    assert_eq!(body["error"]["message"], "token has expired");
}

#[tokio::test]
async fn the_authorizer_refuses_missing_malformed_and_forged_tokens() {
    let harness = Harness::new().await;
    for token in ["", "not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"] {
        let refusal = harness.invoke(authorizer_event(token)).await.unwrap_err();
        assert_eq!(refusal.error_message, "Unauthorized", "token {token:?}");
    }
    let mut no_header = event("authorizer-token.json");
    no_header
        .as_object_mut()
        .unwrap()
        .remove("authorizationToken");
    assert_eq!(
        harness.invoke(no_header).await.unwrap_err().error_message,
        "Unauthorized"
    );
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_whatever_its_case() {
    let harness = Harness::new().await;
    let (status, _) = harness.register("lin@example.com").await;
    assert_eq!(status, 201);
    let (status, body) = harness.register("  LIN@example.COM ").await;
    assert_error(status, &body, 409, "email_taken");
    // AND full-width and dotted-İ spellings of one address are that address
    let (status, body) = harness.register("ｌｉｎ@ｅｘａｍｐｌｅ.ｃｏｍ").await;
    assert_error(status, &body, 409, "email_taken");
    let (status, _) = harness.register("ida@example.com").await;
    assert_eq!(status, 201);
    let (status, body) = harness.register("\u{130}DA@example.com").await;
    assert_error(status, &body, 409, "email_taken");
    // AND an address with a zero-width space is refused, not a new account
    let (status, body) = harness.register("l\u{200B}in@example.com").await;
    assert_error(status, &body, 400, "validation_failed");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let harness = Harness::new().await;
    harness.register("kay@example.com").await;
    let wrong_password = harness.login("kay@example.com", "Wrong1password").await;
    let unknown_email = harness.login("nobody@example.com", "Correct1horse").await;
    assert_error(
        wrong_password.0,
        &wrong_password.1,
        401,
        "invalid_credentials",
    );
    assert_eq!(wrong_password, unknown_email);
}

#[tokio::test]
async fn bad_bodies_get_clear_errors_and_create_nothing() {
    let harness = Harness::new().await;
    let huge_email = format!("{}@example.com", "a".repeat(1024 * 1024));
    let cases: Vec<(String, u16, &str)> = vec![
        ("this is not json".into(), 400, "invalid_request"),
        ("".into(), 400, "invalid_request"),
        ("[1,2,3]".into(), 400, "invalid_request"),
        (
            json!({"password": "Correct1horse"}).to_string(),
            400,
            "invalid_request",
        ),
        (
            json!({"email": 42, "password": "Correct1horse"}).to_string(),
            400,
            "invalid_request",
        ),
        (
            json!({"email": "a@b.co", "password": ["Correct1horse"]}).to_string(),
            400,
            "invalid_request",
        ),
        (
            json!({"email": "not-an-email", "password": "Correct1horse"}).to_string(),
            400,
            "validation_failed",
        ),
        (
            json!({"email": "weak@example.com", "password": "weak"}).to_string(),
            400,
            "validation_failed",
        ),
        (
            json!({"email": "nodigit@example.com", "password": "NoDigitsHere"}).to_string(),
            400,
            "validation_failed",
        ),
        (
            json!({"email": "x@example.com", "password": "Correct1horse", "isAdmin": true})
                .to_string(),
            400,
            "invalid_request",
        ),
        (
            json!({"email": huge_email, "password": "Correct1horse"}).to_string(),
            413,
            "payload_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (actual_status, response) = harness
            .send(with_body(event("auth-register.json"), body.clone()))
            .await;
        assert_error(actual_status, &response, status, code);
        assert!(
            response["error"]["message"].as_str().unwrap().len() < 300,
            "{:.80}",
            body
        );
    }
    // AND none of those created an account: a clean registration still works for each address
    let (status, _) = harness.register("weak@example.com").await;
    assert_eq!(status, 201);

    // A long email that still fits in a body is a validation error, not a crash.
    let long_email = format!("{}@example.com", "b".repeat(300));
    let (status, body) = harness.register(&long_email).await;
    assert_error(status, &body, 400, "validation_failed");
}

#[tokio::test]
async fn protected_routes_need_a_valid_bearer_token() {
    let harness = Harness::new().await;
    let mut no_header = with_bearer(event("auth-profile.json"), "x");
    no_header["headers"]
        .as_object_mut()
        .unwrap()
        .remove("Authorization");
    no_header["multiValueHeaders"]
        .as_object_mut()
        .unwrap()
        .remove("Authorization");
    let (status, body) = harness.send(no_header).await;
    assert_error(status, &body, 401, "unauthorized");

    for token in ["garbage", "a.b.c"] {
        let (status, body) = harness
            .send(with_bearer(event("auth-profile.json"), token))
            .await;
        assert_error(status, &body, 401, "unauthorized");
    }
    let (status, body) = harness
        .send(with_bearer(event("auth-logout.json"), "garbage"))
        .await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let harness = Harness::new().await;
    let mut unknown = event("auth-profile.json");
    unknown["path"] = json!("/auth/nothing-here");
    let (status, body) = harness.send(unknown).await;
    assert_error(status, &body, 404, "not_found");

    let mut wrong_method = event("auth-login.json");
    wrong_method["httpMethod"] = json!("GET");
    wrong_method["requestContext"]["httpMethod"] = json!("GET");
    let (status, body) = harness.send(wrong_method).await;
    assert_error(status, &body, 405, "method_not_allowed");
}
