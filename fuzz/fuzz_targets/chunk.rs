//! Chunking: passages always fit, count up and carry text, whatever the text.
#![no_main]

use askdocs_shared::config::ChunkSettings;
use askdocs_shared::processing::chunk::{chunk_pages, Page};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&size, rest)) = data.split_first() else { return };
    let max_chars = 200 + usize::from(size) * 4;
    let settings = ChunkSettings { max_chars, overlap_chars: max_chars / 4 };
    let text = String::from_utf8_lossy(rest).into_owned();
    let chunks = chunk_pages(&[Page { number: 1, text }], settings);
    for (ordinal, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk.ordinal as usize, ordinal);
        assert!(chunk.text.chars().count() <= max_chars);
        assert!(chunk.text.chars().any(char::is_alphanumeric));
    }
});
