//! JSON request bodies: parsing never panics, and a refusal always says why.
#![no_main]

use askdocs_shared::http::parse_json;
use libfuzzer_sys::fuzz_target;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Ask {
    question: String,
    document_ids: Option<Vec<String>>,
    top_k: Option<i64>,
    conversation_id: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    if let Err(error) = parse_json::<Ask>(data) {
        assert!(!error.public_message().is_empty());
    }
    let _ = parse_json::<serde_json::Value>(data);
});
