//! Accounts, and the item that reserves each email.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::{optional_text, query_at_least, s, text, Item};
use crate::aws::errors::sdk_error;
use crate::aws::AwsClients;
use crate::error::{Error, Result};
use crate::model::{User, UserId};
use crate::ports::UserStore;

pub struct DynamoUserStore {
    clients: AwsClients,
    table: String,
}

impl DynamoUserStore {
    pub(crate) fn new(clients: AwsClients, table: impl Into<String>) -> Self {
        DynamoUserStore {
            clients,
            table: table.into(),
        }
    }

    /// A federated account claims no email (it has no password to log in
    /// with): one Put, only where its id — derived from the identity — is free.
    async fn create_federated(&self, mut account: Item, provider: &str) -> Result<()> {
        account.insert("provider".into(), s(provider));
        account.remove("passwordHash");
        let result = self
            .clients
            .dynamodb()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(account))
            .condition_expression("attribute_not_exists(userId)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|error| error.is_conditional_check_failed_exception()) =>
            {
                Err(Error::account_exists())
            }
            Err(error) => Err(sdk_error("DynamoDB PutItem (users)", error)),
        }
    }

    /// A transaction's Put of `item`, only where its key is free.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(userId)")
            .build()
            .map_err(|error| Error::Internal(error.into()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// The item that reserves an email: same table, no `email` attribute, so the
/// `EmailIndex` never sees it.
fn email_claim_key(email: &str) -> String {
    format!("email#{email}")
}

fn user_from_item(item: &Item) -> Result<User> {
    Ok(User {
        user_id: UserId::new(text(item, "userId")?),
        email: text(item, "email")?,
        name: optional_text(item, "name"),
        // A federated account has no password hash.
        password_hash: optional_text(item, "passwordHash").unwrap_or_default(),
        created_at: text(item, "createdAt")?,
        provider: optional_text(item, "provider"),
    })
}

/// Whether a failed transaction failed on its first item's condition.
fn first_condition_failed(error: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> bool {
    let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) =
        error.as_service_error()
    else {
        return false;
    };
    canceled
        .cancellation_reasons()
        .first()
        .and_then(|reason| reason.code())
        == Some("ConditionalCheckFailed")
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, user: &User) -> Result<()> {
        let mut account: Item = HashMap::from([
            ("userId".into(), s(&user.user_id)),
            ("email".into(), s(&user.email)),
            ("passwordHash".into(), s(&user.password_hash)),
            ("createdAt".into(), s(&user.created_at)),
        ]);
        if let Some(name) = &user.name {
            account.insert("name".into(), s(name));
        }
        if let Some(provider) = &user.provider {
            return self.create_federated(account, provider).await;
        }
        let claim: Item = HashMap::from([
            ("userId".into(), s(email_claim_key(&user.email))),
            ("owner".into(), s(&user.user_id)),
        ]);
        // Both or neither: the account and the claim on its email. The token
        // makes the SDK's retry of a transaction that did land (its answer
        // lost) a success rather than "email taken".
        let result = self
            .clients
            .dynamodb()
            .await
            .transact_write_items()
            .transact_items(self.put_new(claim)?)
            .transact_items(self.put_new(account)?)
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The claim is the first item: its condition failing means the
            // email is taken (the user id, a fresh UUID, never is).
            Err(error) if first_condition_failed(&error) => Err(Error::email_taken()),
            Err(error) => Err(sdk_error("DynamoDB TransactWriteItems (users)", error)),
        }
    }

    async fn get(&self, user_id: &UserId) -> Result<Option<User>> {
        if user_id.starts_with("email#") {
            return Ok(None);
        }
        let output = self
            .clients
            .dynamodb()
            .await
            .get_item()
            .table_name(&self.table)
            .key("userId", s(user_id))
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (users)", error))?;
        output.item().map(user_from_item).transpose()
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        let query = self
            .clients
            .dynamodb()
            .await
            .query()
            .table_name(&self.table)
            .index_name("EmailIndex")
            .key_condition_expression("email = :email")
            // Password accounts only: a federated account with the same
            // address is someone's other sign-in, never logged in by password.
            .filter_expression("attribute_not_exists(provider)")
            .expression_attribute_values(":email", s(email));
        query_at_least("DynamoDB Query (EmailIndex)", query, 1, None)
            .await?
            .first()
            .map(user_from_item)
            .transpose()
    }
}
