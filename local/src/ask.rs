//! `askdocs ask "question"`: the query function's answer, in the terminal.

use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;
use askdocs_shared::retrieve::AskRequest;

pub async fn run(
    config: &Config,
    email: &str,
    question: String,
    top_k: Option<i64>,
    document_ids: Vec<String>,
    conversation_id: Option<String>,
) -> anyhow::Result<()> {
    let backends = Backends::connect(config).await?;
    let user = backends.accounts()?.local_user(email).await?;
    let request = AskRequest {
        question,
        document_ids: (!document_ids.is_empty()).then_some(document_ids),
        top_k,
        conversation_id,
    };
    let answer = backends
        .asker()?
        .ask(&user.user_id, request)
        .await
        .map_err(|error| anyhow::anyhow!(error.public_message()))?;

    println!("{}", answer.answer);
    if !answer.citations.is_empty() {
        println!("\nSources:");
        for (number, citation) in answer.citations.iter().enumerate() {
            println!(
                "  [{}] {}, page {} (score {:.2})\n      \"{}\"",
                number + 1,
                citation.file_name,
                citation.page,
                citation.score,
                citation.snippet
            );
        }
    }
    println!(
        "\nconversation {} · {}",
        answer.conversation_id, answer.model
    );
    Ok(())
}
