//! End-to-end, as an attacker with nothing but an account would try it: the
//! real `askdocs serve` under hostile uploads and hostile requests. Every
//! other user must not notice; the server must never die or stall; a restart
//! must come up cleanly.

mod common;

use std::time::{Duration, Instant};

use askdocs_shared::testing::hostile;
use common::{fixture, signed_in, upload_directly, wait_for_status, wait_until_processed, Server};
use serde_json::{json, Value};

/// Quick limits, so the hostile files are stopped fast.
const LIMITS: [(&str, &str); 2] = [
    ("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "10"),
    ("ASKDOCS_EXTRACT_MEMORY_MB", "256"),
];

/// Extract workers still running that `server` started (tests run side by side).
fn worker_pids(server_pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let pid = dir.file_name()?.to_str()?.parse::<u32>().ok()?;
            let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            let parent = status
                .lines()
                .find_map(|line| line.strip_prefix("PPid:"))?
                .trim()
                .parse::<u32>()
                .ok()?;
            let is_worker = String::from_utf8_lossy(&cmdline)
                .contains(askdocs_shared::processing::sandbox::WORKER_ARG);
            (is_worker && parent == server_pid).then_some(pid)
        })
        .collect()
}

fn workers_of(server_pid: u32) -> usize {
    worker_pids(server_pid).len()
}

/// Whether a process is still alive (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .is_ok_and(|status| !status.contains("State:\tZ"))
}

/// Waits until `server` has (or no longer has) a parser running.
fn wait_for_workers(server_pid: u32, running: bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while (workers_of(server_pid) > 0) != running {
        assert!(
            Instant::now() < deadline,
            "parsers running: {}",
            workers_of(server_pid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hostile_uploads_fail_alone_while_another_user_is_served() {
    let server = Server::start_with(&LIMITS);
    let mallory = signed_in(&server, "mallory@example.com");
    let ada = signed_in(&server, "ada@example.com");

    // GIVEN an attacker uploads every hostile file at once
    let hostile_ids: Vec<(String, &str)> = hostile::all(256 << 20)
        .into_iter()
        .map(|file| {
            let uploaded =
                upload_directly(&server, &mallory, file.name, file.content_type, &file.bytes);
            (
                uploaded["documentId"].as_str().unwrap().to_string(),
                file.name,
            )
        })
        .collect();

    // WHEN another user uploads a real document and uses the service meanwhile
    let started = Instant::now();
    let manual = upload_directly(
        &server,
        &ada,
        "manual.pdf",
        "application/pdf",
        &fixture("lighthouse.pdf"),
    );
    let manual_id = manual["documentId"].as_str().unwrap().to_string();
    let mut slowest = Duration::ZERO;
    let mut ready = false;
    while !ready {
        let asked = Instant::now();
        let (status, listed) = server.call("GET", "/documents", Some(&ada), None);
        slowest = slowest.max(asked.elapsed());
        assert_eq!(status, 200, "{listed}");
        ready = listed["documents"][0]["status"] == "ready";
        assert!(started.elapsed() < Duration::from_secs(180), "{listed}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // THEN their requests kept answering quickly and their document got ready
    assert!(
        slowest < Duration::from_secs(2),
        "slowest request: {slowest:?}"
    );
    let (status, answer) = server.call(
        "POST",
        "/query/ask",
        Some(&ada),
        Some(r#"{"question":"What does error code E-4012 mean?"}"#),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["citations"][0]["documentId"], manual_id.as_str());

    // AND every hostile file ends failed with a reason a person reads (or ready)
    for (id, name) in &hostile_ids {
        let outcome = wait_until_processed(&server, &mallory, id);
        let reason = outcome["statusReason"].as_str().unwrap_or("");
        println!("{name}: {} {reason:?}", outcome["status"]);
        assert!(
            outcome["status"] == "ready" || (!reason.is_empty() && !reason.contains("on our side")),
            "{name}: {outcome}"
        );
    }
    // AND the server is still the same process, serving
    let (status, _) = server.call("GET", "/auth/profile", Some(&ada), None);
    assert_eq!(status, 200);
    wait_for_workers(server.pid(), false);
}

#[test]
fn a_restart_after_crashes_mid_processing_never_loops() {
    // GIVEN a file whose parser spins, being processed when the server dies
    let spin = [("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "120")];
    let server = Server::start_with(&spin);
    let token = signed_in(&server, "crash@example.com");
    let file = hostile::exponential_xobjects_pdf();
    let uploaded = upload_directly(&server, &token, file.name, file.content_type, &file.bytes);
    let id = uploaded["documentId"].as_str().unwrap().to_string();
    wait_for_status(
        &server,
        &token,
        &id,
        &["processing"],
        Duration::from_secs(30),
    );

    // WHEN the server is killed and restarted — twice, mid-run each time
    let server = server.crash_and_restart(&spin);
    wait_for_status(
        &server,
        &token,
        &id,
        &["processing"],
        Duration::from_secs(30),
    );
    let server = server.crash_and_restart(&spin);

    // THEN the third start comes up and gives the document up instead of running it again
    let outcome = wait_until_processed(&server, &token, &id);
    assert_eq!(outcome["status"], "failed", "{outcome}");
    assert_eq!(
        outcome["statusReason"],
        "processing stopped twice; upload it again"
    );
    let (status, _) = server.call("GET", "/auth/profile", Some(&token), None);
    assert_eq!(status, 200);
}

#[test]
fn sigterm_stops_the_server_within_seconds_whatever_runs() {
    // GIVEN a run that would spin for two minutes
    let mut server = Server::start_with(&[("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "120")]);
    let token = signed_in(&server, "term@example.com");
    let file = hostile::exponential_xobjects_pdf();
    let uploaded = upload_directly(&server, &token, file.name, file.content_type, &file.bytes);
    let id = uploaded["documentId"].as_str().unwrap().to_string();
    wait_for_status(
        &server,
        &token,
        &id,
        &["processing"],
        Duration::from_secs(30),
    );

    // WHEN it is asked to stop THEN it stops within a few seconds, taking its parser with it
    wait_for_workers(server.pid(), true);
    let workers = worker_pids(server.pid());
    // (and the parser had no network: a namespace of its own, where this
    // machine allows one — as root, or with unprivileged user namespaces)
    let namespace = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            workers
                .iter()
                .all(|&pid| namespace(pid) != namespace(server.pid())),
            "the parser shares the server's network"
        );
    }
    let took = server.terminate();
    assert!(took < Duration::from_secs(8), "stopping took {took:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        workers.iter().all(|pid| !alive(*pid)),
        "no parser outlives the server"
    );

    // AND the next start recovers the document
    let server = server.crash_and_restart(&[("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "2")]);
    let outcome = wait_until_processed(&server, &token, &id);
    assert_eq!(outcome["status"], "failed", "{outcome}");
}

#[test]
fn deleting_a_spinning_document_stops_its_parser() {
    let server = Server::start_with(&[("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "120")]);
    let token = signed_in(&server, "del@example.com");
    let file = hostile::exponential_xobjects_pdf();
    let uploaded = upload_directly(&server, &token, file.name, file.content_type, &file.bytes);
    let id = uploaded["documentId"].as_str().unwrap().to_string();
    wait_for_status(
        &server,
        &token,
        &id,
        &["processing"],
        Duration::from_secs(30),
    );
    wait_for_workers(server.pid(), true);

    let (status, _) = server.call("DELETE", &format!("/documents/{id}"), Some(&token), None);
    assert_eq!(status, 204);
    wait_for_workers(server.pid(), false);
    let (status, _) = server.call("GET", &format!("/documents/{id}"), Some(&token), None);
    assert_eq!(status, 404);
}

fn raw(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let mut request = Server::agent().request(method, &format!("{}{path}", server.base_url));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.send_string(body) {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{error}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn cross_site_requests_and_foreign_hosts_are_refused() {
    let server = Server::start();
    signed_in(&server, "site@example.com");
    let login = r#"{"email":"site@example.com","password":"Correct1horse"}"#;
    let own_origin = server.base_url.clone();
    let json_type = ("Content-Type", "application/json");

    // A page on another site posting to the local server
    let (status, body) = raw(
        &server,
        "POST",
        "/auth/login",
        &[json_type, ("Origin", "http://evil.example")],
        login,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    // A "simple" request a form could send, even from our own origin's name
    let (status, _) = raw(
        &server,
        "POST",
        "/auth/login",
        &[("Content-Type", "text/plain"), ("Origin", &own_origin)],
        login,
    );
    assert_eq!(status, 403);
    let (status, _) = raw(
        &server,
        "POST",
        "/auth/login",
        &[json_type, ("Sec-Fetch-Site", "cross-site")],
        login,
    );
    assert_eq!(status, 403);
    // DNS rebinding: another name for this address
    let host = format!(
        "rebound.attacker.example:{}",
        server.base_url.rsplit(':').next().unwrap()
    );
    let (status, _) = raw(
        &server,
        "POST",
        "/auth/login",
        &[json_type, ("Host", &host)],
        login,
    );
    assert_eq!(status, 403);

    // The page itself, and curl, are served
    let (status, _) = raw(
        &server,
        "POST",
        "/auth/login",
        &[
            json_type,
            ("Origin", &own_origin),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        login,
    );
    assert_eq!(status, 200);
    let (status, _) = raw(
        &server,
        "POST",
        "/auth/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        login,
    );
    assert_eq!(status, 200);
}

#[test]
fn upload_urls_work_once() {
    let server = Server::start();
    let token = signed_in(&server, "once@example.com");
    let request = json!({"fileName": "notes.txt", "contentType": "text/plain", "size": 5});
    let (_, ticket) = server.call(
        "POST",
        "/documents/upload",
        Some(&token),
        Some(&request.to_string()),
    );
    let url = ticket["uploadUrl"].as_str().unwrap();
    let put = |body: &[u8]| match Server::agent()
        .put(url)
        .set("Content-Type", "text/plain")
        .send_bytes(body)
    {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(put(b"hello"), 200);
    let id = ticket["documentId"].as_str().unwrap();
    wait_until_processed(&server, &token, id);
    // A replay cannot swap the file under its citations
    assert_eq!(put(b"HELLO"), 409);
    let (_, details) = server.call("GET", &format!("/documents/{id}"), Some(&token), None);
    let downloaded = Server::agent()
        .get(details["downloadUrl"].as_str().unwrap())
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(downloaded, "hello");
}

#[test]
fn the_local_account_cannot_be_claimed_over_http() {
    let server = Server::start();
    let (status, body) = server.call(
        "POST",
        "/auth/register",
        None,
        Some(r#"{"email":"local@askdocs.localhost","password":"Correct1horse"}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("reserved"));
}

#[test]
fn failed_logins_are_limited_per_email() {
    let server = Server::start();
    signed_in(&server, "guess@example.com");
    let wrong = r#"{"email":"guess@example.com","password":"Wrong1horse"}"#;
    let statuses: Vec<u16> = (0..12)
        .map(|_| server.call("POST", "/auth/login", None, Some(wrong)).0)
        .collect();
    assert_eq!(&statuses[..10], &[401; 10]);
    let (status, body) = server.call("POST", "/auth/login", None, Some(wrong));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // The right password waits too: the email is locked for the window
    let right = r#"{"email":"guess@example.com","password":"Correct1horse"}"#;
    assert_eq!(server.call("POST", "/auth/login", None, Some(right)).0, 429);
}

fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

#[test]
fn a_flood_of_wrong_logins_keeps_memory_bounded() {
    // Per-client limits would stop the flood early; lift them to stress hashing itself.
    let server = Server::start_with(&[
        ("ASKDOCS_LOGIN_FAILURES_PER_CLIENT", "100000"),
        ("ASKDOCS_LOGIN_FAILURES_PER_EMAIL", "100000"),
    ]);
    let threads: Vec<_> = (0..200)
        .map(|index| {
            let url = format!("{}/auth/login", server.base_url);
            std::thread::spawn(move || {
                let body = json!({"email": format!("flood{index}@example.com"), "password": "Wrong1horse"}).to_string();
                match Server::agent().post(&url).set("Content-Type", "application/json").send_string(&body) {
                    Ok(response) => response.status(),
                    Err(ureq::Error::Status(status, _)) => status,
                    Err(error) => panic!("{error}"),
                }
            })
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    assert!(
        statuses.iter().all(|status| [401, 429].contains(status)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "the waiting room overflowed: {statuses:?}"
    );
    let peak = peak_rss_mb(server.pid());
    println!("peak RSS after 200 concurrent logins: {peak} MB");
    assert!(peak < 1024, "peak RSS {peak} MB");
}

#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = Server::start();
    let token = signed_in(&server, "private@example.com");
    upload_directly(&server, &token, "notes.txt", "text/plain", b"private words");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(server.data_dir()), 0o700);
    for entry in walk(server.data_dir()) {
        let expected = if entry.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&entry), expected, "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

#[test]
fn bad_ids_and_cursors_are_refused_before_any_store() {
    let server = Server::start();
    let token = signed_in(&server, "ids@example.com");
    let long = "x".repeat(2000);
    for path in [
        format!("/documents/{long}"),
        "/documents/not-a-uuid".to_string(),
        format!("/documents?cursor={long}"),
        "/documents?cursor=eyJ0Ijoibm90IGEgdGltZSIsImkiOiJ4In0".to_string(),
        "/query/history?cursor=%00".to_string(),
    ] {
        let (status, body) = server.call("GET", &path, Some(&token), None);
        assert!([400, 404].contains(&status), "{path}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    for ids in [json!([]), json!([""]), json!([long]), json!(["../x"])] {
        let (status, body) = server.call(
            "POST",
            "/query/ask",
            Some(&token),
            Some(&json!({"question": "anything?", "documentIds": ids}).to_string()),
        );
        assert!([400, 404].contains(&status), "{ids}: {status} {body}");
    }
}
