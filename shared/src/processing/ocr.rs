//! OCR on one machine: tesseract reads the pages that are pictures of text,
//! with poppler's pdftoppm rendering PDF pages for it.
//!
//! Both run as children of the sandboxed extract worker, so they inherit its
//! limits (address space, CPU time, no files written, lower priority) and die
//! with it. They read the upload from the worker's descriptor 3 — a memory
//! file the server filled — since the worker may write no file of its own.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::model::Format;

/// Where the worker finds the uploaded file for the OCR programs.
pub const UPLOAD_FD: i32 = 3;
/// What a page with fewer letters and digits than this has is not a text
/// layer but stray marks (a scanner's page number, an OCR-less stamp).
pub const MIN_TEXT_LAYER_CHARS: usize = 20;
/// The worker's progress lines on its error output: `<prefix><done> <total>`.
pub const PROGRESS_PREFIX: &str = "askdocs-ocr-progress ";
/// The Debian/Ubuntu packages OCR needs, for the messages that ask for them.
pub const OCR_PACKAGES: &str = "tesseract-ocr (with tesseract-ocr-eng) and poppler-utils";
/// Most pages read at once: one tesseract per core, up to this many.
const MAX_PARALLEL_PAGES: usize = 4;
/// A rendered page larger than this is not a page (300 dpi A3 grey is 17 MB).
const MAX_RENDERED_BYTES: usize = 256 * 1024 * 1024;

/// The OCR programs and how to run them, found by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalOcr {
    pub tesseract: PathBuf,
    pub pdftoppm: PathBuf,
    pub languages: String,
    pub dpi: u32,
}

impl LocalOcr {
    /// tesseract and pdftoppm on `PATH`, or the names of what is missing.
    pub fn find(languages: &str, dpi: u32) -> Result<Self, String> {
        let tesseract = on_path("tesseract");
        let pdftoppm = on_path("pdftoppm");
        match (tesseract, pdftoppm) {
            (Some(tesseract), Some(pdftoppm)) => Ok(LocalOcr {
                tesseract,
                pdftoppm,
                languages: languages.to_string(),
                dpi,
            }),
            (tesseract, pdftoppm) => Err([
                tesseract.is_none().then_some("tesseract"),
                pdftoppm.is_none().then_some("pdftoppm"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and ")),
        }
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Whether a page's text is no text layer at all (or only stray characters).
pub fn needs_ocr(text: &str) -> bool {
    text.chars().filter(|c| c.is_alphanumeric()).count() < MIN_TEXT_LAYER_CHARS
}

/// Reads `pages` of the upload (a PDF or an image) by OCR; `progress` hears
/// each page done. The reason of an `Err` is for the document's owner.
pub fn read_pages(
    tools: &LocalOcr,
    format: Format,
    pages: &[u32],
    mut progress: impl FnMut(u32, u32) + Send,
) -> Result<Vec<(u32, String)>, String> {
    let total = pages.len() as u32;
    progress(0, total);
    let upload = PathBuf::from(format!("/proc/self/fd/{UPLOAD_FD}"));
    if format.is_image() {
        // One run reads every page of a multi-page TIFF, a form feed after each.
        let text = tesseract(tools, Input::File(&upload))
            .map_err(|why| format!("OCR could not read the {}: {why}", format.name()))?;
        let mut texts = text.split('\u{c}');
        let read = pages
            .iter()
            .map(|&page| (page, texts.next().unwrap_or_default().trim().to_string()))
            .collect();
        progress(total, total);
        return Ok(read);
    }
    // Pages are read side by side, one tesseract per core (each with one
    // thread, each under the worker's limits), the next page to whoever is free.
    let readers = std::thread::available_parallelism()
        .map_or(1, |cores| cores.get())
        .clamp(1, MAX_PARALLEL_PAGES)
        .min(pages.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new((0u32, &mut progress));
    let read = std::sync::Mutex::new(vec![None; pages.len()]);
    let failed = std::sync::Mutex::new(None::<String>);
    std::thread::scope(|scope| {
        for _ in 0..readers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if index >= pages.len() || failed.lock().unwrap().is_some() {
                    return;
                }
                let page = pages[index];
                let text = render(tools, &upload, page)
                    .map_err(|why| format!("page {page} could not be rendered for OCR: {why}"))
                    .and_then(|image| {
                        tesseract(tools, Input::Bytes(image))
                            .map_err(|why| format!("OCR could not read page {page}: {why}"))
                    });
                match text {
                    Ok(text) => {
                        read.lock().unwrap()[index] = Some((page, text.trim().to_string()));
                        let mut done = done.lock().unwrap();
                        done.0 += 1;
                        let count = done.0;
                        (done.1)(count, total);
                    }
                    Err(why) => {
                        failed.lock().unwrap().get_or_insert(why);
                        return;
                    }
                }
            });
        }
    });
    if let Some(why) = failed.into_inner().unwrap() {
        return Err(why);
    }
    Ok(read.into_inner().unwrap().into_iter().flatten().collect())
}

enum Input<'a> {
    File(&'a Path),
    Bytes(Vec<u8>),
}

/// A child of the worker: no environment, dies with the worker.
fn command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        // tesseract's OpenMP threads would each reserve address space
        // against the worker's limit, and compete for the same cores.
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: prctl is async-signal-safe; it runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    command
}

/// One PDF page as an 8-bit grey image (PGM) at the configured resolution.
fn render(tools: &LocalOcr, upload: &Path, page: u32) -> Result<Vec<u8>, String> {
    let page = page.to_string();
    let dpi = tools.dpi.to_string();
    let mut child = command(&tools.pdftoppm)
        .args(["-r", &dpi, "-f", &page, "-l", &page, "-singlefile", "-gray"])
        .arg(upload)
        .spawn()
        .map_err(|error| format!("pdftoppm did not start: {error}"))?;
    let mut image = Vec::new();
    let mut stdout = child
        .stdout
        .take()
        .expect("piped")
        .take(MAX_RENDERED_BYTES as u64 + 1);
    let read = stdout.read_to_end(&mut image);
    if image.len() > MAX_RENDERED_BYTES {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the page is too large".into());
    }
    let output = child
        .wait_with_output()
        .map_err(|error| format!("pdftoppm: {error}"))?;
    read.map_err(|error| format!("reading pdftoppm's image: {error}"))?;
    if !output.status.success() || image.is_empty() {
        return Err(first_line(&output.stderr, "pdftoppm failed"));
    }
    Ok(image)
}

/// The text tesseract reads in an image.
fn tesseract(tools: &LocalOcr, input: Input<'_>) -> Result<String, String> {
    let mut command = command(&tools.tesseract);
    let bytes = match input {
        Input::File(path) => {
            command.arg(path);
            None
        }
        Input::Bytes(bytes) => {
            command.arg("stdin").stdin(Stdio::piped());
            Some(bytes)
        }
    };
    command.args(["stdout", "-l", &tools.languages, "--psm", "3"]);
    let mut child = command
        .spawn()
        .map_err(|error| format!("tesseract did not start: {error}"))?;
    let feeder = bytes.map(|bytes| {
        let mut stdin = child.stdin.take().expect("piped");
        // A tesseract that dies early closes the pipe: its exit says why.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        })
    });
    let output = child
        .wait_with_output()
        .map_err(|error| format!("tesseract: {error}"))?;
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if let Some(line) = stderr
            .lines()
            .find(|line| line.contains("Failed loading language"))
        {
            return Err(format!(
                "{} (ASKDOCS_OCR_LANGUAGES names a language whose tesseract data is not installed: tesseract-ocr-<language>)",
                line.trim()
            ));
        }
        if stderr.contains("malloc fail") || stderr.contains("Out of memory") {
            return Err("the picture needs more memory to decode than a reader may use".into());
        }
        return Err(first_line(&output.stderr, "tesseract failed"));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn first_line(stderr: &[u8], otherwise: &str) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| line.chars().take(200).collect())
        .unwrap_or_else(|| otherwise.to_string())
}
