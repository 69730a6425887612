//! Splitting pages into passages for retrieval.
//!
//! Passages follow sentence and paragraph boundaries (the `text-splitter`
//! crate), never cross a page, and overlap a little so a fact that straddles a
//! boundary is whole in at least one of them.

use text_splitter::{ChunkConfig, TextSplitter};

use crate::extract::Page;

/// Chunk size and overlap, in characters (about four to a token in English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    pub max_chars: usize,
    pub overlap_chars: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        // ~250 tokens: inside MiniLM's 256-token window for most English prose,
        // so the whole passage is embedded, and long enough to answer from.
        ChunkSettings {
            max_chars: 1000,
            overlap_chars: 150,
        }
    }
}

/// A passage before it has a vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftChunk {
    pub ordinal: u32,
    pub page: u32,
    pub text: String,
}

pub fn chunk_pages(pages: &[Page], settings: ChunkSettings) -> Vec<DraftChunk> {
    let config = ChunkConfig::new(settings.max_chars)
        .with_overlap(settings.overlap_chars.min(settings.max_chars / 2))
        .expect("overlap is at most half the chunk size")
        .with_trim(true);
    let splitter = TextSplitter::new(config);
    let mut chunks = Vec::new();
    for page in pages {
        for text in splitter.chunks(&page.text) {
            if text.chars().any(char::is_alphanumeric) {
                chunks.push(DraftChunk {
                    ordinal: chunks.len() as u32,
                    page: page.number,
                    text: text.to_string(),
                });
            }
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(number: u32, text: &str) -> Page {
        Page {
            number,
            text: text.to_string(),
        }
    }

    #[test]
    fn passages_stay_within_size_and_keep_their_page() {
        let long = "The tide rises twice a day. ".repeat(200);
        let chunks = chunk_pages(
            &[page(1, "Short first page."), page(2, &long)],
            ChunkSettings::default(),
        );
        assert_eq!(
            chunks[0],
            DraftChunk {
                ordinal: 0,
                page: 1,
                text: "Short first page.".into()
            }
        );
        assert!(chunks.len() > 3);
        assert!(chunks[1..].iter().all(|chunk| chunk.page == 2));
        assert!(chunks
            .iter()
            .all(|chunk| chunk.text.chars().count() <= 1000));
        let ordinals: Vec<u32> = chunks.iter().map(|chunk| chunk.ordinal).collect();
        assert_eq!(ordinals, (0..chunks.len() as u32).collect::<Vec<_>>());
        // Sentences are not cut in half.
        assert!(
            chunks[1..].iter().all(|chunk| chunk.text.ends_with('.')),
            "{:?}",
            chunks[1].text
        );
    }

    #[test]
    fn blank_pages_give_no_passages() {
        assert!(chunk_pages(
            &[page(1, "  \n\n "), page(2, "--- ***")],
            ChunkSettings::default()
        )
        .is_empty());
    }
}
