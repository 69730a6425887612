//! The AWS resources askdocs expects — DynamoDB tables, the documents bucket,
//! the vector bucket and index — as template.yaml declares them, created on
//! whatever endpoint the clients point at (`askdocs bootstrap-aws`, the tests'
//! emulator). Idempotent: what exists is left alone, except that an S3
//! Vectors index in CLASSIC mode is switched to ENHANCED.
//!
//! [`tables`] is the one description of the tables; a test checks that
//! template.yaml declares exactly the same keys, indexes, projections and TTL.

use serde_json::{json, Value};

use super::AwsClients;
use crate::config::{AwsSettings, VectorStoreSettings};

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

/// A key schema in DynamoDB's JSON: the hash key, then the range key if any.
fn key_schema(hash: &str, range: Option<&str>) -> Value {
    let mut schema = vec![json!({"AttributeName": hash, "KeyType": "HASH"})];
    schema.extend(range.map(|range| json!({"AttributeName": range, "KeyType": "RANGE"})));
    Value::Array(schema)
}

fn index(spec: &IndexSpec) -> Value {
    json!({
        "IndexName": spec.name,
        "KeySchema": key_schema(spec.hash, spec.range),
        "Projection": {"ProjectionType": spec.projection},
    })
}

/// What a bootstrap did, for the person running it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Bootstrapped {
    pub created: Vec<String>,
    pub existing: Vec<String>,
    pub changed: Vec<String>,
}

async fn create_table(
    clients: &AwsClients,
    spec: &TableSpec,
    report: &mut Bootstrapped,
) -> anyhow::Result<()> {
    let attributes: Vec<Value> = spec
        .key_attributes()
        .into_iter()
        .map(|name| json!({"AttributeName": name, "AttributeType": "S"}))
        .collect();
    let mut request = json!({
        "TableName": spec.name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": key_schema(spec.hash, spec.range),
        "AttributeDefinitions": attributes,
    });
    if !spec.indexes.is_empty() {
        request["GlobalSecondaryIndexes"] = spec.indexes.iter().map(index).collect();
    }
    match clients.dynamodb.call("CreateTable", request).await {
        Ok(_) => report.created.push(format!("table {}", spec.name)),
        Err(error) if error.code() == Some("ResourceInUseException") => {
            report.existing.push(format!("table {}", spec.name));
            return Ok(());
        }
        Err(error) => anyhow::bail!("creating table {}: {error}", spec.name),
    }
    if let Some(attribute) = spec.ttl {
        clients
            .dynamodb
            .call(
                "UpdateTimeToLive",
                json!({
                    "TableName": spec.name,
                    "TimeToLiveSpecification": {"AttributeName": attribute, "Enabled": true},
                }),
            )
            .await
            .map_err(|error| anyhow::anyhow!("enabling TTL on {}: {error}", spec.name))?;
    }
    Ok(())
}

async fn create_bucket(
    clients: &AwsClients,
    bucket: &str,
    report: &mut Bootstrapped,
) -> anyhow::Result<()> {
    const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
    let s3 = &clients.s3;
    let url = s3.bucket_url(bucket);
    // Outside us-east-1, S3 wants the bucket's region named.
    let region = s3.region();
    let (content_type, configuration) = if region == "us-east-1" {
        ("", String::new())
    } else {
        (
            "application/xml",
            format!(
                r#"<CreateBucketConfiguration xmlns="{NAMESPACE}"><LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"#
            ),
        )
    };
    match s3
        .send(
            "PUT",
            &url,
            content_type,
            &[],
            configuration.into_bytes(),
            false,
        )
        .await
    {
        Ok(_) => report.created.push(format!("bucket {bucket}")),
        Err(error)
            if matches!(
                error.code(),
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
            ) =>
        {
            report.existing.push(format!("bucket {bucket}"));
        }
        Err(error) => anyhow::bail!("creating bucket {bucket}: {error}"),
    }
    // Versioned, as the template declares it: deletes must remove every version.
    // S3 wants this body's MD5.
    let versioning = format!(
        r#"<VersioningConfiguration xmlns="{NAMESPACE}"><Status>Enabled</Status></VersioningConfiguration>"#
    );
    let digest = {
        use base64::Engine as _;
        use md5::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(versioning.as_bytes()))
    };
    s3.send(
        "PUT",
        &format!("{url}/?versioning"),
        "application/xml",
        &[("content-md5", &digest)],
        versioning.into_bytes(),
        false,
    )
    .await
    .map_err(|error| anyhow::anyhow!("versioning bucket {bucket}: {error}"))?;
    Ok(())
}

/// The vector bucket and index, in ENHANCED mode: one index filtered by
/// owner only returns a full `topK` when the filter is applied before the
/// search. Indexes in buckets made before 2026-09-30 start in CLASSIC mode
/// (filtering during the search, so a user who owns few of the vectors can
/// get fewer results than asked for); they are switched here.
async fn create_vector_index(
    clients: &AwsClients,
    bucket: &str,
    index: &str,
    dimension: usize,
    report: &mut Bootstrapped,
) -> anyhow::Result<()> {
    let s3vectors = &clients.s3vectors;
    match s3vectors
        .post("/CreateVectorBucket", &json!({"vectorBucketName": bucket}))
        .await
    {
        Ok(_) => report.created.push(format!("vector bucket {bucket}")),
        Err(error) if error.code() == Some("ConflictException") => {
            report.existing.push(format!("vector bucket {bucket}"));
        }
        Err(error) => anyhow::bail!("creating vector bucket {bucket}: {error}"),
    }
    let index_request = json!({
        "vectorBucketName": bucket,
        "indexName": index,
        "dataType": "float32",
        "dimension": dimension,
        "distanceMetric": "cosine",
        "metadataConfiguration": {"nonFilterableMetadataKeys": NON_FILTERABLE_METADATA},
    });
    match s3vectors.post("/CreateIndex", &index_request).await {
        Ok(_) => report
            .created
            .push(format!("vector index {index} ({dimension} dimensions)")),
        Err(error) if error.code() == Some("ConflictException") => {
            report.existing.push(format!("vector index {index}"));
        }
        Err(error) => anyhow::bail!("creating vector index {index}: {error}"),
    }
    let named = json!({"vectorBucketName": bucket, "indexName": index});
    let existing = s3vectors
        .post("/GetIndex", &named)
        .await
        .map_err(|error| anyhow::anyhow!("reading vector index {index}: {error}"))?;
    let described = &existing["index"];
    let Some(existing_dimension) = described["dimension"].as_u64() else {
        anyhow::bail!("vector index {index} was not found after creating it");
    };
    anyhow::ensure!(
        existing_dimension as usize == dimension,
        "vector index {index} has {existing_dimension} dimensions but the embedding model makes {dimension}; \
         use another VECTOR_INDEX or the model it was made for"
    );
    if described["indexMode"] != "ENHANCED" {
        let mut switch = named.clone();
        switch["indexMode"] = json!("ENHANCED");
        s3vectors
            .post("/UpdateIndexMode", &switch)
            .await
            .map_err(|error| {
                anyhow::anyhow!("switching vector index {index} to ENHANCED: {error}")
            })?;
        report.changed.push(format!(
            "vector index {index}: CLASSIC → ENHANCED index mode"
        ));
    }
    Ok(())
}

/// Creates every table, the bucket and the vector store `settings` name;
/// `dimension` is the embedding model's.
pub async fn bootstrap(
    clients: &AwsClients,
    settings: &AwsSettings,
    dimension: usize,
) -> anyhow::Result<Bootstrapped> {
    let mut report = Bootstrapped::default();
    for spec in tables(settings) {
        create_table(clients, &spec, &mut report).await?;
    }
    create_bucket(clients, &settings.bucket, &mut report).await?;
    match &settings.vector_store {
        VectorStoreSettings::S3Vectors { bucket, index } => {
            create_vector_index(clients, bucket, index, dimension, &mut report).await?
        }
        VectorStoreSettings::OpenSearch { endpoint, index } => {
            // The collection comes from template.yaml; its index is made here
            // unless it exists (a stack-less trial, or the tests' stand-in).
            let store = clients.opensearch_index(endpoint, index);
            match store.create_index(dimension).await {
                Ok(()) => report.created.push(format!("OpenSearch index {index}")),
                Err(error)
                    if error.to_string().contains("exists")
                        || error.to_string().contains("400") =>
                {
                    report.existing.push(format!("OpenSearch index {index}"))
                }
                Err(error) => anyhow::bail!("creating OpenSearch index {index}: {error}"),
            }
        }
    }
    Ok(report)
}
