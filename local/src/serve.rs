//! `askdocs serve`: the four functions on one port, with uploads processed in
//! the background exactly as S3 notifications trigger processing in AWS.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use askdocs_processing::{object_created_event, ProcessingState};
use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;
use askdocs_shared::embedded::{object_routes, ObjectCreated};
use askdocs_shared::http::finish;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::sync::mpsc::UnboundedReceiver;

/// Lambda retries a failed asynchronous invocation twice; so does the local server.
const ATTEMPTS: u32 = 3;

pub async fn run(config: &Config, host: &str, port: u16) -> anyhow::Result<()> {
    let backends = Backends::connect(config).await?;
    let processing = ProcessingState::new(&backends)?;
    let objects = backends
        .local_objects()
        .context("askdocs serve runs on the embedded backend")?;
    let max_upload = config.documents.max_upload_bytes as usize;
    let app = finish(
        Router::new()
            .merge(askdocs_auth::routes(askdocs_auth::AuthState::new(
                &backends,
            )?))
            .merge(askdocs_document::routes(
                askdocs_document::DocumentState::new(&backends)?,
            ))
            .merge(askdocs_query::routes(askdocs_query::QueryState::new(
                &backends,
            )?))
            .merge(object_routes(objects.clone()).layer(DefaultBodyLimit::max(max_upload))),
    );

    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("listening on {host}:{port}"))?;
    let address = listener.local_addr()?;
    let local_url = format!("http://{address}");
    objects.set_public_url(config.public_url.as_deref().unwrap_or(&local_url));

    // Documents this server was processing when it last stopped are processed
    // again, as Lambda would retry them.
    let interrupted = processing.processor.recover_interrupted(true).await?;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    for (key, size) in interrupted {
        let _ = sender.send(ObjectCreated { key, size });
    }
    objects.subscribe(sender);
    tokio::spawn(process_uploads(receiver, processing));

    // Printed on stdout (logs go to stderr) so scripts and tests can read it.
    println!("askdocs listening on {local_url}");
    if let Some(data_dir) = config.data_dir() {
        println!("data directory: {}", data_dir.display());
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")
}

/// For every stored object, runs the processing handler with a real S3 event.
async fn process_uploads(mut created: UnboundedReceiver<ObjectCreated>, state: ProcessingState) {
    let state = Arc::new(state);
    // One document at a time per core: each run holds its whole file and keeps
    // a core busy embedding, so more at once only costs memory.
    let slots = Arc::new(tokio::sync::Semaphore::new(
        std::thread::available_parallelism().map_or(1, |cores| cores.get()),
    ));
    while let Some(object) = created.recv().await {
        let state = state.clone();
        let slots = slots.clone();
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire().await else {
                return;
            };
            for attempt in 1..=ATTEMPTS {
                let event = object_created_event(&object.key, object.size);
                match askdocs_processing::handle(&state, event).await {
                    Ok(_) => return,
                    Err(error) if attempt < ATTEMPTS => {
                        tracing::warn!(key = object.key, attempt, error = %error, "processing will be retried");
                        tokio::time::sleep(Duration::from_secs(attempt as u64 * 2)).await;
                    }
                    Err(error) => {
                        tracing::error!(key = object.key, error = %error, "processing failed after retries")
                    }
                }
            }
        });
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
