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
use super::runs::Cancellation;
use crate::config::{ChunkSettings, ExtractLimits};
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
        }
    }

    fn request(&self, format: Format) -> WorkerRequest {
        WorkerRequest {
            format,
            max_bytes: self.max_bytes,
            max_chars: self.chunks.max_chars,
            overlap_chars: self.chunks.overlap_chars,
            max_chunks: self.max_chunks,
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
        match &self.program {
            WorkerProgram::Exec { path } => {
                self.parse_in_child(path, bytes, format, cancelled).await
            }
            #[cfg(all(feature = "extract", feature = "testing"))]
            WorkerProgram::InProcess => {
                let request = self.request(format);
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
    ) -> Result<Parsed, ParseFailure> {
        let request =
            serde_json::to_string(&self.request(format)).expect("a worker request serializes");
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
        let stderr = tokio::spawn(read_at_most(
            child.stderr.take().expect("stderr is piped"),
            MAX_STDERR_BYTES,
        ));

        let ended = tokio::select! {
            status = child.wait() => Ended::Exited(status),
            _ = tokio::time::sleep(self.limits.timeout) => Ended::TimedOut,
            _ = cancelled.cancelled() => Ended::Cancelled,
        };
        if !matches!(ended, Ended::Exited(_)) {
            let _ = child.kill().await;
        }
        feed.abort();
        let (stdout, overflowed) = stdout.await.unwrap_or_default();
        let (stderr, _) = stderr.await.unwrap_or_default();
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
    // async-signal-safe system calls (setrlimit, setpriority, prctl).
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
    use crate::processing::chunk::chunk_pages_bounded;
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
        let extracted = match std::panic::catch_unwind(|| extract(bytes, format)) {
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
        let settings = ChunkSettings {
            max_chars: request.max_chars,
            overlap_chars: request.overlap_chars,
        };
        match chunk_pages_bounded(&extracted.pages, settings, request.max_chunks) {
            Ok(chunks) => WorkerReply::Parsed(Parsed {
                format: extracted.format,
                pages: extracted.pages.len() as u32,
                chunks,
            }),
            Err(too_many) => WorkerReply::Refused(format!(
                "the document is too long: it makes more than {} passages",
                too_many.limit
            )),
        }
    }
}
