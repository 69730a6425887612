//! The AWS resources askdocs expects — DynamoDB tables, the documents bucket,
//! the vector bucket and index, or an OpenSearch Serverless collection with
//! its policies and index — as template.yaml declares them, created on
//! whatever endpoint the clients point at (`askdocs bootstrap-aws`, the tests'
//! emulator), through the services' SDK clients.
//!
//! A rerun converges: what exists is kept, and what is missing of it is added
//! (a table's TTL or indexes; ENHANCED mode on an S3 Vectors index made in
//! CLASSIC mode). DynamoDB answers a new table `CREATING` and refuses changes
//! to it until it is `ACTIVE`, which an emulator rarely shows: every change
//! waits for the table (and each new index) to be active first.
//!
//! [`tables`] is the one description of the tables; a test checks that
//! template.yaml declares exactly the same keys, indexes, projections and TTL.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3vectors::types::{DataType, DistanceMetric, IndexMode, MetadataConfiguration};

use super::errors::{describe, is_service_error};
use super::AwsClients;
use crate::config::{AwsSettings, VectorStoreSettings};

/// How long a table, index or collection may take to become active.
const ACTIVE_WITHIN: Duration = Duration::from_secs(600);

/// A table as template.yaml declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// The table's logical id in template.yaml.
    pub resource: &'static str,
    pub name: String,
    pub hash: &'static str,
    pub range: Option<&'static str>,
    pub indexes: Vec<IndexSpec>,
    pub ttl: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub hash: &'static str,
    pub range: Option<&'static str>,
    /// `ALL` or `KEYS_ONLY`.
    pub projection: &'static str,
}

/// The passage text, page and ordinal ride along with each vector but cannot
/// be filtered on (S3 Vectors allows 2 KB of filterable metadata).
pub const NON_FILTERABLE_METADATA: [&str; 3] = ["text", "page", "ordinal"];

pub fn tables(settings: &AwsSettings) -> Vec<TableSpec> {
    vec![
        TableSpec {
            resource: "UsersTable",
            name: settings.users_table.clone(),
            hash: "userId",
            range: None,
            indexes: vec![IndexSpec {
                name: "EmailIndex",
                hash: "email",
                range: None,
                projection: "ALL",
            }],
            ttl: None,
        },
        TableSpec {
            resource: "RevokedTokensTable",
            name: settings.tokens_table.clone(),
            hash: "tokenId",
            range: None,
            indexes: vec![],
            ttl: Some("expiresAt"),
        },
        TableSpec {
            resource: "DocumentsTable",
            name: settings.documents_table.clone(),
            hash: "userId",
            range: Some("documentId"),
            indexes: vec![
                IndexSpec {
                    name: "UserUploadDateIndex",
                    hash: "userId",
                    range: Some("uploadDate"),
                    projection: "ALL",
                },
                IndexSpec {
                    name: "StatusIndex",
                    hash: "status",
                    range: Some("updatedAt"),
                    projection: "KEYS_ONLY",
                },
            ],
            ttl: None,
        },
        TableSpec {
            resource: "HistoryTable",
            name: settings.history_table.clone(),
            hash: "userId",
            range: Some("queryKey"),
            indexes: vec![IndexSpec {
                name: "ConversationIndex",
                hash: "conversationKey",
                range: Some("queryKey"),
                projection: "ALL",
            }],
            ttl: None,
        },
    ]
}

impl TableSpec {
    /// Every attribute a key of the table or of one of its indexes names.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.hash];
        names.extend(self.range);
        for index in &self.indexes {
            names.push(index.hash);
            names.extend(index.range);
        }
        names.sort();
        names.dedup();
        names
    }
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("name and type are set")
}

fn key_schema(hash: &str, range: Option<&str>) -> Vec<KeySchemaElement> {
    let mut schema = vec![key(hash, KeyType::Hash)];
    schema.extend(range.map(|range| key(range, KeyType::Range)));
    schema
}

fn index(spec: &IndexSpec) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(spec.name)
        .set_key_schema(Some(key_schema(spec.hash, spec.range)))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::from(spec.projection))
                .build(),
        )
        .build()
        .expect("index fields are set")
}

fn attribute_definitions(names: &[&str]) -> Vec<AttributeDefinition> {
    names
        .iter()
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(*name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set")
        })
        .collect()
}

/// What a bootstrap did, for the person running it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Bootstrapped {
    pub created: Vec<String>,
    pub existing: Vec<String>,
    pub changed: Vec<String>,
}

/// Polls `check` (every `every`, growing to 10 s) until it answers a value,
/// or fails after [`ACTIVE_WITHIN`].
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(200);
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        anyhow::ensure!(
            started.elapsed() < ACTIVE_WITHIN,
            "{what} is still not active after {ACTIVE_WITHIN:?}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// The table's description once it and every index of it are `ACTIVE`.
async fn active_table(clients: &AwsClients, name: &str) -> anyhow::Result<TableDescription> {
    let dynamodb = clients.dynamodb().await;
    wait_for(&format!("table {name}"), || async {
        let described = dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("describing table {name}: {}", describe(&error)))?;
        let table = described
            .table
            .ok_or_else(|| anyhow::anyhow!("table {name} has no description"))?;
        let indexes_active = table
            .global_secondary_indexes()
            .iter()
            .all(|index| index.index_status() == Some(&IndexStatus::Active));
        Ok((table.table_status() == Some(&TableStatus::Active) && indexes_active).then_some(table))
    })
    .await
}

/// The table `spec` describes, created or completed: its indexes and TTL.
/// Answers once the table and all its indexes are ACTIVE.
pub async fn ensure_table(
    clients: &AwsClients,
    spec: &TableSpec,
    report: &mut Bootstrapped,
) -> anyhow::Result<()> {
    let dynamodb = clients.dynamodb().await;
    let mut request = dynamodb
        .create_table()
        .table_name(&spec.name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(spec.hash, spec.range)))
        .set_attribute_definitions(Some(attribute_definitions(&spec.key_attributes())));
    if !spec.indexes.is_empty() {
        request =
            request.set_global_secondary_indexes(Some(spec.indexes.iter().map(index).collect()));
    }
    match request.send().await {
        Ok(_) => report.created.push(format!("table {}", spec.name)),
        Err(error) if is_service_error(&error, "ResourceInUseException") => {
            report.existing.push(format!("table {}", spec.name));
        }
        Err(error) => anyhow::bail!("creating table {}: {}", spec.name, describe(&error)),
    }
    // DynamoDB changes a table only once it is ACTIVE, and one new index at a time.
    let mut table = active_table(clients, &spec.name).await?;
    for wanted in &spec.indexes {
        let present = table
            .global_secondary_indexes()
            .iter()
            .any(|index| index.index_name() == Some(wanted.name));
        if present {
            continue;
        }
        let names: Vec<&str> = std::iter::once(wanted.hash).chain(wanted.range).collect();
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(wanted.name)
            .set_key_schema(Some(key_schema(wanted.hash, wanted.range)))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::from(wanted.projection))
                    .build(),
            )
            .build()
            .expect("index fields are set");
        dynamodb
            .update_table()
            .table_name(&spec.name)
            .set_attribute_definitions(Some(attribute_definitions(&names)))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "adding index {} to table {}: {}",
                    wanted.name,
                    spec.name,
                    describe(&error)
                )
            })?;
        report
            .changed
            .push(format!("table {}: index {} added", spec.name, wanted.name));
        table = active_table(clients, &spec.name).await?;
    }
    if let Some(attribute) = spec.ttl {
        let ttl = dynamodb
            .describe_time_to_live()
            .table_name(&spec.name)
            .send()
            .await
            .map_err(|error| {
                anyhow::anyhow!("reading the TTL of {}: {}", spec.name, describe(&error))
            })?;
        let status = ttl
            .time_to_live_description()
            .and_then(|description| description.time_to_live_status());
        let on = matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        if !on {
            dynamodb
                .update_time_to_live()
                .table_name(&spec.name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(attribute)
                        .enabled(true)
                        .build()
                        .expect("name and flag are set"),
                )
                .send()
                .await
                .map_err(|error| {
                    anyhow::anyhow!("enabling TTL on {}: {}", spec.name, describe(&error))
                })?;
            report
                .changed
                .push(format!("table {}: TTL on {attribute}", spec.name));
        }
    }
    Ok(())
}

async fn ensure_bucket(
    clients: &AwsClients,
    bucket: &str,
    report: &mut Bootstrapped,
) -> anyhow::Result<()> {
    let s3 = clients.s3().await;
    let mut request = s3.create_bucket().bucket(bucket);
    // Outside us-east-1, S3 wants the bucket's region named.
    let region = clients.region().await;
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    region.as_str(),
                ))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => report.created.push(format!("bucket {bucket}")),
        Err(error)
            if error.as_service_error().is_some_and(|service| {
                service.is_bucket_already_owned_by_you() || service.is_bucket_already_exists()
            }) =>
        {
            report.existing.push(format!("bucket {bucket}"));
        }
        Err(error) => anyhow::bail!("creating bucket {bucket}: {}", describe(&error)),
    }
    // Versioned, as the template declares it: deletes must remove every version.
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|error| anyhow::anyhow!("versioning bucket {bucket}: {}", describe(&error)))?;
    Ok(())
}

/// The vector bucket and index, in ENHANCED mode: one index filtered by
/// owner only returns a full `topK` when the filter is applied before the
/// search. Indexes in buckets made before 2026-09-30 start in CLASSIC mode
/// (filtering during the search, so a user who owns few of the vectors can
/// get fewer results than asked for); they are switched here.
async fn ensure_vector_index(
    clients: &AwsClients,
    bucket: &str,
    index: &str,
    dimension: usize,
    report: &mut Bootstrapped,
) -> anyhow::Result<()> {
    let s3vectors = clients.s3vectors().await;
    match s3vectors
        .create_vector_bucket()
        .vector_bucket_name(bucket)
        .send()
        .await
    {
        Ok(_) => report.created.push(format!("vector bucket {bucket}")),
        Err(error) if is_service_error(&error, "ConflictException") => {
            report.existing.push(format!("vector bucket {bucket}"));
        }
        Err(error) => anyhow::bail!("creating vector bucket {bucket}: {}", describe(&error)),
    }
    let metadata = MetadataConfiguration::builder()
        .set_non_filterable_metadata_keys(Some(
            NON_FILTERABLE_METADATA
                .iter()
                .map(|key| key.to_string())
                .collect(),
        ))
        .build()
        .expect("keys are set");
    match s3vectors
        .create_index()
        .vector_bucket_name(bucket)
        .index_name(index)
        .data_type(DataType::Float32)
        .dimension(dimension as i32)
        .distance_metric(DistanceMetric::Cosine)
        .metadata_configuration(metadata)
        .send()
        .await
    {
        Ok(_) => report
            .created
            .push(format!("vector index {index} ({dimension} dimensions)")),
        Err(error) if is_service_error(&error, "ConflictException") => {
            report.existing.push(format!("vector index {index}"));
        }
        Err(error) => anyhow::bail!("creating vector index {index}: {}", describe(&error)),
    }
    let existing = s3vectors
        .get_index()
        .vector_bucket_name(bucket)
        .index_name(index)
        .send()
        .await
        .map_err(|error| anyhow::anyhow!("reading vector index {index}: {}", describe(&error)))?;
    let Some(described) = existing.index() else {
        anyhow::bail!("vector index {index} was not found after creating it");
    };
    anyhow::ensure!(
        described.dimension() as usize == dimension,
        "vector index {index} has {} dimensions but the embedding model makes {dimension}; \
         use another VECTOR_INDEX or the model it was made for",
        described.dimension()
    );
    if described.index_mode() != Some(&IndexMode::Enhanced) {
        s3vectors
            .update_index_mode()
            .vector_bucket_name(bucket)
            .index_name(index)
            .index_mode(IndexMode::Enhanced)
            .send()
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "switching vector index {index} to ENHANCED: {}",
                    describe(&error)
                )
            })?;
        report.changed.push(format!(
            "vector index {index}: CLASSIC → ENHANCED index mode"
        ));
    }
    Ok(())
}

/// Who may use an OpenSearch Serverless collection bootstrap-aws creates:
/// the IAM roles or users that run askdocs (`OPENSEARCH_PRINCIPALS`).
#[derive(Debug, Clone, Default)]
pub struct CollectionAccess {
    pub principals: Vec<String>,
}

/// The policies and the VECTORSEARCH collection `name`, as template.yaml
/// declares them, created where missing; answers the collection's endpoint
/// once it is ACTIVE. "Already exists" is told by the error's type.
pub async fn ensure_collection(
    clients: &AwsClients,
    name: &str,
    index: &str,
    access: &CollectionAccess,
    report: &mut Bootstrapped,
) -> anyhow::Result<String> {
    use aws_sdk_opensearchserverless::types::{
        AccessPolicyType, CollectionStatus, CollectionType, SecurityPolicyType,
    };
    let admin = clients.opensearch_admin().await;
    let collection = format!("collection/{name}");
    let encryption = serde_json::json!({
        "Rules": [{"ResourceType": "collection", "Resource": [collection]}],
        "AWSOwnedKey": true,
    });
    let network = serde_json::json!([{
        "Rules": [{"ResourceType": "collection", "Resource": [collection]}],
        "AllowFromPublic": true,
    }]);
    for (kind, suffix, policy) in [
        (SecurityPolicyType::Encryption, "enc", encryption),
        (SecurityPolicyType::Network, "net", network),
    ] {
        let policy_name = format!("{name}-{suffix}");
        match admin
            .create_security_policy()
            .name(&policy_name)
            .r#type(kind)
            .policy(policy.to_string())
            .send()
            .await
        {
            Ok(_) => report
                .created
                .push(format!("OpenSearch policy {policy_name}")),
            Err(error) if is_service_error(&error, "ConflictException") => report
                .existing
                .push(format!("OpenSearch policy {policy_name}")),
            Err(error) => anyhow::bail!("creating policy {policy_name}: {}", describe(&error)),
        }
    }
    anyhow::ensure!(
        !access.principals.is_empty(),
        "OPENSEARCH_PRINCIPALS must name the IAM roles or users that use collection {name}"
    );
    let data = serde_json::json!([{
        "Description": "askdocs",
        "Principal": access.principals,
        "Rules": [
            {"ResourceType": "collection", "Resource": [collection],
             "Permission": ["aoss:DescribeCollectionItems", "aoss:CreateCollectionItems"]},
            {"ResourceType": "index", "Resource": [format!("index/{name}/{index}")],
             "Permission": ["aoss:CreateIndex", "aoss:DescribeIndex", "aoss:UpdateIndex",
                            "aoss:ReadDocument", "aoss:WriteDocument"]},
        ],
    }]);
    let data_name = format!("{name}-data");
    match admin
        .create_access_policy()
        .name(&data_name)
        .r#type(AccessPolicyType::Data)
        .policy(data.to_string())
        .send()
        .await
    {
        Ok(_) => report
            .created
            .push(format!("OpenSearch policy {data_name}")),
        Err(error) if is_service_error(&error, "ConflictException") => report
            .existing
            .push(format!("OpenSearch policy {data_name}")),
        Err(error) => anyhow::bail!("creating policy {data_name}: {}", describe(&error)),
    }
    match admin
        .create_collection()
        .name(name)
        .r#type(CollectionType::Vectorsearch)
        .description("askdocs - passages for hybrid (k-NN + BM25) retrieval")
        .send()
        .await
    {
        Ok(_) => report.created.push(format!("OpenSearch collection {name}")),
        Err(error) if is_service_error(&error, "ConflictException") => report
            .existing
            .push(format!("OpenSearch collection {name}")),
        Err(error) => anyhow::bail!("creating collection {name}: {}", describe(&error)),
    }
    wait_for(&format!("OpenSearch collection {name}"), || async {
        let found = admin
            .batch_get_collection()
            .names(name)
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("reading collection {name}: {}", describe(&error)))?;
        let Some(detail) = found.collection_details().first() else {
            anyhow::bail!("collection {name} was not found after creating it");
        };
        match detail.status() {
            Some(CollectionStatus::Active) => Ok(detail.collection_endpoint().map(str::to_string)),
            Some(CollectionStatus::Failed) => anyhow::bail!("collection {name} failed to create"),
            _ => Ok(None),
        }
    })
    .await
}

/// Creates every table, the bucket and the vector store `settings` name;
/// `dimension` is the embedding model's. Answers what it did, and the
/// OpenSearch endpoint when it created (or found) a collection.
pub async fn bootstrap(
    clients: &AwsClients,
    settings: &AwsSettings,
    dimension: usize,
) -> anyhow::Result<Bootstrapped> {
    bootstrap_with(clients, settings, dimension, &CollectionAccess::default())
        .await
        .map(|(report, _)| report)
}

/// [`bootstrap`], with who may use an OpenSearch collection it creates.
pub async fn bootstrap_with(
    clients: &AwsClients,
    settings: &AwsSettings,
    dimension: usize,
    access: &CollectionAccess,
) -> anyhow::Result<(Bootstrapped, Option<String>)> {
    let mut report = Bootstrapped::default();
    for spec in tables(settings) {
        ensure_table(clients, &spec, &mut report).await?;
    }
    ensure_bucket(clients, &settings.bucket, &mut report).await?;
    let mut opensearch_endpoint = None;
    match &settings.vector_store {
        VectorStoreSettings::S3Vectors { bucket, index } => {
            ensure_vector_index(clients, bucket, index, dimension, &mut report).await?
        }
        VectorStoreSettings::OpenSearch {
            endpoint,
            collection,
            index,
        } => {
            let endpoint = match collection {
                Some(name) => {
                    let found =
                        ensure_collection(clients, name, index, access, &mut report).await?;
                    if let Some(configured) = endpoint {
                        anyhow::ensure!(
                            configured.trim_end_matches('/') == found.trim_end_matches('/'),
                            "OPENSEARCH_ENDPOINT is {configured}, but collection {name} is at {found}"
                        );
                    }
                    found
                }
                None => endpoint
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("OPENSEARCH_ENDPOINT is not set"))?,
            };
            let store = clients.opensearch_index(&endpoint, index);
            match store.create_index(dimension).await {
                Ok(true) => report.created.push(format!("OpenSearch index {index}")),
                Ok(false) => report.existing.push(format!("OpenSearch index {index}")),
                Err(error) => anyhow::bail!("creating OpenSearch index {index}: {error}"),
            }
            opensearch_endpoint = Some(endpoint);
        }
    }
    Ok((report, opensearch_endpoint))
}
