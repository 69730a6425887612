//! Starts `askdocs serve` on a free port in a fresh data directory, and stops it on drop.

// Each end-to-end test crate uses its own share of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Server {
    child: Child,
    pub base_url: String,
    data_dir: std::sync::Arc<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// A server with these settings (environment variables) in a fresh data directory.
    pub fn start_with(settings: &[(&str, &str)]) -> Server {
        Self::start_in(std::sync::Arc::new(tempfile::tempdir().unwrap()), settings)
    }

    /// Stops this server abruptly (as a crash or `kill -9` would) and starts
    /// another on the same data directory.
    pub fn crash_and_restart(mut self, settings: &[(&str, &str)]) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Self::start_in(self.data_dir.clone(), settings)
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to end; returns how long it took.
    pub fn terminate(&mut self) -> Duration {
        let started = std::time::Instant::now();
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    }

    fn start_in(data_dir: std::sync::Arc<tempfile::TempDir>, settings: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_askdocs"));
        command
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(data_dir.path())
            .env_remove("JWT_SECRET")
            .env("ASKDOCS_MODEL_DIR", model_dir())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in settings {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the askdocs binary starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first_line = String::new();
        stdout.read_line(&mut first_line).unwrap();
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let base_url = first_line
            .trim()
            .strip_prefix("askdocs listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first_line:?}"))
            .to_string();
        Server {
            child,
            base_url,
            data_dir,
        }
    }

    pub fn agent() -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .build()
    }

    /// Sends a request; returns the status and the JSON body (Null when empty).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut request = Self::agent().request(method, &format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let result = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(body),
            None => request.call(),
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{method} {path}: {error}"),
        };
        let status = response.status();
        let text = response.into_string().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, body)
    }
}

pub use askdocs_shared::testing::harness::model_dir;

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Sends a large body over a raw socket and reads the answer even if the
    /// server answers (and closes) before the whole body is sent — as curl does.
    pub fn call_with_large_body(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        use std::io::{Read as _, Write as _};
        let address = self.base_url.trim_start_matches("http://").to_string();
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(request.as_bytes());
        });
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let _ = sender.join();
        let text = String::from_utf8_lossy(&response);
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:.200}"));
        let body_text = text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or("");
        (
            status,
            serde_json::from_str(body_text.trim()).unwrap_or(Value::Null),
        )
    }
}

/// Registers and logs in; returns the token.
pub fn signed_in(server: &Server, email: &str) -> String {
    let credentials = serde_json::json!({"email": email, "password": "Correct1horse"}).to_string();
    let (status, body) = server.call("POST", "/auth/register", None, Some(&credentials));
    assert_eq!(status, 201, "{body}");
    let (_, session) = server.call("POST", "/auth/login", None, Some(&credentials));
    session["token"].as_str().unwrap().to_string()
}

/// A committed test document from `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// The document as the API shows it.
pub fn document(server: &Server, token: &str, id: &str) -> Value {
    let (status, document) = server.call("GET", &format!("/documents/{id}"), Some(token), None);
    assert_eq!(status, 200, "{document}");
    document
}

/// Polls the document until it leaves pending/processing.
pub fn wait_until_processed(server: &Server, token: &str, id: &str) -> Value {
    wait_for_status(
        server,
        token,
        id,
        &["ready", "failed"],
        Duration::from_secs(120),
    )
}

/// Polls the document until its status is one of `wanted`.
pub fn wait_for_status(
    server: &Server,
    token: &str,
    id: &str,
    wanted: &[&str],
    patience: Duration,
) -> Value {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let document = document(server, token, id);
        let state = document["status"].as_str().unwrap().to_string();
        if wanted.contains(&state.as_str()) {
            return document;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {state}: {document}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a file directly (`POST /documents?fileName=`); returns the document.
pub fn upload_directly(
    server: &Server,
    token: &str,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Value {
    let url = format!(
        "{}/documents?fileName={}",
        server.base_url,
        file_name.replace(' ', "%20")
    );
    let response = Server::agent()
        .post(&url)
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", content_type)
        .send_bytes(bytes);
    let response = match response {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{error}"),
    };
    let status = response.status();
    let body: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

/// Plays the Lambda Runtime API on loopback for one function binary, as
/// Lambda does: the binary long-polls `/next`, gets each event handed to
/// [`LambdaRuntime::invoke`], and posts its answer back.
pub struct LambdaRuntime {
    child: Child,
    state: std::sync::Arc<RuntimeState>,
}

#[derive(Default)]
struct RuntimeState {
    queue: std::sync::Mutex<RuntimeQueue>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct RuntimeQueue {
    next_id: u64,
    events: std::collections::VecDeque<(String, Value)>,
    answers: std::collections::HashMap<String, Result<Value, Value>>,
}

impl LambdaRuntime {
    /// Starts `binary` with `settings` and the runtime's own variables.
    pub fn start(binary: &std::path::Path, settings: &[(&str, String)]) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let state = std::sync::Arc::new(RuntimeState::default());
        let serving = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = serving.clone();
                std::thread::spawn(move || serve_runtime_api(stream, &state));
            }
        });
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "function")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, value) in settings {
            command.env(name, value);
        }
        LambdaRuntime {
            child: command.spawn().expect("the function binary starts"),
            state,
        }
    }

    /// One invocation: the function's response, or its error document.
    pub fn invoke(&self, event: Value) -> Result<Value, Value> {
        let mut queue = self.state.queue.lock().unwrap();
        queue.next_id += 1;
        let id = format!("request-{}", queue.next_id);
        queue.events.push_back((id.clone(), event));
        self.state.changed.notify_all();
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(answer) = queue.answers.remove(&id) {
                return answer;
            }
            if let Some(Err(init)) = queue.answers.get("init") {
                panic!("the function failed to start: {init}");
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "the function did not answer {id}");
            queue = self.state.changed.wait_timeout(queue, left).unwrap().0;
        }
    }
}

impl Drop for LambdaRuntime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body).
fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> Option<(String, String, Vec<u8>)> {
    use std::io::Read as _;
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, body))
}

fn serve_runtime_api(stream: std::net::TcpStream, state: &RuntimeState) {
    use std::io::Write as _;
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some((method, path, body)) = read_request(&mut reader) {
        let reply = |writer: &mut std::net::TcpStream, status: &str, headers: &str, body: &str| {
            let _ = write!(
                writer,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
        };
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let mut queue = state.queue.lock().unwrap();
            let (id, event) = loop {
                if let Some(next) = queue.events.pop_front() {
                    break next;
                }
                queue = state.changed.wait(queue).unwrap();
            };
            drop(queue);
            let deadline = chrono::Utc::now().timestamp_millis() + 300_000;
            let headers = format!(
                "Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:function\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n"
            );
            reply(&mut writer, "200 OK", &headers, &event.to_string());
            continue;
        }
        // A streamed response (prelude, eight NULs, body) is kept as text.
        let answer = serde_json::from_slice::<Value>(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        if path.ends_with("/runtime/init/error") {
            state
                .queue
                .lock()
                .unwrap()
                .answers
                .insert("init".into(), Err(answer));
            state.changed.notify_all();
            reply(&mut writer, "202 Accepted", "", "{}");
            continue;
        }
        let mut parts = path.trim_start_matches('/').split('/');
        // /2018-06-01/runtime/invocation/{id}/response|error
        let (id, kind) = (
            parts.nth(3).unwrap_or_default().to_string(),
            parts.next().unwrap_or_default(),
        );
        let outcome = match kind {
            "response" => Ok(answer),
            _ => Err(answer),
        };
        state.queue.lock().unwrap().answers.insert(id, outcome);
        state.changed.notify_all();
        reply(&mut writer, "202 Accepted", "", "{}");
    }
}
