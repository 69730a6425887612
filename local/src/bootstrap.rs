//! `askdocs bootstrap-aws`: creates the tables, the bucket and the vector
//! store template.yaml declares, on whatever `AWS_ENDPOINT_URL` points to
//! (an emulator, or a real account for a stack-less trial). A rerun
//! converges. With `ASKDOCS_VECTOR_STORE=opensearch` and
//! `OPENSEARCH_COLLECTION`, it also creates the collection and its policies
//! (access for the IAM ARNs in `OPENSEARCH_PRINCIPALS`, comma-separated)
//! and prints the endpoint to set as `OPENSEARCH_ENDPOINT`.

use askdocs_shared::aws::bootstrap::{bootstrap_with, CollectionAccess};
use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let backends = Backends::connect(config).await?;
    let Some((clients, settings)) = backends.aws() else {
        anyhow::bail!(
            "bootstrap-aws needs the AWS backend: set ASKDOCS_BACKEND=aws and the resource names"
        );
    };
    let access = CollectionAccess {
        principals: std::env::var("OPENSEARCH_PRINCIPALS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|arn| !arn.is_empty())
            .map(str::to_string)
            .collect(),
    };
    // The index's dimension is the embedding model's.
    let dimension = backends.embedder()?.dimensions();
    let (report, endpoint) = bootstrap_with(clients, settings, dimension, &access).await?;
    for line in &report.created {
        println!("created  {line}");
    }
    for line in &report.changed {
        println!("changed  {line}");
    }
    for line in &report.existing {
        println!("exists   {line}");
    }
    if let Some(endpoint) = endpoint {
        println!("OPENSEARCH_ENDPOINT={endpoint}");
    }
    Ok(())
}
