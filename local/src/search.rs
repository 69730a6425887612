//! `askdocs search "question"`: the passages a question retrieves, best first,
//! without answering it — to see what the answerer would read.

use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;
use serde_json::json;

pub async fn run(
    config: &Config,
    email: &str,
    question: &str,
    top_k: usize,
    as_json: bool,
) -> anyhow::Result<()> {
    let backends = Backends::connect(config).await?;
    let user = backends.accounts()?.local_user(email).await?;
    let passages = backends
        .asker()?
        .search(&user.user_id, question, top_k)
        .await
        .map_err(|error| anyhow::anyhow!(error.public_message()))?;
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "passages": passages_json(&passages) }))?
        );
        return Ok(());
    }
    if passages.is_empty() {
        println!("No passage of your documents is relevant to that.");
    }
    for (rank, passage) in passages.iter().enumerate() {
        println!(
            "{}. {}, page {} (score {:.2})\n   {}\n",
            rank + 1,
            passage.file_name,
            passage.page,
            passage.score,
            askdocs_shared::model::text::shorten(&passage.text, 300)
        );
    }
    Ok(())
}

/// The passages as `search --json` prints them.
pub fn passages_json(passages: &[askdocs_shared::query::Retrieved]) -> Vec<serde_json::Value> {
    passages
        .iter()
        .map(|passage| {
            json!({
                "documentId": passage.document_id,
                "fileName": passage.file_name,
                "page": passage.page,
                "ordinal": passage.ordinal,
                "score": passage.score,
                "text": passage.text,
            })
        })
        .collect()
}
