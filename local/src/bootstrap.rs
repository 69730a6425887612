//! `askdocs bootstrap-aws`: creates the tables, the bucket and the vector
//! store template.yaml declares, on whatever `AWS_ENDPOINT_URL` points to
//! (an emulator, or a real account for a stack-less trial). Idempotent.

use askdocs_shared::aws::bootstrap::bootstrap;
use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let backends = Backends::connect(config).await?;
    let Some((clients, settings)) = backends.aws() else {
        anyhow::bail!(
            "bootstrap-aws needs the AWS backend: set ASKDOCS_BACKEND=aws and the resource names"
        );
    };
    // The index's dimension is the embedding model's.
    let dimension = backends.embedder()?.dimensions();
    let report = bootstrap(clients, settings, dimension).await?;
    for line in &report.created {
        println!("created  {line}");
    }
    for line in &report.changed {
        println!("changed  {line}");
    }
    for line in &report.existing {
        println!("exists   {line}");
    }
    Ok(())
}
