//! Accounts, and the item that reserves each email.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::json;

use super::{item_in, items_in, optional_text, s, text, DynamoDb, Item};
use crate::error::{Error, Result};
use crate::model::User;
use crate::ports::UserStore;

pub struct DynamoUserStore {
    client: DynamoDb,
    table: String,
}

impl DynamoUserStore {
    pub(crate) fn new(client: DynamoDb, table: impl Into<String>) -> Self {
        DynamoUserStore {
            client,
            table: table.into(),
        }
    }
}

/// The item that reserves an email: same table, no `email` attribute, so the
/// `EmailIndex` never sees it.
fn email_claim_key(email: &str) -> String {
    format!("email#{email}")
}

fn user_from_item(item: &Item) -> Result<User> {
    Ok(User {
        user_id: text(item, "userId")?,
        email: text(item, "email")?,
        name: optional_text(item, "name"),
        password_hash: text(item, "passwordHash")?,
        created_at: text(item, "createdAt")?,
    })
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, user: &User) -> Result<()> {
        let mut item: Item = HashMap::from([
            ("userId".into(), s(&user.user_id)),
            ("email".into(), s(&user.email)),
            ("passwordHash".into(), s(&user.password_hash)),
            ("createdAt".into(), s(&user.created_at)),
        ]);
        if let Some(name) = &user.name {
            item.insert("name".into(), s(name));
        }
        let claim: Item = HashMap::from([
            ("userId".into(), s(email_claim_key(&user.email))),
            ("owner".into(), s(&user.user_id)),
        ]);
        let put = |item: Item| {
            json!({"Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(userId)",
            }})
        };
        // Both or neither: the account and the claim on its email. The token
        // makes a retry of a transaction that did land (its answer lost) a
        // success rather than "email taken", as the SDK's generated one did.
        let result = self
            .client
            .call(
                "TransactWriteItems",
                json!({
                    "TransactItems": [put(claim), put(item)],
                    "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
                }),
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                // The claim is the transaction's first item: its condition failing
                // means the email is taken (the user id, a fresh UUID, never is).
                let taken = error.code() == Some("TransactionCanceledException")
                    && error.body().is_some_and(|body| {
                        body["CancellationReasons"][0]["Code"] == "ConditionalCheckFailed"
                    });
                if taken {
                    Err(Error::email_taken())
                } else {
                    Err(error.into_error("DynamoDB TransactWriteItems (users)"))
                }
            }
        }
    }

    async fn get(&self, user_id: &str) -> Result<Option<User>> {
        if user_id.starts_with("email#") {
            return Ok(None);
        }
        let mut output = self
            .client
            .call(
                "GetItem",
                json!({"TableName": self.table, "Key": {"userId": s(user_id)}}),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB GetItem (users)"))?;
        item_in(&mut output, "Item")?
            .as_ref()
            .map(user_from_item)
            .transpose()
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        let mut output = self
            .client
            .call(
                "Query",
                json!({
                    "TableName": self.table,
                    "IndexName": "EmailIndex",
                    "KeyConditionExpression": "email = :email",
                    "ExpressionAttributeValues": {":email": s(email)},
                    "Limit": 1,
                }),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB Query (EmailIndex)"))?;
        items_in(&mut output)?
            .first()
            .map(user_from_item)
            .transpose()
    }
}
