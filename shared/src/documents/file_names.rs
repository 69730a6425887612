//! File names as uploaders give them, checked (object keys use a safe form
//! of them: [`crate::model::object_key`]).

use crate::error::{Error, Result};
use crate::model::characters::is_bidi_control;

const MAX_FILE_NAME_CHARS: usize = 255;

pub fn validate_file_name(file_name: &str) -> Result<String> {
    let name = file_name.trim();
    if name.is_empty() {
        return Err(Error::Validation("fileName is required".into()));
    }
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(Error::Validation(format!(
            "fileName must be at most {MAX_FILE_NAME_CHARS} characters"
        )));
    }
    // "invoice\u{202E}fdp.exe" would show as "invoiceexe.pdf".
    if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Error::Validation(
            "fileName must not contain control or bidirectional override characters".into(),
        ));
    }
    Ok(name.to_string())
}
