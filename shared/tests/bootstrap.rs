//! `askdocs bootstrap-aws` as a real account answers it, which no local
//! emulator does: DynamoDB makes a new table `CREATING` and refuses changes
//! (UpdateTimeToLive, UpdateTable) until it is `ACTIVE`, and the OpenSearch
//! Serverless control plane takes a while to make a collection `ACTIVE`.
//! Stand-ins on loopback answer the SDK's real requests that way; moto makes
//! tables ACTIVE at once, so the moto tests cannot show the wait.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use askdocs_shared::aws::bootstrap::{
    ensure_collection, ensure_table, tables, Bootstrapped, CollectionAccess,
};
use askdocs_shared::aws::AwsClients;
use askdocs_shared::testing::harness::{aws_settings, config_from};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the stand-in has been asked and holds.
#[derive(Default)]
struct Account {
    /// Every operation, in order.
    calls: Vec<String>,
    /// Tables, with how many more descriptions they stay CREATING.
    tables: HashMap<String, usize>,
    /// Indexes per table, with how many more descriptions they stay CREATING.
    indexes: HashMap<String, HashMap<String, usize>>,
    ttl: HashSet<String>,
    /// Changes refused because the table was not ACTIVE yet.
    refused: Vec<String>,
    policies: HashMap<String, Value>,
    collections: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Account>>;

/// How many descriptions a new table, index or collection stays CREATING.
const CREATING_FOR: usize = 2;

fn error(kind: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"__type": format!("com.amazonaws#{kind}"), "message": message})),
    )
        .into_response()
}

fn active(countdown: &mut usize) -> &'static str {
    if *countdown == 0 {
        "ACTIVE"
    } else {
        *countdown -= 1;
        "CREATING"
    }
}

async fn answer(State(account): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers["x-amz-target"].to_str().unwrap().to_string();
    let operation = target.rsplit('.').next().unwrap().to_string();
    let request: Value = serde_json::from_slice(&body).unwrap();
    let mut account = account.lock().unwrap();
    account.calls.push(operation.clone());
    let name = request["TableName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let table_active = |account: &Account| account.tables.get(&name) == Some(&0);
    match operation.as_str() {
        "CreateTable" => {
            if account.tables.contains_key(&name) {
                return error("ResourceInUseException", "Table already exists");
            }
            account.tables.insert(name.clone(), CREATING_FOR);
            let indexes = request["GlobalSecondaryIndexes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|index| (index["IndexName"].as_str().unwrap().to_string(), 0))
                .collect();
            account.indexes.insert(name.clone(), indexes);
            Json(json!({"TableDescription": {"TableName": name, "TableStatus": "CREATING"}}))
                .into_response()
        }
        "DescribeTable" => {
            let Some(countdown) = account.tables.get_mut(&name) else {
                return error("ResourceNotFoundException", "no such table");
            };
            let status = active(countdown);
            let indexes: Vec<Value> = account
                .indexes
                .get_mut(&name)
                .into_iter()
                .flat_map(|indexes| indexes.iter_mut())
                .map(|(index, countdown)| {
                    json!({"IndexName": index, "IndexStatus": active(countdown)})
                })
                .collect();
            Json(json!({"Table": {
                "TableName": name, "TableStatus": status, "GlobalSecondaryIndexes": indexes,
            }}))
            .into_response()
        }
        "UpdateTable" | "UpdateTimeToLive" if !table_active(&account) => {
            account.refused.push(operation.clone());
            error(
                "ResourceInUseException",
                "Attempt to change a resource which is still in use: Table is being created",
            )
        }
        "UpdateTable" => {
            let index = request["GlobalSecondaryIndexUpdates"][0]["Create"]["IndexName"]
                .as_str()
                .unwrap()
                .to_string();
            account
                .indexes
                .entry(name.clone())
                .or_default()
                .insert(index, CREATING_FOR);
            Json(json!({"TableDescription": {"TableName": name, "TableStatus": "UPDATING"}}))
                .into_response()
        }
        "DescribeTimeToLive" => {
            let status = if account.ttl.contains(&name) {
                "ENABLED"
            } else {
                "DISABLED"
            };
            Json(json!({"TimeToLiveDescription": {"TimeToLiveStatus": status}})).into_response()
        }
        "UpdateTimeToLive" => {
            account.ttl.insert(name);
            Json(json!({"TimeToLiveSpecification": request["TimeToLiveSpecification"]}))
                .into_response()
        }
        "CreateSecurityPolicy" | "CreateAccessPolicy" => {
            let policy = request["name"].as_str().unwrap().to_string();
            if account.policies.contains_key(&policy) {
                return conflict(&format!("policy {policy} exists"));
            }
            let document: Value =
                serde_json::from_str(request["policy"].as_str().unwrap()).unwrap();
            account.policies.insert(policy.clone(), document);
            Json(json!({})).into_response()
        }
        "CreateCollection" => {
            let collection = request["name"].as_str().unwrap().to_string();
            assert_eq!(request["type"], "VECTORSEARCH");
            if account.collections.contains_key(&collection) {
                return conflict(&format!("collection {collection} exists"));
            }
            account.collections.insert(collection.clone(), CREATING_FOR);
            Json(json!({"createCollectionDetail": {"name": collection, "status": "CREATING"}}))
                .into_response()
        }
        "BatchGetCollection" => {
            let collection = request["names"][0].as_str().unwrap().to_string();
            let countdown = account.collections.get_mut(&collection).unwrap();
            let status = active(countdown);
            Json(json!({
                "collectionDetails": [{
                    "id": "abc123", "name": collection, "status": status,
                    "collectionEndpoint": "https://abc123.eu-west-1.aoss.amazonaws.com",
                }],
                "collectionErrorDetails": [],
            }))
            .into_response()
        }
        other => panic!("unexpected operation {other}"),
    }
}

fn conflict(message: &str) -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({"__type": "ConflictException", "message": message})),
    )
        .into_response()
}

async fn stand_in() -> (AwsClients, Shared) {
    let account = Shared::default();
    let app = Router::new()
        .route("/", post(answer))
        .with_state(account.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (AwsClients::for_emulator(&endpoint), account)
}

fn table(resource: &str) -> askdocs_shared::aws::bootstrap::TableSpec {
    let config = config_from(&aws_settings());
    let askdocs_shared::config::Backend::Aws(settings) = &config.backend else {
        panic!("AWS settings expected")
    };
    tables(settings)
        .into_iter()
        .find(|spec| spec.resource == resource)
        .unwrap()
}

#[tokio::test]
async fn a_new_tables_ttl_is_set_once_the_table_is_active_and_a_rerun_changes_nothing() {
    // GIVEN an account where new tables take a while to become ACTIVE
    let (clients, account) = stand_in().await;
    let tokens = table("RevokedTokensTable");

    // WHEN the revoked-tokens table is bootstrapped
    let mut report = Bootstrapped::default();
    ensure_table(&clients, &tokens, &mut report).await.unwrap();

    // THEN it was created, waited for, and only then given its TTL
    {
        let account = account.lock().unwrap();
        assert!(account.refused.is_empty(), "{:?}", account.refused);
        assert!(account.ttl.contains(&tokens.name));
        let calls = &account.calls;
        let ttl_at = calls
            .iter()
            .position(|call| call == "UpdateTimeToLive")
            .unwrap();
        let describes_before = calls[..ttl_at]
            .iter()
            .filter(|call| *call == "DescribeTable")
            .count();
        assert_eq!(describes_before, CREATING_FOR + 1, "{calls:?}");
    }
    assert_eq!(report.created, vec![format!("table {}", tokens.name)]);
    assert_eq!(
        report.changed,
        vec![format!("table {}: TTL on expiresAt", tokens.name)]
    );

    // WHEN it runs again
    account.lock().unwrap().calls.clear();
    let mut again = Bootstrapped::default();
    ensure_table(&clients, &tokens, &mut again).await.unwrap();
    // THEN the table is found as it is: nothing changed
    assert_eq!(again.existing, vec![format!("table {}", tokens.name)]);
    assert!(again.changed.is_empty(), "{:?}", again.changed);
    assert!(!account
        .lock()
        .unwrap()
        .calls
        .iter()
        .any(|call| call.starts_with("Update")));
}

#[tokio::test]
async fn a_table_missing_an_index_gets_it_on_a_rerun() {
    // GIVEN a documents table made before StatusIndex existed
    let (clients, account) = stand_in().await;
    let documents = table("DocumentsTable");
    let mut older = documents.clone();
    older.indexes.retain(|index| index.name != "StatusIndex");
    ensure_table(&clients, &older, &mut Bootstrapped::default())
        .await
        .unwrap();

    // WHEN bootstrap runs with today's layout
    let mut report = Bootstrapped::default();
    ensure_table(&clients, &documents, &mut report)
        .await
        .unwrap();

    // THEN the index is added, once the table is active, and waited for
    assert_eq!(
        report.changed,
        vec![format!("table {}: index StatusIndex added", documents.name)]
    );
    let account = account.lock().unwrap();
    assert!(account.refused.is_empty(), "{:?}", account.refused);
    assert!(account.indexes[&documents.name].contains_key("StatusIndex"));
    assert_eq!(account.indexes[&documents.name]["StatusIndex"], 0);
}

#[tokio::test]
async fn an_opensearch_collection_is_created_with_its_policies_and_waited_for() {
    // GIVEN an account without the collection
    let (clients, account) = stand_in().await;
    let access = CollectionAccess {
        principals: vec!["arn:aws:iam::123456789012:role/askdocs".into()],
    };

    // WHEN bootstrap creates it
    let mut report = Bootstrapped::default();
    let endpoint = ensure_collection(&clients, "askdocs-trial", "passages", &access, &mut report)
        .await
        .unwrap();

    // THEN its endpoint is known once it is ACTIVE, and its policies name it
    assert_eq!(endpoint, "https://abc123.eu-west-1.aoss.amazonaws.com");
    {
        let account = account.lock().unwrap();
        let data = &account.policies["askdocs-trial-data"];
        assert_eq!(
            data[0]["Principal"][0],
            "arn:aws:iam::123456789012:role/askdocs"
        );
        assert_eq!(
            account.policies["askdocs-trial-enc"]["Rules"][0]["Resource"][0],
            "collection/askdocs-trial"
        );
        let polls = account
            .calls
            .iter()
            .filter(|call| *call == "BatchGetCollection")
            .count();
        assert_eq!(polls, CREATING_FOR + 1);
    }
    assert_eq!(report.created.len(), 4, "{:?}", report.created);

    // WHEN it runs again THEN "already exists" is told by the error's type
    let mut again = Bootstrapped::default();
    let same = ensure_collection(&clients, "askdocs-trial", "passages", &access, &mut again)
        .await
        .unwrap();
    assert_eq!(same, endpoint);
    assert_eq!(again.existing.len(), 4, "{:?}", again.existing);
    assert!(again.created.is_empty());
}
