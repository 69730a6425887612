//! Hidden commands `make bench` times (bench/run.sh): extraction + chunking
//! in this process, and embedding with the local model. They print JSON for
//! bench/report.py and are not part of the product's interface.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use askdocs_extract::extract;
use askdocs_shared::config::{ChunkSettings, Config};
use askdocs_shared::embedded::MiniLmEmbedder;
use askdocs_shared::model::Format;
use askdocs_shared::processing::chunk::chunk_pages;
use askdocs_shared::processing::runs::Cancellation;
use askdocs_shared::processing::sandbox::{Sandbox, WorkerProgram};
use serde_json::json;

/// Repeats `work` until at least a second has passed; the median of the runs.
fn median_seconds(mut work: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut times = Vec::new();
    while started.elapsed() < Duration::from_secs(1) || times.len() < 3 {
        let run = Instant::now();
        work();
        times.push(run.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// `askdocs extract-pages FILES…`: each file through the sandboxed worker
/// as processing runs it (OCR included, with this configuration's settings),
/// one JSON line per file: its pages' text, which pages OCR read, the time.
/// Passages are made page-sized (8,000 characters, no overlap) so joining a
/// page's passages gives back its text.
pub async fn extract_pages(config: &Config, files: &[PathBuf]) -> anyhow::Result<()> {
    let processing = config.processing;
    let sandbox = Sandbox::new(
        WorkerProgram::current_exe(),
        processing.extract,
        ChunkSettings {
            max_chars: 8000,
            overlap_chars: 0,
        },
        processing.max_chunks,
        processing.max_upload_bytes,
    )
    .with_ocr(processing.ocr);
    for file in files {
        let name = file.display().to_string();
        let format = Format::from_file_name(&name)
            .ok_or_else(|| anyhow::anyhow!("{name}: not a format askdocs reads"))?;
        let bytes = std::fs::read(file)?;
        let started = Instant::now();
        let parsed = sandbox
            .parse(bytes, format, &Cancellation::never())
            .await
            .map_err(|failure| anyhow::anyhow!("{name}: {failure:?}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let mut texts: std::collections::BTreeMap<u32, String> = Default::default();
        for chunk in &parsed.chunks {
            let text = texts.entry(chunk.page).or_default();
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&chunk.text);
        }
        let line = json!({
            "file": name,
            "format": parsed.format,
            "pages": parsed.pages,
            "ocrPages": parsed.ocr_pages,
            "unreadPages": parsed.unread_pages,
            "seconds": seconds,
            "texts": texts,
        });
        println!("{line}");
    }
    Ok(())
}

/// `askdocs bench-extract --json FILES…`
pub fn extract_files(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for file in files {
        let bytes = std::fs::read(file)?;
        let name = file.display().to_string();
        let format = Format::from_file_name(&name)
            .ok_or_else(|| anyhow::anyhow!("{name}: not a format askdocs reads"))?;
        // In the product a parser panic ends the sandboxed worker and fails the
        // document; here it is reported per file, and the report compares only
        // files askdocs read.
        let attempt = std::panic::catch_unwind(|| extract(&bytes, format));
        let extracted = match attempt {
            Ok(Ok(extracted)) => extracted,
            failed => {
                let error = match failed {
                    Ok(Err(error)) => error.to_string(),
                    _ => "the parser panicked".to_string(),
                };
                results.push(json!({ "file": name, "bytes": bytes.len(), "error": error }));
                continue;
            }
        };
        let chunks = chunk_pages(&extracted.pages, ChunkSettings::default()).len();
        let seconds = median_seconds(|| {
            let extracted = extract(&bytes, format).expect("extracted once already");
            std::hint::black_box(chunk_pages(&extracted.pages, ChunkSettings::default()));
        });
        results.push(json!({
            "file": name,
            "format": format!("{format:?}").to_lowercase().replace("text", "txt").replace("markdown", "md"),
            "bytes": bytes.len(),
            "pages": extracted.pages.len(),
            "chunks": chunks,
            "seconds": seconds,
        }));
    }
    println!("{}", json!({ "files": results }));
    Ok(())
}

fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

pub struct EmbedBench {
    pub model_dir: PathBuf,
    pub batch: usize,
    pub passages: usize,
    pub passages_file: PathBuf,
    pub queries_file: PathBuf,
}

/// `askdocs bench-embed --json …`: passages per second over a batch run, and
/// the latency of one short query.
pub fn embed(bench: EmbedBench) -> anyhow::Result<()> {
    let loading = Instant::now();
    let embedder = MiniLmEmbedder::load(&bench.model_dir)?;
    let load_seconds = loading.elapsed().as_secs_f64();
    let mut passages: Vec<String> = serde_json::from_slice(&std::fs::read(&bench.passages_file)?)?;
    passages.truncate(bench.passages);
    let queries: Vec<String> = serde_json::from_slice(&std::fs::read(&bench.queries_file)?)?;
    anyhow::ensure!(
        !passages.is_empty() && !queries.is_empty(),
        "no passages or queries"
    );

    embedder.embed_blocking(&passages[..bench.batch.min(passages.len())])?;
    let (started, cpu_before) = (Instant::now(), cpu_seconds());
    for batch in passages.chunks(bench.batch.max(1)) {
        embedder.embed_blocking(batch)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;

    for query in queries.iter().cycle().take(5) {
        embedder.embed_blocking(std::slice::from_ref(query))?;
    }
    let mut latencies: Vec<f64> = queries
        .iter()
        .cycle()
        .take(50)
        .map(|query| {
            let started = Instant::now();
            embedder
                .embed_blocking(std::slice::from_ref(query))
                .map(|_| started.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<anyhow::Result<_>>()?;
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "{}",
        json!({
            "passages": passages.len(),
            "batch": bench.batch,
            "seconds": seconds,
            "passages_per_second": passages.len() as f64 / seconds,
            "cpu_seconds": cpu,
            "cores_busy": cpu / seconds,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "mean_tokens": embedder.mean_tokens(&passages),
            "query_p50_ms": percentile(0.5),
            "query_p90_ms": percentile(0.9),
            "load_seconds": load_seconds,
        })
    );
    Ok(())
}
