//! The DynamoDB tables and S3 bucket askdocs expects, as `template.yaml`
//! declares them — created here for local emulators and tests.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use super::AwsClients;
use crate::config::AwsSettings;

fn attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}

fn index(name: &str, hash: &str, range: Option<&str>) -> GlobalSecondaryIndex {
    let mut builder = GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        );
    if let Some(range) = range {
        builder = builder.key_schema(key(range, KeyType::Range));
    }
    builder.build().expect("index fields are set")
}

async fn create_table(
    clients: &AwsClients,
    name: &str,
    hash: &str,
    range: Option<&str>,
    attributes: &[&str],
    indexes: Vec<GlobalSecondaryIndex>,
) -> anyhow::Result<()> {
    let mut request = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(hash, KeyType::Hash))
        .set_attribute_definitions(Some(attributes.iter().map(|a| attribute(a)).collect()));
    if let Some(range) = range {
        request = request.key_schema(key(range, KeyType::Range));
    }
    if !indexes.is_empty() {
        request = request.set_global_secondary_indexes(Some(indexes));
    }
    request
        .send()
        .await
        .map_err(|error| anyhow::anyhow!("creating table {name}: {}", super::describe(&error)))?;
    Ok(())
}

/// Creates every table and the bucket named in `settings`.
pub async fn create_all(clients: &AwsClients, settings: &AwsSettings) -> anyhow::Result<()> {
    create_table(
        clients,
        &settings.users_table,
        "userId",
        None,
        &["userId", "email"],
        vec![index("EmailIndex", "email", None)],
    )
    .await?;
    create_table(
        clients,
        &settings.tokens_table,
        "tokenId",
        None,
        &["tokenId"],
        vec![],
    )
    .await?;
    create_table(
        clients,
        &settings.documents_table,
        "userId",
        Some("documentId"),
        &["userId", "documentId", "uploadDate", "status", "updatedAt"],
        vec![
            index("UserUploadDateIndex", "userId", Some("uploadDate")),
            index("StatusIndex", "status", Some("updatedAt")),
        ],
    )
    .await?;
    create_table(
        clients,
        &settings.history_table,
        "userId",
        Some("queryKey"),
        &["userId", "queryKey", "conversationKey"],
        vec![index(
            "ConversationIndex",
            "conversationKey",
            Some("queryKey"),
        )],
    )
    .await?;
    let mut bucket = clients.s3.create_bucket().bucket(&settings.bucket);
    // Outside us-east-1, S3 wants the bucket's region named.
    if let Some(region) = clients.s3.config().region().map(|r| r.as_ref().to_string()) {
        if region != "us-east-1" {
            bucket = bucket.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
    }
    bucket.send().await.map_err(|error| {
        anyhow::anyhow!(
            "creating bucket {}: {}",
            settings.bucket,
            super::describe(&error)
        )
    })?;
    Ok(())
}
