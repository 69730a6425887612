//! Federated sign-in: the authorizer accepts an OpenID Connect issuer's ID
//! tokens (a Cognito user pool's on AWS) beside our own, checked against the
//! issuer's published keys. The issuer is a stand-in on loopback that signs
//! real RS256 tokens and serves its discovery document and JWKS; the tokens
//! go through the auth function's Lambda entry point as API Gateway's
//! TOKEN-authorizer events (`events/authorizer-token.json`).

use askdocs_auth::{app, lambda::handle_event, AuthState};
use askdocs_shared::auth::federation::federated_user_id;
use askdocs_shared::backends::Backends;
use askdocs_shared::testing::harness::{embedded_config, event};
use askdocs_shared::testing::oidc::{OidcStandIn, FIRST_KEY, SECOND_KEY};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "federation-test-secret-federation-test";
const CLIENT_ID: &str = "askdocs-web";

struct Harness {
    _data_dir: tempfile::TempDir,
    backends: Backends,
    state: AuthState,
    issuer: OidcStandIn,
}

impl Harness {
    async fn new() -> Self {
        let issuer = OidcStandIn::start().await;
        let data_dir = tempfile::tempdir().unwrap();
        let config = embedded_config(
            data_dir.path(),
            &[
                ("JWT_SECRET", SECRET),
                ("ASKDOCS_OIDC_ISSUER", &issuer.issuer),
                ("ASKDOCS_OIDC_CLIENT_ID", CLIENT_ID),
                ("ASKDOCS_OIDC_NAME", "Keycloak"),
            ],
        );
        let backends = Backends::connect(&config).await.unwrap();
        Harness {
            state: AuthState::new(&backends).unwrap(),
            backends,
            _data_dir: data_dir,
            issuer,
        }
    }

    async fn invoke(&self, event: Value) -> Result<Value, lambda_runtime::Diagnostic> {
        let authenticator = self.state.accounts.authenticator().clone();
        let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        handle_event(app(self.state.clone()), authenticator, event).await
    }

    /// What API Gateway's TOKEN authorizer answers for `token`.
    async fn authorize(&self, token: &str) -> Result<Value, String> {
        let mut request = event("authorizer-token.json");
        request["authorizationToken"] = json!(format!("Bearer {token}"));
        self.invoke(request)
            .await
            .map_err(|refusal| refusal.error_message)
    }

    /// A request API Gateway forwards after the authorizer allowed it.
    async fn behind_authorizer(&self, name: &str, policy: &Value) -> (u16, Value) {
        let mut request = event(name);
        let mut context = policy["context"].clone();
        context["principalId"] = policy["principalId"].clone();
        request["requestContext"]["authorizer"] = context;
        for headers in ["headers", "multiValueHeaders"] {
            request[headers]
                .as_object_mut()
                .unwrap()
                .remove("Authorization");
        }
        let response = self.invoke(request).await.unwrap();
        let status = response["statusCode"].as_u64().unwrap() as u16;
        let body = response["body"]
            .as_str()
            .filter(|body| !body.is_empty())
            .map(|body| serde_json::from_str(body).unwrap())
            .unwrap_or(Value::Null);
        (status, body)
    }

    fn id_token(&self, subject: &str) -> String {
        FIRST_KEY.sign(
            Some(FIRST_KEY.kid),
            &self.issuer.id_token_claims(subject, CLIENT_ID),
        )
    }

    async fn has_account(&self, subject: &str) -> bool {
        let id = federated_user_id(&self.issuer.issuer, subject);
        self.backends.user_store().get(&id).await.unwrap().is_some()
    }
}

#[tokio::test]
async fn a_first_federated_sign_in_makes_one_account_that_signs_in_again() {
    let harness = Harness::new().await;
    // GIVEN a person nobody here has seen, with an ID token from the issuer
    let token = harness.id_token("kc-1");
    assert!(!harness.has_account("kc-1").await);

    // WHEN API Gateway asks the authorizer about it, eight times at once
    let answers = futures::future::join_all((0..8).map(|_| harness.authorize(&token))).await;

    // THEN every answer allows the same askdocs user, made on this first sign-in
    let expected = federated_user_id(&harness.issuer.issuer, "kc-1");
    for answer in &answers {
        let policy = answer.as_ref().unwrap();
        assert_eq!(policy["principalId"], expected.as_str());
        assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
        assert_eq!(policy["context"]["email"], "kc-1@example.com");
    }
    assert!(harness.has_account("kc-1").await);
    // AND the issuer's keys were fetched once for all of them
    assert_eq!(harness.issuer.key_fetches(), 1);

    // WHEN the profile is read behind the authorizer
    let policy = answers[0].as_ref().unwrap();
    let (status, profile) = harness.behind_authorizer("auth-profile.json", policy).await;
    // THEN it says who signed them in
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["provider"], "Keycloak");
    assert_eq!(profile["email"], "kc-1@example.com");
    assert_eq!(profile["name"], "User kc-1");
    assert_eq!(profile["userId"], expected.as_str());

    // WHEN they sign in again later with a fresh token
    let mut claims = harness.issuer.id_token_claims("kc-1", CLIENT_ID);
    claims["iat"] = json!(chrono::Utc::now().timestamp() - 1);
    let again = FIRST_KEY.sign(Some(FIRST_KEY.kid), &claims);
    // THEN it is the same account, and no key was fetched again
    let policy = harness.authorize(&again).await.unwrap();
    assert_eq!(policy["principalId"], expected.as_str());
    assert_eq!(harness.issuer.key_fetches(), 1);
}

#[tokio::test]
async fn tokens_the_issuer_did_not_make_for_us_are_refused_and_make_no_account() {
    let harness = Harness::new().await;
    let other_pool = OidcStandIn::start().await;
    other_pool.publish(&[SECOND_KEY]);
    let now = chrono::Utc::now().timestamp();
    let good = harness.issuer.id_token_claims("victim", CLIENT_ID);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        claims
    };
    let public_key_as_secret = {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(FIRST_KEY.kid.into());
        jsonwebtoken::encode(
            &header,
            &good,
            &EncodingKey::from_secret(FIRST_KEY.public_pem().as_bytes()),
        )
        .unwrap()
    };
    let unsigned = {
        use base64::Engine as _;
        let encode = |value: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        format!(
            "{}.{}.",
            encode(&json!({"alg": "none", "typ": "JWT", "kid": FIRST_KEY.kid})),
            encode(&good)
        )
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong issuer",
            FIRST_KEY.sign(
                Some(FIRST_KEY.kid),
                &with(&|claims| claims["iss"] = json!("https://evil.example.com")),
            ),
        ),
        (
            "wrong audience",
            FIRST_KEY.sign(
                Some(FIRST_KEY.kid),
                &with(&|claims| claims["aud"] = json!("some-other-app")),
            ),
        ),
        (
            "no audience",
            FIRST_KEY.sign(
                Some(FIRST_KEY.kid),
                &with(&|claims| {
                    claims.as_object_mut().unwrap().remove("aud");
                }),
            ),
        ),
        (
            "expired",
            FIRST_KEY.sign(
                Some(FIRST_KEY.kid),
                &with(&|claims| {
                    claims["iat"] = json!(now - 7200);
                    claims["exp"] = json!(now - 3600);
                }),
            ),
        ),
        (
            "issued in the future",
            FIRST_KEY.sign(
                Some(FIRST_KEY.kid),
                &with(&|claims| {
                    claims["iat"] = json!(now + 600);
                    claims["exp"] = json!(now + 4200);
                }),
            ),
        ),
        ("alg none", unsigned),
        ("HS256 with the public key as secret", public_key_as_secret),
        (
            "unknown key id",
            FIRST_KEY.sign(Some("not-a-published-key"), &good),
        ),
        ("no key id", FIRST_KEY.sign(None, &good)),
        (
            "signed by a key the issuer does not publish",
            SECOND_KEY.sign(Some(FIRST_KEY.kid), &good),
        ),
        (
            "from another pool",
            SECOND_KEY.sign(
                Some(SECOND_KEY.kid),
                &other_pool.id_token_claims("victim", CLIENT_ID),
            ),
        ),
        ("tampered payload", {
            let token = harness.id_token("victim");
            let parts: Vec<&str> = token.split('.').collect();
            let forged = FIRST_KEY.sign(
                Some(FIRST_KEY.kid),
                &with(&|claims| claims["sub"] = json!("someone-else")),
            );
            let forged_payload = forged.split('.').nth(1).unwrap();
            format!("{}.{}.{}", parts[0], forged_payload, parts[2])
        }),
    ];
    for (case, token) in cases {
        // WHEN API Gateway asks about the token
        let answer = harness.authorize(&token).await;
        // THEN it is API Gateway's 401, and nobody's account was made
        assert_eq!(answer, Err("Unauthorized".to_string()), "{case}");
        assert!(!harness.has_account("victim").await, "{case}");
        assert!(!harness.has_account("someone-else").await, "{case}");
    }
    // AND made-up key ids did not make the authorizer fetch the keys each time
    assert_eq!(harness.issuer.key_fetches(), 1);
    // AND the genuine token still signs in
    assert!(harness.authorize(&harness.id_token("victim")).await.is_ok());
}

#[tokio::test]
async fn a_federated_account_is_never_merged_into_a_password_account_with_its_email() {
    let harness = Harness::new().await;
    // GIVEN a password account for kc-2@example.com
    let mut register = event("auth-register.json");
    register["body"] =
        json!(json!({"email": "kc-2@example.com", "password": "Correct1horse"}).to_string());
    let response = harness.invoke(register).await.unwrap();
    assert_eq!(response["statusCode"], 201, "{response}");
    let registered: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(registered["provider"], "askdocs");

    // WHEN someone signs in through the issuer with the same email
    let policy = harness.authorize(&harness.id_token("kc-2")).await.unwrap();

    // THEN it is a different askdocs user
    assert_ne!(policy["principalId"], registered["userId"]);
    let (_, profile) = harness
        .behind_authorizer("auth-profile.json", &policy)
        .await;
    assert_eq!(profile["provider"], "Keycloak");
    assert_eq!(profile["email"], "kc-2@example.com");
    // AND the password account still logs in as itself
    let mut login = event("auth-login.json");
    login["body"] =
        json!(json!({"email": "kc-2@example.com", "password": "Correct1horse"}).to_string());
    let response = harness.invoke(login).await.unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let session: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(session["user"]["userId"], registered["userId"]);
}

#[tokio::test]
async fn logout_revokes_a_federated_token_for_our_api() {
    let harness = Harness::new().await;
    let token = harness.id_token("kc-3");
    let policy = harness.authorize(&token).await.unwrap();

    // WHEN the federated user logs out
    let (status, body) = harness.behind_authorizer("auth-logout.json", &policy).await;
    assert_eq!((status, body), (204, Value::Null));

    // THEN the authorizer refuses their token from now on
    assert_eq!(
        harness.authorize(&token).await,
        Err("Unauthorized".to_string())
    );
    // AND API Gateway's cached Allow from before no longer reads the profile
    let (status, body) = harness
        .behind_authorizer("auth-profile.json", &policy)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    // AND another sign-in of theirs (a new token) still works
    let mut claims = harness.issuer.id_token_claims("kc-3", CLIENT_ID);
    claims["jti"] = json!("second-sign-in");
    let fresh = FIRST_KEY.sign(Some(FIRST_KEY.kid), &claims);
    assert!(harness.authorize(&fresh).await.is_ok());
}

#[tokio::test]
async fn our_own_tokens_still_work_beside_the_issuers() {
    let harness = Harness::new().await;
    let mut register = event("auth-register.json");
    register["body"] =
        json!(json!({"email": "own@example.com", "password": "Correct1horse"}).to_string());
    harness.invoke(register).await.unwrap();
    let mut login = event("auth-login.json");
    login["body"] =
        json!(json!({"email": "own@example.com", "password": "Correct1horse"}).to_string());
    let response = harness.invoke(login).await.unwrap();
    let session: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    let policy = harness
        .authorize(session["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(policy["principalId"], session["user"]["userId"]);
    // AND checking it never asked the issuer for anything
    assert_eq!(harness.issuer.key_fetches(), 0);
}

mod cognito {
    //! A Cognito user pool's tokens: `token_use` says what each is for, the
    //! identity provider behind a federated user is in `identities`. The
    //! pool's keys come from the stand-in (ASKDOCS_OIDC_JWKS_URL), as
    //! Cognito's own JWKS endpoint can't be reached from here.

    use std::sync::Arc;
    use std::time::Duration;

    use askdocs_shared::auth::federation::{federated_user_id, Federation};
    use askdocs_shared::aws::HttpsDocuments;
    use askdocs_shared::config::{FederationSettings, TlsRoots};
    use askdocs_shared::testing::oidc::{OidcStandIn, FIRST_KEY, SECOND_KEY};
    use askdocs_shared::testing::MemoryUserStore;
    use serde_json::{json, Value};

    const POOL: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Askdocs1";
    const CLIENT: &str = "3n4b5urk1ft4fl3mg5e62d9ado";

    fn federation(keys: &OidcStandIn) -> (Federation, Arc<MemoryUserStore>) {
        let users = Arc::new(MemoryUserStore::default());
        let settings = FederationSettings {
            issuer: POOL.into(),
            client_id: CLIENT.into(),
            jwks_url: Some(format!("{}/keys", keys.issuer)),
            providers: vec!["Google".into(), "LoginWithAmazon".into()],
            name: "Cognito".into(),
            tls_roots: TlsRoots::System,
        };
        assert!(settings.is_cognito());
        let federation = Federation::new(
            settings,
            Arc::new(HttpsDocuments::new(TlsRoots::System)),
            users.clone(),
        );
        (federation, users)
    }

    fn id_token_claims(subject: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": POOL, "sub": subject, "aud": CLIENT, "token_use": "id",
            "iat": now, "exp": now + 3600, "auth_time": now,
            "email": "Ada@Example.com", "cognito:username": format!("google_{subject}"),
            "identities": [{"providerName": "Google", "providerType": "Google", "userId": "1234", "primary": "true"}],
            "jti": format!("jti-{subject}"), "origin_jti": format!("origin-{subject}"),
        })
    }

    fn access_token_claims(subject: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": POOL, "sub": subject, "client_id": CLIENT, "token_use": "access",
            "scope": "openid email profile", "iat": now, "exp": now + 3600,
            "username": format!("loginwithamazon_{subject}"),
            "jti": format!("access-{subject}"), "origin_jti": format!("origin-{subject}"),
        })
    }

    fn sign(claims: &Value) -> String {
        FIRST_KEY.sign(Some(FIRST_KEY.kid), claims)
    }

    #[tokio::test]
    async fn id_and_access_tokens_of_our_app_client_sign_in_and_nothing_else_does() {
        let keys = OidcStandIn::start().await;
        let (federation, users) = federation(&keys);

        // GIVEN a Google user's ID token from the pool
        let caller = federation
            .authenticate(&sign(&id_token_claims("g-1")))
            .await
            .unwrap();
        // THEN their account says Google signed them in
        assert_eq!(caller.user_id, federated_user_id(POOL, "g-1"));
        let user = users.get_now(&caller.user_id).unwrap();
        assert_eq!(user.provider.as_deref(), Some("Google"));
        assert_eq!(user.email, "ada@example.com");
        assert!(user.password_hash.is_empty());
        // AND logout revokes the whole sign-in (tokens refreshed from it too)
        assert_eq!(caller.token_id, "origin:origin-g-1");

        // AND an access token of the same sign-in is the same caller
        let access = federation
            .authenticate(&sign(&access_token_claims("g-1")))
            .await
            .unwrap();
        assert_eq!(access.user_id, caller.user_id);
        assert_eq!(access.token_id, caller.token_id);

        // WHEN tokens are for another use or another app client
        let refused: Vec<(&str, Value)> = vec![
            ("no token_use", {
                let mut claims = id_token_claims("g-2");
                claims.as_object_mut().unwrap().remove("token_use");
                claims
            }),
            ("ID token of another client", {
                let mut claims = id_token_claims("g-2");
                claims["aud"] = json!("another-client");
                claims
            }),
            ("access token of another client", {
                let mut claims = access_token_claims("g-2");
                claims["client_id"] = json!("another-client");
                claims
            }),
            ("an ID token calling itself an access token", {
                let mut claims = id_token_claims("g-2");
                claims["token_use"] = json!("access");
                claims
            }),
            ("a refresh-ish token_use", {
                let mut claims = id_token_claims("g-2");
                claims["token_use"] = json!("refresh");
                claims
            }),
        ];
        for (case, claims) in refused {
            // THEN each is refused and makes no account
            let error = federation.authenticate(&sign(&claims)).await.unwrap_err();
            assert_eq!(error.status_code(), 401, "{case}");
            assert!(
                users.get_now(&federated_user_id(POOL, "g-2")).is_none(),
                "{case}"
            );
        }
    }

    #[tokio::test]
    async fn a_rotated_key_is_fetched_when_a_token_first_names_it() {
        let keys = OidcStandIn::start().await;
        let (federation, _) = federation(&keys);
        let federation = federation.with_min_refetch(Duration::ZERO);
        federation
            .authenticate(&sign(&id_token_claims("r-1")))
            .await
            .unwrap();
        assert_eq!(keys.key_fetches(), 1);

        // GIVEN the pool rotates to a new key
        keys.publish(&[FIRST_KEY, SECOND_KEY]);
        // WHEN a token signed with it arrives
        let rotated = SECOND_KEY.sign(Some(SECOND_KEY.kid), &id_token_claims("r-1"));
        // THEN the keys are fetched again and the token is accepted
        federation.authenticate(&rotated).await.unwrap();
        assert_eq!(keys.key_fetches(), 2);
        // AND known keys are not fetched again
        federation.authenticate(&rotated).await.unwrap();
        federation
            .authenticate(&sign(&id_token_claims("r-1")))
            .await
            .unwrap();
        assert_eq!(keys.key_fetches(), 2);

        // WHEN the old key is withdrawn, tokens it signs stay valid only while we hold it
        keys.publish(&[SECOND_KEY]);
        let unknown = FIRST_KEY.sign(Some("withdrawn-then-unknown"), &id_token_claims("r-1"));
        assert!(federation.authenticate(&unknown).await.is_err());
        assert_eq!(keys.key_fetches(), 3);
    }

    #[tokio::test]
    async fn an_unreachable_issuer_refuses_federated_tokens_until_it_answers() {
        let keys = OidcStandIn::start().await;
        let (federation, _) = {
            let users = Arc::new(MemoryUserStore::default());
            let settings = FederationSettings {
                issuer: POOL.into(),
                client_id: CLIENT.into(),
                // Nothing listens here.
                jwks_url: Some("http://127.0.0.1:9/keys".into()),
                providers: vec![],
                name: "Cognito".into(),
                tls_roots: TlsRoots::System,
            };
            let documents = Arc::new(HttpsDocuments::new(TlsRoots::System));
            (Federation::new(settings, documents, users.clone()), users)
        };
        let error = federation
            .authenticate(&sign(&id_token_claims("u-1")))
            .await
            .unwrap_err();
        // THEN it is "try again", not a crash and not an account
        assert_eq!(error.status_code(), 503, "{error}");
        drop(keys);
    }
}

mod cognito_emulator {
    //! Tokens as a Cognito user pool makes them — moto's cognito-idp (which
    //! `make test` runs) signs ID and access tokens with RS256 and serves the
    //! pool's JWKS — accepted by the same checks. moto has no federated
    //! identity providers or managed login pages, so the Google/Amazon hop is
    //! what the loopback issuer and the browser test cover.

    use std::sync::Arc;

    use askdocs_shared::auth::federation::{federated_user_id, Federation};
    use askdocs_shared::aws::HttpsDocuments;
    use askdocs_shared::config::{FederationSettings, TlsRoots};
    use askdocs_shared::testing::harness::aws_endpoint;
    use askdocs_shared::testing::MemoryUserStore;
    use serde_json::{json, Value};

    /// One Cognito Identity Provider call to the emulator (test set-up only).
    async fn cognito(action: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/", aws_endpoint()))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "X-Amz-Target",
                format!("AWSCognitoIdentityProviderService.{action}"),
            )
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261207/eu-west-1/cognito-idp/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{action}: {}",
            response.status()
        );
        let text = response.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    #[tokio::test]
    async fn a_user_pools_id_and_access_tokens_sign_in_and_another_clients_do_not() {
        // GIVEN a user pool with the web page's client and another app's, and a user
        let pool = cognito("CreateUserPool", json!({"PoolName": "askdocs-users"})).await
            ["UserPool"]["Id"]
            .as_str()
            .unwrap()
            .to_string();
        let client = |name: &'static str| {
            let pool = pool.clone();
            async move {
                cognito(
                    "CreateUserPoolClient",
                    json!({"UserPoolId": pool, "ClientName": name, "ExplicitAuthFlows": ["ADMIN_NO_SRP_AUTH"]}),
                )
                .await["UserPoolClient"]["ClientId"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        };
        let (web, other_app) = (client("web").await, client("other").await);
        cognito(
            "AdminCreateUser",
            json!({"UserPoolId": pool, "Username": "ada",
                   "UserAttributes": [{"Name": "email", "Value": "ada@example.com"}]}),
        )
        .await;
        cognito(
            "AdminSetUserPassword",
            json!({"UserPoolId": pool, "Username": "ada", "Password": "Correct1horse!", "Permanent": true}),
        )
        .await;
        let sign_in = |client_id: String| {
            let pool = pool.clone();
            async move {
                cognito(
                    "AdminInitiateAuth",
                    json!({"UserPoolId": pool, "ClientId": client_id, "AuthFlow": "ADMIN_NO_SRP_AUTH",
                           "AuthParameters": {"USERNAME": "ada", "PASSWORD": "Correct1horse!"}}),
                )
                .await["AuthenticationResult"]
                    .clone()
            }
        };
        let tokens = sign_in(web.clone()).await;
        let id_token = tokens["IdToken"].as_str().unwrap();
        let access_token = tokens["AccessToken"].as_str().unwrap();
        // The pool's issuer, as its tokens name it.
        let issuer = {
            use base64::Engine as _;
            let payload = id_token.split('.').nth(1).unwrap();
            let claims: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap();
            claims["iss"].as_str().unwrap().to_string()
        };
        let users = Arc::new(MemoryUserStore::default());
        let federation = Federation::new(
            FederationSettings {
                issuer: issuer.clone(),
                client_id: web.clone(),
                jwks_url: Some(format!("{}/{pool}/.well-known/jwks.json", aws_endpoint())),
                providers: vec![],
                name: "Cognito".into(),
                tls_roots: TlsRoots::System,
            },
            Arc::new(HttpsDocuments::new(TlsRoots::System)),
            users.clone(),
        );

        // WHEN the page's ID token and access token are checked
        let by_id = federation.authenticate(id_token).await.unwrap();
        let by_access = federation.authenticate(access_token).await.unwrap();
        // THEN both are the pool user's one askdocs account
        assert_eq!(by_id.user_id, by_access.user_id);
        let subject = {
            use base64::Engine as _;
            let payload = access_token.split('.').nth(1).unwrap();
            let claims: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap();
            claims["sub"].as_str().unwrap().to_string()
        };
        assert_eq!(by_id.user_id, federated_user_id(&issuer, &subject));
        // (moto's ID tokens carry no `email` claim; Cognito's do, see the cognito module)
        let account = users.get_now(&by_id.user_id).unwrap();
        assert_eq!(account.provider.as_deref(), Some("Cognito"));

        // WHEN another app client of the same pool presents its tokens
        let theirs = sign_in(other_app).await;
        for token in ["IdToken", "AccessToken"] {
            // THEN they are refused: issued to someone else
            let error = federation
                .authenticate(theirs[token].as_str().unwrap())
                .await
                .unwrap_err();
            assert_eq!(error.status_code(), 401, "{token}");
        }
    }
}
