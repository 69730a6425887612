//! Untrusted parsing runs where it can fail alone.
//!
//! A user's file is parsed (and chunked) by a child process: the same binary
//! re-executed in its extract-worker mode, which reads the file on stdin and
//! writes the passages as JSON on stdout. Before the child runs a line of the
//! parser it is given hard limits — address space, CPU time, no core files, a
//! lower CPU priority, death with its parent — and the parent enforces a
//! wall-clock deadline and caps what it reads back. A stack overflow, an
//! allocation failure, an endless loop or a decompression bomb then ends one
//! child, not the server, and becomes a reason the document's owner can read.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use super::chunk::DraftChunk;
use super::ocr::{self, LocalOcr, OCR_PACKAGES};
use super::runs::Cancellation;
use crate::config::{ChunkSettings, ExtractLimits, OcrEngine, OcrSettings};
use crate::model::Format;

/// The first argument that turns an askdocs binary into an extract worker.
pub const WORKER_ARG: &str = "__askdocs-extract-worker";
/// What the parent reads of the child's error output, to tell crashes apart.
const MAX_STDERR_BYTES: usize = 64 * 1024;

/// What the worker is asked, as its second argument (JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRequest {
    pub format: Format,
    pub max_bytes: u64,
    pub max_chars: usize,
    pub overlap_chars: usize,
    pub max_chunks: usize,
    /// Read pages without a text layer with tesseract, here (the upload is
    /// also at descriptor 3 for it); `None`: leave them to the caller.
    #[serde(default)]
    pub ocr: Option<LocalOcr>,
    /// Most pages OCR may read, here or afterwards; more fail the document.
    #[serde(default = "no_ocr_limit")]
    pub max_ocr_pages: u32,
}

fn no_ocr_limit() -> u32 {
    u32::MAX
}

/// The worker's answer on stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkerReply {
    Parsed(Parsed),
    /// The file cannot be used; the reason is for the document's owner.
    Refused(String),
}

/// A file's passages, as the worker found them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    /// What the bytes really are (an HTML file sent as text is HTML).
    pub format: Format,
    pub pages: u32,
    pub chunks: Vec<DraftChunk>,
    /// Pages without a text layer that OCR read here (their passages are in `chunks`).
    #[serde(default)]
    pub ocr_pages: u32,
    /// Pages without a text layer left unread: OCR is not run here (no
    /// tesseract, or another engine reads them afterwards).
    #[serde(default)]
    pub unread_pages: Vec<u32>,
}

/// How far OCR has got through a document's scanned pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcrProgress {
    pub done: u32,
    pub total: u32,
}

/// Why parsing gave no passages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseFailure {
    /// The file is the problem; the reason is for its owner, and retrying cannot help.
    Refused(String),
    /// The run was cancelled (the document was deleted, or the server is stopping).
    Cancelled,
    /// The worker could not be run at all: a problem on our side.
    Unavailable(String),
}

/// How the worker is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerProgram {
    /// A binary that runs [`run_worker_if_requested`] first thing in `main`.
    Exec { path: PathBuf },
    /// In this process, without any limit: only for tests on benign files.
    #[cfg(all(feature = "extract", feature = "testing"))]
    InProcess,
}

impl WorkerProgram {
    /// This very binary (the processing function, or `askdocs`).
    pub fn current_exe() -> Self {
        WorkerProgram::Exec {
            path: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
        }
    }
}

pub struct Sandbox {
    program: WorkerProgram,
    limits: ExtractLimits,
    chunks: ChunkSettings,
    max_chunks: usize,
    max_bytes: u64,
    ocr: OcrSettings,
    /// tesseract and pdftoppm, when OCR is theirs and they are installed;
    /// else what is missing.
    local_ocr: Result<LocalOcr, String>,
}

impl Sandbox {
    pub fn new(
        program: WorkerProgram,
        limits: ExtractLimits,
        chunks: ChunkSettings,
        max_chunks: usize,
        max_bytes: u64,
    ) -> Self {
        Sandbox {
            program,
            limits,
            chunks,
            max_chunks,
            max_bytes,
            ocr: OcrSettings {
                engine: OcrEngine::Off,
                ..OcrSettings::default()
            },
            local_ocr: Err("OCR is off".into()),
        }
    }

    /// Reads scanned pages and images as `ocr` says: with tesseract here
    /// (when installed), or leaves them for Textract.
    pub fn with_ocr(mut self, ocr: OcrSettings) -> Self {
        self.ocr = ocr;
        self.local_ocr = match ocr.engine {
            OcrEngine::Tesseract => LocalOcr::find(ocr.languages.as_str(), ocr.dpi),
            OcrEngine::Textract | OcrEngine::Off => Err("OCR is not run here".into()),
        };
        if let Err(missing) = &self.local_ocr {
            if ocr.engine == OcrEngine::Tesseract {
                tracing::warn!(
                    missing,
                    "OCR is unavailable: scanned pages and images stay unread until {OCR_PACKAGES} are installed"
                );
            }
        }
        self
    }

    /// Why scanned pages stay unread here, for their document's owner.
    pub fn why_ocr_is_unavailable(&self) -> String {
        match self.ocr.engine {
            OcrEngine::Tesseract => format!(
                "OCR needs {OCR_PACKAGES} on the server (missing: {})",
                self.local_ocr
                    .as_ref()
                    .err()
                    .map_or("nothing", String::as_str)
            ),
            OcrEngine::Textract => "OCR is Textract's here".into(),
            OcrEngine::Off => "OCR is turned off (ASKDOCS_OCR=off)".into(),
        }
    }

    fn request(&self, format: Format) -> WorkerRequest {
        let reads_pictures = format == Format::Pdf || format.is_image();
        WorkerRequest {
            format,
            max_bytes: self.max_bytes,
            max_chars: self.chunks.max_chars,
            overlap_chars: self.chunks.overlap_chars,
            max_chunks: self.max_chunks,
            ocr: self
                .local_ocr
                .as_ref()
                .ok()
                .filter(|_| reads_pictures)
                .cloned(),
            max_ocr_pages: self.ocr.max_pages,
        }
    }

    /// The most the worker may write: every passage at its largest, as JSON.
    fn max_reply_bytes(&self) -> usize {
        self.max_chunks * (self.chunks.max_chars * 4 + 128) + 64 * 1024
    }

    /// Parses and chunks `bytes`, declared as `format`, in a limited child process.
    pub async fn parse(
        &self,
        bytes: Vec<u8>,
        format: Format,
        cancelled: &Cancellation,
    ) -> Result<Parsed, ParseFailure> {
        self.parse_with_progress(bytes, format, cancelled, None)
            .await
    }

    /// As [`Self::parse`], telling `progress` how OCR gets on. While OCR
    /// reports pages done, the time limit counts from the last one: a long
    /// scan may take as long as it keeps moving.
    pub async fn parse_with_progress(
        &self,
        bytes: Vec<u8>,
        format: Format,
        cancelled: &Cancellation,
        progress: Option<&tokio::sync::mpsc::UnboundedSender<OcrProgress>>,
    ) -> Result<Parsed, ParseFailure> {
        match &self.program {
            WorkerProgram::Exec { path } => {
                self.parse_in_child(path, bytes, format, cancelled, progress)
                    .await
            }
            #[cfg(all(feature = "extract", feature = "testing"))]
            WorkerProgram::InProcess => {
                // No descriptor 3 here: OCR runs only in a real worker.
                let request = WorkerRequest {
                    ocr: None,
                    ..self.request(format)
                };
                let reply = tokio::task::spawn_blocking(move || worker::answer(&request, &bytes))
                    .await
                    .map_err(|error| ParseFailure::Unavailable(error.to_string()))?;
                match reply {
                    WorkerReply::Parsed(parsed) => Ok(parsed),
                    WorkerReply::Refused(reason) => Err(ParseFailure::Refused(reason)),
                }
            }
        }
    }

    async fn parse_in_child(
        &self,
        program: &std::path::Path,
        bytes: Vec<u8>,
        format: Format,
        cancelled: &Cancellation,
        progress: Option<&tokio::sync::mpsc::UnboundedSender<OcrProgress>>,
    ) -> Result<Parsed, ParseFailure> {
        let request = self.request(format);
        // The OCR programs read the upload from a memory file on descriptor 3
        // (the worker itself may write no file).
        let upload = match request.ocr {
            Some(_) => Some(memory_file(&bytes).map_err(|error| {
                ParseFailure::Unavailable(format!("a memory file for OCR: {error}"))
            })?),
            None => None,
        };
        let request = serde_json::to_string(&request).expect("a worker request serializes");
        let mut command = tokio::process::Command::new(program);
        command
            .arg(WORKER_ARG)
            .arg(request)
            // Nothing of the server's environment (secrets, credentials) reaches the parser.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        limit_child(&mut command, self.limits);
        if let Some(upload) = &upload {
            give_descriptor(&mut command, upload, ocr::UPLOAD_FD);
        }
        let mut child = command.spawn().map_err(|error| {
            ParseFailure::Unavailable(format!(
                "starting the extract worker {}: {error}",
                program.display()
            ))
        })?;

        let mut stdin = child.stdin.take().expect("stdin is piped");
        let feed = tokio::spawn(async move {
            // A child that dies early closes the pipe: nothing more to say then.
            let _ = stdin.write_all(&bytes).await;
        });
        let stdout = tokio::spawn(read_at_most(
            child.stdout.take().expect("stdout is piped"),
            self.max_reply_bytes(),
        ));
        let (pages_done, mut reported) = tokio::sync::mpsc::unbounded_channel();
        let stderr = tokio::spawn(read_errors(
            child.stderr.take().expect("stderr is piped"),
            pages_done,
        ));

        let mut deadline = tokio::time::Instant::now() + self.limits.timeout;
        let ended = loop {
            tokio::select! {
                status = child.wait() => break Ended::Exited(status),
                _ = tokio::time::sleep_until(deadline) => break Ended::TimedOut,
                _ = cancelled.cancelled() => break Ended::Cancelled,
                Some(step) = reported.recv() => {
                    deadline = tokio::time::Instant::now() + self.limits.timeout;
                    if let Some(progress) = progress {
                        let _ = progress.send(step);
                    }
                }
            }
        };
        drop(upload);
        if !matches!(ended, Ended::Exited(_)) {
            let _ = child.kill().await;
        }
        feed.abort();
        let (stdout, overflowed) = stdout.await.unwrap_or_default();
        let stderr = stderr.await.unwrap_or_default();
        let unsafe_to_read = |why: String| {
            ParseFailure::Refused(format!(
                "the {} could not be read safely: {why}",
                format.name()
            ))
        };
        let status = match ended {
            Ended::Cancelled => return Err(ParseFailure::Cancelled),
            Ended::TimedOut => {
                return Err(unsafe_to_read(format!(
                    "it took longer than {}",
                    seconds(self.limits.timeout)
                )))
            }
            Ended::Exited(status) => status.map_err(|error| {
                ParseFailure::Unavailable(format!("waiting for the extract worker: {error}"))
            })?,
        };
        if overflowed {
            return Err(unsafe_to_read(
                "it holds more text than a document may have".into(),
            ));
        }
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            tracing::warn!(status = %status, stderr = %stderr.chars().take(500).collect::<String>(), "extract worker failed");
            return Err(unsafe_to_read(self.why_the_child_died(status, &stderr)));
        }
        match serde_json::from_slice::<WorkerReply>(&stdout) {
            Ok(WorkerReply::Parsed(parsed)) => Ok(parsed),
            Ok(WorkerReply::Refused(reason)) => Err(ParseFailure::Refused(reason)),
            Err(error) => Err(ParseFailure::Unavailable(format!(
                "the extract worker's reply is not understood: {error}"
            ))),
        }
    }

    fn why_the_child_died(&self, status: std::process::ExitStatus, stderr: &str) -> String {
        use std::os::unix::process::ExitStatusExt as _;
        let memory = || {
            format!(
                "it needed more than {}",
                bytes_text(self.limits.memory_bytes)
            )
        };
        if stderr.contains("memory allocation") || stderr.contains("capacity overflow") {
            return memory();
        }
        if stderr.contains("overflowed its stack") {
            return "it is nested too deeply".into();
        }
        match status.signal() {
            Some(libc::SIGXCPU) => format!("it took longer than {}", seconds(self.limits.timeout)),
            // The kernel's last resort when memory runs out.
            Some(libc::SIGKILL) => memory(),
            _ => "the reader crashed on it".into(),
        }
    }
}

enum Ended {
    Exited(std::io::Result<std::process::ExitStatus>),
    TimedOut,
    Cancelled,
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs())
}

fn bytes_text(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= 1024 * MB && bytes.is_multiple_of(1024 * MB) {
        format!("{} GB", bytes / (1024 * MB))
    } else {
        format!("{} MB", bytes / MB)
    }
}

/// The worker's error output: its OCR progress lines go to `pages_done`, the
/// rest is kept (up to a limit) to tell why it died.
async fn read_errors(
    stderr: impl AsyncRead + Unpin,
    pages_done: tokio::sync::mpsc::UnboundedSender<OcrProgress>,
) -> Vec<u8> {
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(stderr.take(16 * MAX_STDERR_BYTES as u64)).lines();
    let mut kept = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let step = line
            .strip_prefix(ocr::PROGRESS_PREFIX)
            .and_then(|rest| rest.split_once(' '))
            .and_then(|(done, total)| Some((done.parse().ok()?, total.parse().ok()?)));
        match step {
            Some((done, total)) => {
                let _ = pages_done.send(OcrProgress { done, total });
            }
            None if kept.len() < MAX_STDERR_BYTES => {
                kept.extend_from_slice(line.as_bytes());
                kept.push(b'\n');
            }
            None => {}
        }
    }
    kept
}

/// A memory file (memfd) holding `bytes`, read from its start.
fn memory_file(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::{Seek as _, Write as _};
    use std::os::fd::FromRawFd as _;
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the
    // descriptor it returns is owned by the File from here on.
    let fd = unsafe { libc::memfd_create(c"askdocs-upload".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}

/// The child gets `file` as descriptor `target` (without close-on-exec, so
/// its own children inherit it too).
fn give_descriptor(command: &mut tokio::process::Command, file: &std::fs::File, target: i32) {
    use std::os::fd::AsRawFd as _;
    let source = file.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; it runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if source == target {
                // Already there: only its close-on-exec flag must go.
                if libc::fcntl(target, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(source, target) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Reads up to `limit` bytes; the flag says whether there was more.
async fn read_at_most(reader: impl AsyncRead + Unpin, limit: usize) -> (Vec<u8>, bool) {
    let mut buffer = Vec::new();
    let mut limited = reader.take(limit as u64 + 1);
    let _ = limited.read_to_end(&mut buffer).await;
    let overflowed = buffer.len() > limit;
    buffer.truncate(limit);
    (buffer, overflowed)
}

/// Sets the child's limits between fork and exec, so they hold before the
/// worker reads a byte of the file.
fn limit_child(command: &mut tokio::process::Command, limits: ExtractLimits) {
    let cpu_seconds = limits.timeout.as_secs().max(1) + 1;
    let memory = limits.memory_bytes;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (setrlimit, setpriority, unshare, prctl).
    unsafe {
        command.pre_exec(move || {
            let set = |resource, soft: u64, hard: u64| {
                let limit = libc::rlimit {
                    rlim_cur: soft as libc::rlim_t,
                    rlim_max: hard as libc::rlim_t,
                };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            set(libc::RLIMIT_AS, memory, memory)?;
            // SIGXCPU at the soft limit, SIGKILL at the hard one.
            set(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)?;
            set(libc::RLIMIT_CORE, 0, 0)?;
            // The worker writes no files; only its pipes.
            set(libc::RLIMIT_FSIZE, 0, 0)?;
            // Parsing yields the CPU to requests being served.
            libc::setpriority(libc::PRIO_PROCESS, 0, 10);
            // No network: a network namespace of its own, with nothing in it
            // but a loopback that is down. Allowed to root, or to anyone where
            // unprivileged user namespaces are; where neither (a Lambda), the
            // child keeps the host's network and the other limits still hold.
            #[cfg(target_os = "linux")]
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                let _ = libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET);
            }
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Runs the extract worker and exits, when this process was started as one.
/// Call it first thing in `main`, before any configuration is read.
#[cfg(feature = "extract")]
pub fn run_worker_if_requested() {
    let mut arguments = std::env::args_os().skip(1);
    if arguments.next().as_deref() != Some(std::ffi::OsStr::new(WORKER_ARG)) {
        return;
    }
    // PDF pages are read on every core. glibc would give each thread its own
    // malloc arena, reserving 64 MB of address space apiece against the
    // worker's RLIMIT_AS; one arena keeps the limit about the file.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let code = worker::main(arguments.next());
    std::process::exit(code);
}

#[cfg(feature = "extract")]
pub(crate) mod worker {
    //! The child's side: read the file, extract, chunk, answer — nothing else.

    use std::io::{Read as _, Write as _};

    use super::{Parsed, WorkerReply, WorkerRequest};
    use crate::config::ChunkSettings;
    use crate::model::Format;
    use crate::processing::chunk::chunk_pages_bounded;
    use crate::processing::ocr;
    use askdocs_extract::extract;

    pub fn main(request: Option<std::ffi::OsString>) -> i32 {
        let Some(request) = request
            .and_then(|text| text.into_string().ok())
            .and_then(|text| serde_json::from_str::<WorkerRequest>(&text).ok())
        else {
            eprintln!("the extract worker needs its request as the second argument");
            return 2;
        };
        let mut bytes = Vec::new();
        if let Err(error) = std::io::stdin()
            .lock()
            .take(request.max_bytes + 1)
            .read_to_end(&mut bytes)
        {
            eprintln!("reading the file: {error}");
            return 3;
        }
        let reply = answer(&request, &bytes);
        let mut stdout = std::io::stdout().lock();
        if serde_json::to_writer(&mut stdout, &reply).is_err() || stdout.flush().is_err() {
            return 4;
        }
        0
    }

    /// Extracts and chunks `bytes`. Ordinary parser panics become a refusal
    /// here; what cannot be caught (stack overflow, abort) ends the process,
    /// which the parent reports.
    pub fn answer(request: &WorkerRequest, bytes: &[u8]) -> WorkerReply {
        if bytes.len() as u64 > request.max_bytes {
            return WorkerReply::Refused(format!(
                "the file is larger than {} MB",
                request.max_bytes / (1024 * 1024)
            ));
        }
        let format = request.format;
        let mut extracted = match std::panic::catch_unwind(|| extract(bytes, format)) {
            Ok(Ok(extracted)) => extracted,
            Ok(Err(error)) => return WorkerReply::Refused(error.0),
            Err(_) => {
                return WorkerReply::Refused(format!(
                    "the {} is damaged or not a valid {}",
                    format.name(),
                    format.name()
                ))
            }
        };
        // Pages that are pictures of text: a PDF's pages without a text
        // layer, every page of an image.
        let reads_pictures = extracted.format == Format::Pdf || extracted.format.is_image();
        let scanned: Vec<u32> = extracted
            .pages
            .iter()
            .filter(|page| reads_pictures && ocr::needs_ocr(&page.text))
            .map(|page| page.number)
            .collect();
        if scanned.len() as u64 > u64::from(request.max_ocr_pages) {
            return WorkerReply::Refused(format!(
                "{} pages have no text layer to read; OCR reads at most {} pages of a document \
                 (ASKDOCS_OCR_MAX_PAGES): split the scan into smaller files",
                scanned.len(),
                request.max_ocr_pages
            ));
        }
        let (ocr_pages, unread_pages) = match &request.ocr {
            Some(tools) if !scanned.is_empty() => {
                let report = |done: u32, total: u32| {
                    eprintln!("{}{done} {total}", ocr::PROGRESS_PREFIX);
                };
                match ocr::read_pages(tools, extracted.format, &scanned, report) {
                    Ok(read) => {
                        for (number, text) in read {
                            if let Some(page) = extracted.pages.get_mut(number as usize - 1) {
                                page.text = text;
                            }
                        }
                        (scanned.len() as u32, Vec::new())
                    }
                    Err(reason) => return WorkerReply::Refused(reason),
                }
            }
            _ => (0, scanned),
        };
        let settings = ChunkSettings {
            max_chars: request.max_chars,
            overlap_chars: request.overlap_chars,
        };
        match chunk_pages_bounded(&extracted.pages, settings, request.max_chunks) {
            Ok(chunks) => WorkerReply::Parsed(Parsed {
                format: extracted.format,
                pages: extracted.pages.len() as u32,
                chunks,
                ocr_pages,
                unread_pages,
            }),
            Err(too_many) => WorkerReply::Refused(format!(
                "the document is too long: it makes more than {} passages",
                too_many.limit
            )),
        }
    }
}
