//! `askdocs ingest PATH…`: upload files and folders for the local user and
//! process them with the same handler an S3 upload triggers in AWS.

use std::path::{Path, PathBuf};

use askdocs_processing::{object_created_event, ProcessingState};

use crate::queue::LOCAL_BUCKET;
use askdocs_shared::backends::Backends;
use askdocs_shared::config::Config;
use askdocs_shared::model::DocumentStatus;
use askdocs_shared::model::Format;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Default)]
struct Summary {
    files: usize,
    pages: u64,
    chunks: u64,
    failures: Vec<(PathBuf, String)>,
    skipped: Vec<PathBuf>,
}

pub async fn run(config: &Config, email: &str, paths: &[PathBuf]) -> anyhow::Result<bool> {
    let (files, skipped) = collect_files(paths)?;
    let backends = Backends::connect(config).await?;
    let user = backends.accounts()?.local_user(email).await?;
    let documents = backends.documents()?;
    let store = backends.document_store();
    let processing = ProcessingState::new(&backends)?;
    let limit = config.documents.max_upload_bytes;

    let started = std::time::Instant::now();
    let progress = ProgressBar::new(files.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut summary = Summary {
        skipped,
        ..Summary::default()
    };
    for path in &files {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        progress.set_message(format!(
            "{} · {}",
            passage_rate(summary.chunks, started.elapsed()),
            name
        ));
        match ingest_one(&documents, &processing, &user.user_id, path, &name, limit).await {
            Ok(document_id) => match store.get(&user.user_id, &document_id).await? {
                Some(document) if document.status == DocumentStatus::Ready => {
                    summary.files += 1;
                    summary.pages += u64::from(document.pages.unwrap_or(0));
                    summary.chunks += u64::from(document.chunks.unwrap_or(0));
                }
                Some(document) => summary.failures.push((
                    path.clone(),
                    document
                        .status_reason
                        .unwrap_or_else(|| document.status.as_str().to_string()),
                )),
                None => summary
                    .failures
                    .push((path.clone(), "the document vanished".into())),
            },
            Err(reason) => summary.failures.push((path.clone(), reason)),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed();

    println!(
        "Ingested {} file{} for {}: {} pages, {} chunks in {:.1} s ({:.1} documents/min, {}).",
        summary.files,
        if summary.files == 1 { "" } else { "s" },
        user.email,
        summary.pages,
        summary.chunks,
        elapsed.as_secs_f64(),
        summary.files as f64 * 60.0 / elapsed.as_secs_f64().max(1e-3),
        passage_rate(summary.chunks, elapsed)
    );
    if !summary.failures.is_empty() {
        println!("{} failed:", summary.failures.len());
        for (path, reason) in &summary.failures {
            println!("  {}: {reason}", path.display());
        }
    }
    if !summary.skipped.is_empty() {
        println!(
            "{} skipped (not PDF, DOCX, TXT, Markdown, HTML, CSV, PNG, JPEG or TIFF): {}",
            summary.skipped.len(),
            summary
                .skipped
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(summary.failures.is_empty())
}

/// Passages indexed per second so far: extraction, embedding and indexing together.
fn passage_rate(passages: u64, elapsed: std::time::Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if passages == 0 || seconds <= 0.0 {
        return "– passages/s".to_string();
    }
    format!("{:.1} passages/s", passages as f64 / seconds)
}

/// Uploads and processes one file; the error is a reason for the summary.
async fn ingest_one(
    documents: &askdocs_shared::documents::Documents,
    processing: &ProcessingState,
    user_id: &askdocs_shared::model::UserId,
    path: &Path,
    name: &str,
    limit: u64,
) -> Result<askdocs_shared::model::DocumentId, String> {
    let size = std::fs::metadata(path)
        .map_err(|error| format!("cannot read it: {error}"))?
        .len();
    if size > limit {
        return Err(format!(
            "the file is larger than {} MB",
            limit / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read it: {error}"))?;
    let document = documents
        .upload(user_id, name, None, bytes, limit)
        .await
        .map_err(|error| error.public_message())?;
    let event = object_created_event(LOCAL_BUCKET, &document.key, size);
    askdocs_processing::handle(processing, event)
        .await
        .map_err(|error| error.public_message())?;
    Ok(document.document_id)
}

/// The supported files under `paths` (folders are walked), and the rest.
fn collect_files(paths: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for path in paths {
        anyhow::ensure!(path.exists(), "{} does not exist", path.display());
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry?;
            if !entry.file_type().is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if Format::from_file_name(&name).is_some() {
                files.push(entry.into_path());
            } else {
                skipped.push(entry.into_path());
            }
        }
    }
    Ok((files, skipped))
}
