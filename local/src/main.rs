//! `askdocs`: every askdocs function on one machine, on embedded backends.

mod ask;
mod ingest;
mod serve;

use std::path::PathBuf;

use askdocs_shared::config::Config;
use askdocs_shared::logging;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "askdocs",
    version,
    about = "Ask questions of your documents, answered with citations — all on this machine.",
    long_about = "askdocs runs the same handlers as the AWS Lambda functions, on embedded \
                  backends: files, SQLite and an in-process index under one data directory."
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
    /// Serve the whole HTTP API (auth, documents, query) on one port.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (0 picks a free one; the address is printed).
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
    /// Upload and process files and folders (PDF, DOCX, TXT, MD, HTML, CSV) for the local user.
    Ingest {
        /// Files or folders; folders are searched recursively.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// The account to ingest for (made if missing; register it through the API to log in as it).
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
        /// The account whose documents to ask.
        #[arg(long, env = "ASKDOCS_LOCAL_USER", default_value = DEFAULT_LOCAL_USER)]
        email: String,
    },
}

/// The account the command works as when none is named.
const DEFAULT_LOCAL_USER: &str = "local@askdocs.localhost";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = local_config(cli.data_dir.as_deref())?;
    // A server logs every request; a one-off command only says what went wrong.
    let quiet =
        !matches!(cli.command, Command::Serve { .. }) && std::env::var_os("RUST_LOG").is_none();
    logging::init(
        config.log_format,
        if quiet { "warn" } else { &config.log_filter },
    );
    match cli.command {
        Command::Serve { host, port } => serve::run(&config, &host, port).await,
        Command::Ask {
            question,
            top_k,
            documents,
            conversation,
            email,
        } => ask::run(&config, &email, question, top_k, documents, conversation).await,
        Command::Ingest { paths, email } => {
            if !ingest::run(&config, &email, &paths).await? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// The environment's settings, always on the embedded backend.
fn local_config(data_dir: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let data_dir = data_dir.map(|dir| dir.display().to_string());
    Ok(Config::from_lookup(|name| match name {
        "ASKDOCS_BACKEND" => Some("embedded".into()),
        "ASKDOCS_DATA_DIR" if data_dir.is_some() => data_dir.clone(),
        _ => std::env::var(name).ok(),
    })?)
}
