//! End-to-end: the real `askdocs serve`, driven over HTTP as a person with curl would.

mod common;

use common::Server;
use serde_json::json;

#[test]
fn a_person_registers_logs_in_reads_the_profile_and_logs_out() {
    let server = Server::start();

    // GIVEN a new account
    let (status, registered) = server.call(
        "POST",
        "/auth/register",
        None,
        Some(r#"{"email":"ada@example.com","password":"Correct1horse","name":"Ada"}"#),
    );
    assert_eq!(status, 201, "{registered}");

    // WHEN its owner logs in
    let (status, session) = server.call(
        "POST",
        "/auth/login",
        None,
        Some(r#"{"email":"ada@example.com","password":"Correct1horse"}"#),
    );
    assert_eq!(status, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_string();

    // THEN the profile is theirs
    let (status, profile) = server.call("GET", "/auth/profile", Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(profile, registered);

    // AND after logging out the token is refused
    let (status, _) = server.call("POST", "/auth/logout", Some(&token), None);
    assert_eq!(status, 204);
    let (status, body) = server.call("GET", "/auth/profile", Some(&token), None);
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");

    // AND logging in again gives a fresh, working token
    let (_, session) = server.call(
        "POST",
        "/auth/login",
        None,
        Some(r#"{"email":"ada@example.com","password":"Correct1horse"}"#),
    );
    let (status, _) = server.call("GET", "/auth/profile", session["token"].as_str(), None);
    assert_eq!(status, 200);
}

#[test]
fn bad_requests_get_json_errors() {
    let server = Server::start();
    let huge = json!({"email": format!("{}@example.com", "a".repeat(1 << 20)), "password": "Correct1horse"}).to_string();
    let cases = [
        (
            "POST",
            "/auth/register",
            Some("not json"),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/auth/register",
            Some(r#"{"email":"a@b.co"}"#),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/auth/register",
            Some(r#"{"email":1,"password":2}"#),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/auth/login",
            Some(r#"{"email":"ghost@example.com","password":"Nope12345"}"#),
            401,
            "invalid_credentials",
        ),
        ("GET", "/auth/profile", None, 401, "unauthorized"),
        ("GET", "/no/such/route", None, 404, "not_found"),
        ("DELETE", "/auth/login", None, 405, "method_not_allowed"),
    ];
    for (method, path, body, status, code) in cases {
        let (actual, response) = server.call(method, path, None, body);
        assert_eq!(actual, status, "{method} {path}: {response}");
        assert_eq!(response["error"]["code"], code, "{method} {path}");
    }
    // A 1 MB email is refused before the server reads it all.
    let (status, response) = server.call_with_large_body("POST", "/auth/register", &huge);
    assert_eq!(status, 413, "{response}");
    assert_eq!(response["error"]["code"], "payload_too_large");
}
