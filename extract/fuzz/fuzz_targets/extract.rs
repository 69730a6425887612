//! Extraction of every format, in-process. In askdocs the parsers run in a
//! sandboxed child process, so a crash found here cannot take the service
//! down; it is still a parser bug worth fixing or reporting upstream. Run
//! with `-rss_limit_mb` and `-timeout` as scripts/fuzz.sh does.
#![no_main]

use askdocs_extract::{extract, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else { return };
    let format = Format::ALL[usize::from(selector) % Format::ALL.len()];
    if let Ok(extracted) = extract(file, format) {
        assert!(!extracted.pages.is_empty());
    }
});
