//! `askdocs ask "question"`: the query function's answer, in the terminal.

use askdocs_query::AskResponse;
use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;
use askdocs_shared::ports::AnswerText;
use askdocs_shared::query::citations::cited_passages;
use askdocs_shared::query::Question;
use std::io::Write as _;

pub struct AskOptions {
    pub email: String,
    pub question: String,
    pub top_k: Option<i64>,
    pub document_ids: Vec<String>,
    pub conversation_id: Option<String>,
    /// Print the API's JSON answer instead of text.
    pub json: bool,
}

pub async fn run(config: &Config, options: AskOptions) -> anyhow::Result<()> {
    let backends = Backends::connect(config).await?;
    let user = backends.accounts()?.local_user(&options.email).await?;
    let question = Question {
        question: options.question,
        document_ids: (!options.document_ids.is_empty()).then_some(options.document_ids),
        top_k: options.top_k,
        conversation_id: options.conversation_id,
        time_budget: None,
    };
    let public = |error: askdocs_shared::Error| anyhow::anyhow!(error.public_message());
    let asker = backends.asker()?;
    let prepared = asker
        .prepare(&user.user_id, question)
        .await
        .map_err(public)?;
    if options.json {
        let answer = asker.answer(prepared, None).await.map_err(public)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&AskResponse::from(answer))?
        );
        return Ok(());
    }
    // The answer is printed as it is written; `[n]` in it numbers the
    // passages retrieved, and the sources keep those numbers.
    let retrieved = prepared.sources().len();
    let (written, mut pieces) = AnswerText::channel();
    let answering = async move {
        // `written` goes when the answer ends: then the printing ends too.
        asker.answer(prepared, Some(&written)).await
    };
    let printing = async {
        let mut streamed = String::new();
        let mut out = std::io::stdout().lock();
        while let Some(piece) = pieces.recv().await {
            streamed.push_str(&piece);
            write!(out, "{piece}")?;
            out.flush()?;
        }
        writeln!(out)?;
        anyhow::Ok(streamed)
    };
    let (answer, streamed) = tokio::join!(answering, printing);
    // A closed stdout first: the answer then failed only because nobody read it.
    let streamed = streamed?;
    let answer = answer.map_err(|error| {
        if error.code() == "content_filtered" {
            anyhow::anyhow!(
                "{} (the words printed above are withdrawn)",
                error.public_message()
            )
        } else {
            public(error)
        }
    })?;
    let numbers = cited_passages(&streamed, retrieved);
    if !answer.citations.is_empty() {
        println!("\nSources:");
        // The citations are the cited passages in the order the answer first names them.
        for (number, citation) in numbers.iter().zip(&answer.citations) {
            println!(
                "  [{number}] {}, page {} (score {:.2})\n      \"{}\"",
                citation.file_name, citation.page, citation.score, citation.snippet
            );
        }
    }
    println!(
        "\nconversation {} · {}",
        answer.conversation_id, answer.model
    );
    Ok(())
}

/// `askdocs ask-batch`: every question of stdin (one JSON object a line,
/// `{"question": …, "topK": …}`) answered and searched by one process, with
/// the model loaded once; one JSON line out each, `{"ask": …, "search": …}`
/// or `{"error": …}`. What `make eval` runs.
pub async fn batch(config: &Config, email: &str, search_top_k: usize) -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let backends = Backends::connect(config).await?;
    let user = backends.accounts()?.local_user(email).await?;
    let asker = backends.asker()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let request: serde_json::Value = serde_json::from_str(&line)?;
        let text = request["question"].as_str().unwrap_or_default().to_string();
        let question = Question {
            question: text.clone(),
            top_k: request["topK"].as_i64(),
            ..Question::default()
        };
        let out = match asker.ask(&user.user_id, question).await {
            Ok(answer) => {
                let passages = asker
                    .search(&user.user_id, &text, search_top_k)
                    .await
                    .map_err(|error| anyhow::anyhow!(error.public_message()))?;
                serde_json::json!({
                    "ask": AskResponse::from(answer),
                    "search": {"passages": crate::search::passages_json(&passages)},
                })
            }
            Err(error) => serde_json::json!({"error": error.public_message()}),
        };
        println!("{out}");
    }
    Ok(())
}
