//! `askdocs bench-stream` (make bench): how soon the first words of a
//! streamed answer reach the client, against the whole answer, for each
//! answerer, and what streaming costs the query path.
//!
//! The query function's router is served on loopback over the data
//! directory's documents (ingested beforehand, untimed). Claude is the real
//! Bedrock adapter (ConverseStream through the SDK) talking to a stand-in
//! that paces its event stream like Claude Haiku on Bedrock; the
//! OpenAI-compatible adapter talks to a stand-in paced the same way; the
//! extractive answerer runs as it is. Each question is asked as events (time
//! to the first `answer` event's byte, time to the end) and as JSON (time to
//! the end), over HTTP from this process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use askdocs_query::{app, QueryState};
use askdocs_shared::aws::{event_stream_frame, AwsClients};
use askdocs_shared::backends::Backends;
use askdocs_shared::config::{Config, TlsRoots};
use askdocs_shared::embedded::openai_chat::ChatEndpoint;
use askdocs_shared::embedded::OpenAiChatGenerator;
use askdocs_shared::model::events::parse_events;
use askdocs_shared::ports::Generator;
use askdocs_shared::query::Asker;
use axum::body::{Body, Bytes};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::serve::ListenerExt as _;
use axum::Router;
use serde_json::{json, Value};

/// How a stand-in model writes: Claude Haiku 4.5 on Bedrock starts after
/// ~0.5-0.8 s and then writes ~100 tokens a second, a token or two per
/// event; an answer from five passages runs to ~150 tokens.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub first_token: Duration,
    pub tokens_per_second: f64,
    pub answer_tokens: usize,
}

pub struct StreamBench {
    pub email: String,
    pub questions: Vec<String>,
    pub pacing: Pacing,
}

/// ~4 characters a token; the answer cites passage 1 so it stays an answer.
fn paced_pieces(pacing: Pacing) -> Vec<String> {
    let words = [
        "The",
        " passage",
        " says",
        " that",
        " the",
        " setting",
        " is",
        " read",
        " from",
        " the",
        " configuration",
        " file",
        " when",
        " the",
        " program",
        " starts",
    ];
    let mut pieces: Vec<String> = (0..pacing.answer_tokens.saturating_sub(1))
        .map(|index| words[index % words.len()].to_string())
        .collect();
    pieces.push(" [1].".to_string());
    pieces
}

fn frame(kind: &str, payload: Value) -> Bytes {
    event_stream_frame("event", kind, &payload).into()
}

/// `first` at once, the answer's pieces at the model's pace, then `last`.
fn paced<T>(pacing: Pacing, first: T, piece: impl Fn(&str) -> T, last: Vec<T>) -> Body
where
    Bytes: From<T>,
{
    // Each piece at its time from the start, so timer slack does not add up.
    let started = tokio::time::Instant::now();
    let mut items = vec![(Duration::ZERO, Bytes::from(first))];
    let pieces = paced_pieces(pacing);
    let count = pieces.len();
    for (index, text) in pieces.iter().enumerate() {
        items.push((written_by(pacing, index), Bytes::from(piece(text))));
    }
    let end = written_by(pacing, count - 1);
    items.extend(last.into_iter().map(|item| (end, Bytes::from(item))));
    Body::from_stream(futures::stream::unfold(
        items.into_iter(),
        move |mut items| async move {
            let (at, item) = items.next()?;
            tokio::time::sleep_until(started + at).await;
            Some((Ok::<_, std::convert::Infallible>(item), items))
        },
    ))
}

/// When the model has written the piece `index` (from 0).
fn written_by(pacing: Pacing, index: usize) -> Duration {
    pacing.first_token + Duration::from_secs_f64(index as f64 / pacing.tokens_per_second)
}

/// Bedrock's ConverseStream and an OpenAI-compatible chat server, both paced.
async fn stand_in(pacing: Pacing) -> anyhow::Result<String> {
    let converse_stream = move || async move {
        let body = paced(
            pacing,
            frame("messageStart", json!({"role": "assistant"})),
            |text| {
                frame(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": 0, "delta": {"text": text}}),
                )
            },
            vec![
                frame("contentBlockStop", json!({"contentBlockIndex": 0})),
                frame("messageStop", json!({"stopReason": "end_turn"})),
                frame(
                    "metadata",
                    json!({"usage": {"inputTokens": 1500, "outputTokens": pacing.answer_tokens,
                           "totalTokens": 1500 + pacing.answer_tokens}, "metrics": {"latencyMs": 0}}),
                ),
            ],
        );
        (
            [("content-type", "application/vnd.amazon.eventstream")],
            body,
        )
            .into_response()
    };
    let chat_stream = move || async move {
        let chunk = |text: &str| {
            let chunk = json!({"object": "chat.completion.chunk", "model": "paced-chat",
                               "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
            format!("data: {chunk}\n\n")
        };
        let body = paced(
            pacing,
            ": paced\n\n".to_string(),
            chunk,
            vec!["data: [DONE]\n\n".to_string()],
        );
        ([("content-type", "text/event-stream")], body).into_response()
    };
    // Asked for JSON, the same model answers once it has written it all.
    let whole_answer = move || async move {
        let pieces = paced_pieces(pacing);
        tokio::time::sleep(written_by(pacing, pieces.len() - 1)).await;
        pieces.concat()
    };
    let converse = move || async move {
        let answer = whole_answer().await;
        axum::Json(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 1500, "outputTokens": pacing.answer_tokens,
                      "totalTokens": 1500 + pacing.answer_tokens},
            "metrics": {"latencyMs": 0}
        }))
    };
    let chat = move |axum::Json(request): axum::Json<Value>| async move {
        if request["stream"] == true {
            return chat_stream().await;
        }
        let answer = whole_answer().await;
        axum::Json(json!({"object": "chat.completion", "model": "paced-chat",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                         "finish_reason": "stop"}]}))
        .into_response()
    };
    let router = Router::new()
        .route("/model/{model}/converse", post(converse))
        .route("/model/{model}/converse-stream", post(converse_stream))
        .route("/v1/chat/completions", post(chat));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{address}"))
}

/// The query function's router, answering with `generator`, on loopback.
async fn query_server(
    backends: &Backends,
    generator: Arc<dyn Generator>,
) -> anyhow::Result<String> {
    let state = QueryState {
        asker: Arc::new(Asker::new(
            backends.document_store(),
            backends.vector_index()?,
            backends.embedder()?,
            generator,
            backends.history_store(),
            backends.config().retrieval,
        )),
        authenticator: backends.authenticator()?,
        cors_origin: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    // As `askdocs serve`: each event is sent as it is written.
    let listener = listener.tap_io(crate::serve::without_delay);
    let router = app(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("http://{address}"))
}

/// One streamed ask: ms to the first byte of the first `answer` event, ms
/// to the end, and the `done` event's server timing.
struct Streamed {
    first_answer_byte: f64,
    whole: f64,
    overhead: Option<f64>,
}

fn milliseconds(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn overhead_of(server_timing: &str) -> Option<f64> {
    server_timing.split(',').find_map(|entry| {
        entry
            .trim()
            .strip_prefix("overhead;dur=")
            .and_then(|value| value.parse().ok())
    })
}

/// `POST /query/ask` of `question`, answered as `accept`; anything but a 200 is an error.
async fn post_ask(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    question: &str,
    accept: &str,
) -> anyhow::Result<reqwest::Response> {
    let response = client
        .post(format!("{url}/query/ask"))
        .bearer_auth(token)
        .header("accept", accept)
        .json(&json!({ "question": question }))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 200,
        "ask answered {}",
        response.status()
    );
    Ok(response)
}

async fn ask_streamed(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    question: &str,
) -> anyhow::Result<Streamed> {
    let asked = Instant::now();
    let mut response = post_ask(client, url, token, question, "text/event-stream").await?;
    let mut body = String::new();
    let mut first_answer_byte = None;
    while let Some(chunk) = response.chunk().await? {
        body.push_str(std::str::from_utf8(&chunk)?);
        if first_answer_byte.is_none() && body.contains("event: answer") {
            first_answer_byte = Some(milliseconds(asked));
        }
    }
    let whole = milliseconds(asked);
    let (_, done) = parse_events(&body)
        .into_iter()
        .find(|(name, _)| name == "done")
        .ok_or_else(|| anyhow::anyhow!("the stream ended without `done`: {body}"))?;
    let done: Value = serde_json::from_str(&done)?;
    Ok(Streamed {
        first_answer_byte: first_answer_byte
            .ok_or_else(|| anyhow::anyhow!("no answer event: {body}"))?,
        whole,
        overhead: done["serverTiming"].as_str().and_then(overhead_of),
    })
}

/// One JSON ask: ms to the end, and the Server-Timing overhead.
async fn ask_json(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    question: &str,
) -> anyhow::Result<(f64, Option<f64>)> {
    let asked = Instant::now();
    let response = post_ask(client, url, token, question, "application/json").await?;
    let overhead = response
        .headers()
        .get("server-timing")
        .and_then(|value| value.to_str().ok())
        .and_then(overhead_of);
    response.bytes().await?;
    Ok((milliseconds(asked), overhead))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        count if count % 2 == 1 => values[count / 2],
        count => (values[count / 2 - 1] + values[count / 2]) / 2.0,
    }
}

/// Prints `{"title", "note", "rows"}` for bench/report.py.
pub async fn run(config: &Config, bench: StreamBench) -> anyhow::Result<()> {
    const FIRST_BYTE_GOAL_MS: f64 = 1000.0;
    const ADDED_OVERHEAD_GOAL_MS: f64 = 1.0;
    let backends = Backends::connect(config).await?;
    let profile = backends.accounts()?.local_user(&bench.email).await?;
    let user = backends
        .user_store()
        .get(&profile.user_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no local user"))?;
    let token = backends.authenticator()?.issue(&user).await?.token;
    let stand_in = stand_in(bench.pacing).await?;
    let claude: Arc<dyn Generator> = Arc::new(
        // The environment's credentials (bench/extra-stream.sh sets throwaway
        // ones): the stand-in does not check the signature.
        AwsClients::from_environment(Some(&stand_in), TlsRoots::Amazon).claude_generator(
            &config.models.bedrock.generation_model_id,
            1024,
            0.0,
        ),
    );
    let chat: Arc<dyn Generator> = Arc::new(OpenAiChatGenerator::new(ChatEndpoint {
        base_url: format!("{stand_in}/v1"),
        model: "paced-chat".into(),
        api_key: None,
        max_tokens: 1024,
        temperature: 0.0,
    })?);
    let client = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (key, label, generator) in [
        ("bedrock", "Claude (ConverseStream, paced stand-in)", claude),
        (
            "openai",
            "OpenAI-compatible server (stream: true, paced stand-in)",
            chat,
        ),
        ("extractive", "extractive answerer", backends.generator()?),
    ] {
        let url = query_server(&backends, generator).await?;
        // One warm-up of each kind.
        ask_streamed(&client, &url, &token, &bench.questions[0]).await?;
        ask_json(&client, &url, &token, &bench.questions[0]).await?;
        let (mut first, mut whole, mut json_whole) = (Vec::new(), Vec::new(), Vec::new());
        let (mut stream_overhead, mut json_overhead) = (Vec::new(), Vec::new());
        for question in &bench.questions {
            let streamed = ask_streamed(&client, &url, &token, question).await?;
            first.push(streamed.first_answer_byte);
            whole.push(streamed.whole);
            stream_overhead.extend(streamed.overhead);
            let (took, overhead) = ask_json(&client, &url, &token, question).await?;
            json_whole.push(took);
            json_overhead.extend(overhead);
        }
        let (first, whole, json_whole) = (
            median(&mut first),
            median(&mut whole),
            median(&mut json_whole),
        );
        let first_row = json!({"key": format!("stream.{key}_first_answer_byte_p50_ms"),
            "what": format!("{label}: first answer byte, p50 (whole answer {whole:.0} ms)"),
            "value": first, "unit": "ms"});
        rows.push(if key == "bedrock" {
            let mut row = first_row;
            row["goal"] = json!(format!("≤ {FIRST_BYTE_GOAL_MS:.0} ms"));
            row["met"] = json!(first <= FIRST_BYTE_GOAL_MS);
            row
        } else {
            first_row
        });
        rows.push(json!({"key": format!("stream.{key}_whole_answer_p50_ms"),
            "what": format!("{label}: whole answer streamed, p50 (as JSON {json_whole:.0} ms)"),
            "value": whole, "unit": "ms"}));
        if key == "extractive" {
            let (stream_overhead, json_overhead) =
                (median(&mut stream_overhead), median(&mut json_overhead));
            let added = stream_overhead - json_overhead;
            rows.push(json!({"key": "stream.added_overhead_p50_ms",
                "what": format!("streaming's cost to the query path's overhead, p50 (streamed {stream_overhead:.2} ms, JSON {json_overhead:.2} ms)"),
                "value": added, "unit": "ms",
                "goal": format!("≤ {ADDED_OVERHEAD_GOAL_MS} ms"), "met": added <= ADDED_OVERHEAD_GOAL_MS}));
        }
        notes.push(format!(
            "{label}: first answer byte {first:.0} ms, whole answer {whole:.0} ms streamed, {json_whole:.0} ms as JSON"
        ));
    }
    let note = format!(
        "{} questions over the data directory's documents, each asked as events and as JSON, one at a time over HTTP \
         on loopback. Stand-ins pace like Claude Haiku on Bedrock: first token after {} ms, then {:.0} tokens/s, \
         {} tokens an answer. {}.",
        bench.questions.len(),
        bench.pacing.first_token.as_millis(),
        bench.pacing.tokens_per_second,
        bench.pacing.answer_tokens,
        notes.join("; ")
    );
    println!(
        "{}",
        json!({"title": "Streaming answers", "note": note, "rows": rows})
    );
    Ok(())
}
