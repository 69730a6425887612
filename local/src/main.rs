//! `askdocs`: every askdocs function on one machine — on the embedded
//! backends by default, or on AWS (or an emulator) with `ASKDOCS_BACKEND=aws`.

mod ask;
mod bench;
mod bench_stream;
mod bootstrap;
mod guard;
mod ingest;
mod model;
mod objects;
mod queue;
mod search;
mod serve;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use askdocs_shared::config::{Config, EmbedderChoice, LogSettings};
use askdocs_shared::logging;
use askdocs_shared::processing::sandbox::run_worker_if_requested;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "askdocs",
    version,
    about = "Ask questions of your documents, answered with citations — all on this machine.",
    long_about = "askdocs runs the same handlers as the AWS Lambda functions, on embedded \
                  backends: files, SQLite and an in-process index under one data directory \
                  (./.askdocs unless --data-dir or ASKDOCS_DATA_DIR says otherwise). With \
                  ASKDOCS_BACKEND=aws it runs them on AWS (or an emulator) instead.\n\n\
                  The first command that needs the embedding model fetches it (84 MB, once) \
                  into ~/.cache/askdocs/.",
    after_help = "Examples:\n  \
                  askdocs serve                       web page and API on http://127.0.0.1:3000\n  \
                  askdocs ingest ~/Documents/manuals  upload and process a folder\n  \
                  askdocs ask \"How do I reset the pump?\"\n  \
                  askdocs search \"reset pump\" --top-k 5\n\n\
                  Configuration is read from ASKDOCS_* variables; see the README."
)]
struct Cli {
    /// Where everything is kept (overrides ASKDOCS_DATA_DIR; default ./.askdocs).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web page and the whole HTTP API (auth, documents, query) on one port.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (0 picks a free one; the address is printed).
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
    /// Upload and process files and folders (PDF, DOCX, TXT, MD, HTML, CSV; PNG, JPEG, TIFF read by OCR) for the local user.
    Ingest {
        /// Files or folders; folders are searched recursively.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The account to ingest for: an address at .localhost is made if missing;
        /// any other must be registered already.
        #[arg(long, env = "ASKDOCS_LOCAL_USER", default_value = DEFAULT_LOCAL_USER)]
        email: String,
    },
    /// Ask a question of the local user's documents; prints the answer and its sources.
    Ask {
        question: String,
        /// How many passages to answer from (1-20).
        #[arg(long)]
        top_k: Option<i64>,
        /// Only these documents (repeat for several).
        #[arg(long = "document", value_name = "DOCUMENT_ID")]
        documents: Vec<String>,
        /// Continue a conversation (printed after each answer).
        #[arg(long)]
        conversation: Option<String>,
        /// Print the answer as the API's JSON.
        #[arg(long)]
        json: bool,
        /// The account whose documents to ask.
        #[arg(long, env = "ASKDOCS_LOCAL_USER", default_value = DEFAULT_LOCAL_USER)]
        email: String,
    },
    /// Show the passages a question retrieves, best first, without answering it.
    Search {
        question: String,
        /// How many passages to show.
        #[arg(long, default_value_t = 10)]
        top_k: usize,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
        /// The account whose documents to search.
        #[arg(long, env = "ASKDOCS_LOCAL_USER", default_value = DEFAULT_LOCAL_USER)]
        email: String,
    },
    /// Create the DynamoDB tables, the S3 bucket and the S3 Vectors index that
    /// template.yaml declares, where AWS_ENDPOINT_URL points (idempotent).
    BootstrapAws,
    /// Fetch the embedding model now (otherwise the first command that needs it does).
    FetchModel,
    /// (make eval) Answer and search many questions in one process: one JSON
    /// line in per question ({"question", "topK"}), one out ({"ask", "search"}).
    #[command(hide = true)]
    AskBatch {
        /// How many passages `search` returns per question.
        #[arg(long, default_value_t = 10)]
        search_top_k: usize,
        #[arg(long, env = "ASKDOCS_LOCAL_USER", default_value = DEFAULT_LOCAL_USER)]
        email: String,
    },
    /// (make bench) Time extraction + chunking of files in this process.
    #[command(hide = true)]
    BenchExtract {
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// (make bench) Time streamed answers: first answer byte against the
    /// whole answer, per answerer, over the data directory's documents.
    #[command(hide = true)]
    BenchStream {
        #[arg(long, env = "ASKDOCS_LOCAL_USER", default_value = DEFAULT_LOCAL_USER)]
        email: String,
        /// A file of questions, one per line.
        #[arg(long)]
        questions_file: PathBuf,
        #[arg(long, default_value_t = 600)]
        first_token_ms: u64,
        #[arg(long, default_value_t = 100.0)]
        tokens_per_second: f64,
        #[arg(long, default_value_t = 150)]
        answer_tokens: usize,
    },
    /// (make eval-ocr, make bench) Read files as processing does — the
    /// sandboxed worker, OCR included — and print each page's text as JSON.
    #[command(hide = true)]
    ExtractPages {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// (make bench) Time the local embedding model.
    #[command(hide = true)]
    BenchEmbed {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 32)]
        batch: usize,
        #[arg(long, default_value_t = 512)]
        passages: usize,
        #[arg(long)]
        passages_file: PathBuf,
        #[arg(long)]
        queries_file: PathBuf,
    },
}

/// The account the command works as when none is named.
const DEFAULT_LOCAL_USER: &str = "local@askdocs.localhost";

fn main() -> ExitCode {
    // Started as the extract worker: parse one file in this process and exit.
    run_worker_if_requested();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("askdocs: error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            // One line a person can act on; RUST_BACKTRACE=1 for the trace.
            eprintln!("askdocs: error: {error:#}");
            if std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0") {
                eprintln!("{}", error.backtrace());
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = local_config(cli.data_dir.as_deref())?;
    // A server logs every request; a one-off command only says what went wrong.
    let quiet =
        !matches!(cli.command, Command::Serve { .. }) && std::env::var_os("RUST_LOG").is_none();
    let log = LogSettings {
        filter: if quiet {
            "warn".into()
        } else {
            config.log.filter.clone()
        },
        ..config.log.clone()
    };
    logging::init(&log);
    let needs_model = !matches!(cli.command, Command::BenchExtract { .. });
    if needs_model && config.models.embedder == EmbedderChoice::MiniLm {
        model::ensure(&config.models.model_dir)?;
    }
    match cli.command {
        Command::Serve { host, port } => serve::run(&config, &host, port).await?,
        Command::Ask {
            question,
            top_k,
            documents,
            conversation,
            json,
            email,
        } => {
            let options = ask::AskOptions {
                email,
                question,
                top_k,
                document_ids: documents,
                conversation_id: conversation,
                json,
            };
            ask::run(&config, options).await?
        }
        Command::Search {
            question,
            top_k,
            json,
            email,
        } => search::run(&config, &email, &question, top_k, json).await?,
        Command::AskBatch {
            search_top_k,
            email,
        } => ask::batch(&config, &email, search_top_k).await?,
        Command::Ingest { paths, email } => {
            if !ingest::run(&config, &email, &paths).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::BootstrapAws => bootstrap::run(&config).await?,
        Command::FetchModel => println!(
            "the embedding model is in {}",
            config.models.model_dir.display()
        ),
        Command::BenchExtract { files, .. } => bench::extract_files(&files)?,
        Command::ExtractPages { files } => bench::extract_pages(&config, &files).await?,
        Command::BenchStream {
            email,
            questions_file,
            first_token_ms,
            tokens_per_second,
            answer_tokens,
        } => {
            let questions: Vec<String> = std::fs::read_to_string(&questions_file)?
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_string)
                .collect();
            anyhow::ensure!(
                !questions.is_empty(),
                "no questions in {}",
                questions_file.display()
            );
            bench_stream::run(
                &config,
                bench_stream::StreamBench {
                    email,
                    questions,
                    pacing: bench_stream::Pacing {
                        first_token: std::time::Duration::from_millis(first_token_ms),
                        tokens_per_second,
                        answer_tokens,
                    },
                },
            )
            .await?
        }
        Command::BenchEmbed {
            batch,
            passages,
            passages_file,
            queries_file,
            ..
        } => bench::embed(bench::EmbedBench {
            model_dir: config.models.model_dir.clone(),
            batch,
            passages,
            passages_file,
            queries_file,
        })?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The environment's settings, with `--data-dir` over ASKDOCS_DATA_DIR.
fn local_config(data_dir: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let data_dir = data_dir.map(|dir| dir.display().to_string());
    Ok(Config::from_lookup(|name| match name {
        "ASKDOCS_DATA_DIR" if data_dir.is_some() => data_dir.clone(),
        _ => std::env::var(name).ok(),
    })?)
}
