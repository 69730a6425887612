//! Accounts, and the item that reserves each email.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::{optional_text, s, text, Item};
use crate::aws::errors::sdk_error;
use crate::error::{Error, Result};
use crate::model::User;
use crate::ports::UserStore;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

pub struct DynamoUserStore {
    client: Client,
    table: String,
}

impl DynamoUserStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
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
        let put = |item: Item| -> Result<TransactWriteItem> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(userId)")
                .build()
                .map_err(|error| Error::Internal(error.into()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        // Both or neither: the account and the claim on its email.
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(claim)?)
            .transact_items(put(item)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                // The claim is the transaction's first item: its condition failing
                // means the email is taken (the user id, a fresh UUID, never is).
                let taken = match error.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                        cancelled
                            .cancellation_reasons()
                            .first()
                            .and_then(|reason| reason.code())
                            == Some("ConditionalCheckFailed")
                    }
                    _ => false,
                };
                if taken {
                    Err(Error::email_taken())
                } else {
                    Err(sdk_error("DynamoDB TransactWriteItems (users)", error))
                }
            }
        }
    }

    async fn get(&self, user_id: &str) -> Result<Option<User>> {
        if user_id.starts_with("email#") {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("userId", s(user_id))
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (users)", error))?;
        output.item().map(user_from_item).transpose()
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("EmailIndex")
            .key_condition_expression("email = :email")
            .expression_attribute_values(":email", s(email))
            .limit(1)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB Query (EmailIndex)", error))?;
        output.items().first().map(user_from_item).transpose()
    }
}
