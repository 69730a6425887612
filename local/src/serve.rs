//! `askdocs serve`: the functions' routers on one port, with the web page,
//! the local object routes, and uploads processed in the background exactly
//! as S3 notifications trigger processing in AWS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use askdocs_processing::ProcessingState;
use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;
use askdocs_shared::embedded::ObjectCreated;
use askdocs_shared::http::finish;
use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt as _;
use axum::Router;

use crate::guard::{guard, LocalOrigins};
use crate::objects::{self, ObjectRoutesState};
use crate::queue::{Job, ProcessingQueue};

/// How long a stopping server lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How often a running server fails uploads that never arrived.
const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);
/// Later than any timestamp: at start-up every run still `processing` died with the last server.
const EVERY_RUN: &str = "9999-12-31T23:59:59.999Z";

/// For `tap_io` on a listener: TCP_NODELAY on each connection. Streamed
/// answers are many small writes, sent at once rather than held back for the
/// client's delayed acknowledgement (Nagle's algorithm, ~40 ms each).
pub fn without_delay(connection: &mut tokio::net::TcpStream) {
    if let Err(error) = connection.set_nodelay(true) {
        tracing::warn!(%error, "TCP_NODELAY could not be set");
    }
}

pub async fn run(config: &Config, host: &str, port: u16) -> anyhow::Result<()> {
    let backends = Backends::connect(config).await?;
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("listening on {host}:{port}"))?;
    let address = listener.local_addr()?;
    let local_url = format!("http://{address}");
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| local_url.clone());

    let mut routes = Router::new()
        .merge(crate::web::routes(
            backends.authenticator()?.federation().cloned(),
        ))
        .merge(askdocs_auth::routes(askdocs_auth::AuthState::new(
            &backends,
        )?))
        .merge(askdocs_document::routes(
            askdocs_document::DocumentState::new(&backends)?,
        ))
        .merge(askdocs_query::routes(askdocs_query::QueryState::new(
            &backends,
        )?));
    let queue = ProcessingQueue::default();
    if let Some(objects) = backends.local_objects() {
        objects.set_public_url(&public_url);
        let state = ObjectRoutesState {
            objects: objects.clone(),
            documents: backends.document_store(),
        };
        let max_upload = config.documents.max_upload_bytes as usize;
        routes = routes.merge(objects::routes(state).layer(DefaultBodyLimit::max(max_upload)));
        start_processing(&backends, &queue, objects).await?;
    } else {
        tracing::info!(
            "AWS backend: uploads go to S3 and are processed by the processing function"
        );
    }
    let origins = Arc::new(LocalOrigins::new(address, config.public_url.as_deref()));
    let app = finish(routes, None).layer(axum::middleware::from_fn(move |request, next| {
        guard(origins.clone(), request, next)
    }));

    // Printed on stdout (logs go to stderr) so scripts and tests can read it.
    println!("askdocs listening on {local_url}");
    println!("open {public_url} in a browser to use it");
    if let Some(data_dir) = config.data_dir() {
        println!("data directory: {}", data_dir.display());
    }
    let (stop, mut stopping) = tokio::sync::watch::channel(false);
    let running = backends.running().clone();
    tokio::spawn(async move {
        // Once a stop is asked for, requests in flight get a moment; then
        // whatever still runs — a parser child, an embedding — is stopped and
        // the process ends. The next start recovers documents left `processing`.
        let _ = stopping.wait_for(|stop| *stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        running.cancel_all();
        tokio::time::sleep(Duration::from_millis(500)).await;
        std::process::exit(0);
    });
    let listener = listener.tap_io(without_delay);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    })
    .await
    .context("serving HTTP");
    backends.running().cancel_all();
    // Blocking work (an embedding batch) cannot be interrupted; don't wait for it.
    std::process::exit(if served.is_ok() { 0 } else { 1 })
}

/// Recovers runs the last server left behind, then processes every stored
/// object from now on, and fails uploads that never arrive.
async fn start_processing(
    backends: &Backends,
    queue: &ProcessingQueue,
    objects: Arc<askdocs_shared::embedded::FsObjectStore>,
) -> anyhow::Result<()> {
    let state = ProcessingState::new(backends)?;
    let recovered = state.processor.recover_interrupted(EVERY_RUN).await?;
    if recovered.failed > 0 {
        tracing::warn!(
            documents = recovered.failed,
            "documents whose processing stopped twice were failed"
        );
    }
    for document in recovered.retry {
        queue.push(Job::from(document));
    }
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<ObjectCreated>();
    objects.subscribe(sender);
    let uploads = queue.clone();
    tokio::spawn(async move {
        while let Some(created) = receiver.recv().await {
            uploads.push(Job {
                key: created.key,
                size: created.size,
            });
        }
    });
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    tokio::spawn(queue.clone().run(state.clone(), cores));
    let sweeps = queue.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            match state.processor.fail_abandoned_uploads().await {
                Ok(swept) => swept
                    .retry
                    .into_iter()
                    .for_each(|document| sweeps.push(Job::from(document))),
                Err(error) => tracing::warn!(error = %error, "sweeping abandoned uploads failed"),
            }
        }
    });
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
