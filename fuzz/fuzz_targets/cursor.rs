//! Cursors: any string is refused or decodes to a position that encodes back the same.
#![no_main]

use askdocs_shared::pagination::{decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(position) = decode_cursor(text) {
        assert_eq!(decode_cursor(&encode_cursor(&position)).unwrap(), position);
    }
});
