//! Splitting pages into passages for retrieval.
//!
//! Passages end at the strongest boundary that fits — a paragraph, then a
//! line, a sentence, a word, and only as a last resort anywhere — never cross
//! a page, and overlap a little so a fact that straddles a boundary is whole in
//! at least one of them. The work is linear in the text whatever its shape
//! (one giant line, no spaces, only punctuation): boundaries are found in one
//! pass and each passage is placed with binary searches.

use serde::{Deserialize, Serialize};

use crate::config::ChunkSettings;

/// One page of extracted text; numbers start at 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub number: u32,
    pub text: String,
}

/// A passage before it has a vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftChunk {
    pub ordinal: u32,
    pub page: u32,
    pub text: String,
}

/// More passages than a document may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyChunks {
    pub limit: usize,
}

/// Where a passage may end (and the next begin), strongest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Word = 0,
    Sentence = 1,
    Line = 2,
    Paragraph = 3,
}

const STRENGTHS: [Strength; 4] = [
    Strength::Paragraph,
    Strength::Line,
    Strength::Sentence,
    Strength::Word,
];

/// A position between two characters: its byte offset and character index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    byte: usize,
    char: usize,
}

/// Every boundary of a text, by strength, in order.
struct Boundaries {
    by_strength: [Vec<Cut>; 4],
    chars: usize,
}

impl Boundaries {
    fn of(text: &str) -> Self {
        let mut by_strength: [Vec<Cut>; 4] = Default::default();
        let mut last_visible: Option<char> = None;
        let mut in_space = false;
        let mut newlines = 0;
        let mut chars = 0;
        for (byte, c) in text.char_indices() {
            if c.is_whitespace() {
                if !in_space {
                    in_space = true;
                    newlines = 0;
                }
                newlines += usize::from(c == '\n');
            } else {
                // A boundary sits before the first character after a run of
                // whitespace; the run and what precedes it say how strong it is.
                if in_space && last_visible.is_some() {
                    let strength = match newlines {
                        2.. => Strength::Paragraph,
                        1 => Strength::Line,
                        _ if matches!(last_visible, Some('.' | '!' | '?' | '。' | '！' | '？')) => {
                            Strength::Sentence
                        }
                        _ => Strength::Word,
                    };
                    by_strength[strength as usize].push(Cut { byte, char: chars });
                }
                in_space = false;
                last_visible = Some(c);
            }
            chars += 1;
        }
        Boundaries { by_strength, chars }
    }

    /// The strongest, then latest, cut with `low < char <= high`.
    fn best_end(&self, low: usize, high: usize) -> Option<Cut> {
        STRENGTHS.iter().find_map(|&strength| {
            let cuts = &self.by_strength[strength as usize];
            let after = cuts.partition_point(|cut| cut.char <= high);
            after
                .checked_sub(1)
                .map(|index| cuts[index])
                .filter(|cut| cut.char > low)
        })
    }

    /// The earliest sentence (or else word) cut with `low <= char < high`, for an overlap.
    fn overlap_start(&self, low: usize, high: usize) -> Option<Cut> {
        [Strength::Paragraph, Strength::Line, Strength::Sentence]
            .iter()
            .filter_map(|&strength| self.first_in(strength, low, high))
            .min_by_key(|cut| cut.char)
            .or_else(|| self.first_in(Strength::Word, low, high))
    }

    fn first_in(&self, strength: Strength, low: usize, high: usize) -> Option<Cut> {
        let cuts = &self.by_strength[strength as usize];
        let index = cuts.partition_point(|cut| cut.char < low);
        cuts.get(index).copied().filter(|cut| cut.char < high)
    }
}

/// The cut `count` characters after `from` (walking; used only when a text
/// has no boundary at all in a passage's length).
fn cut_after(text: &str, from: Cut, count: usize) -> Cut {
    let byte = text[from.byte..]
        .char_indices()
        .nth(count)
        .map_or(text.len(), |(offset, _)| from.byte + offset);
    Cut {
        byte,
        char: from.char + count,
    }
}

/// Splits every page into passages of at most `max_chars` characters.
pub fn chunk_pages(pages: &[Page], settings: ChunkSettings) -> Vec<DraftChunk> {
    chunk_pages_bounded(pages, settings, usize::MAX).expect("no limit")
}

/// As [`chunk_pages`], stopping as soon as there would be more than `limit` passages.
pub fn chunk_pages_bounded(
    pages: &[Page],
    settings: ChunkSettings,
    limit: usize,
) -> Result<Vec<DraftChunk>, TooManyChunks> {
    let max = settings.max_chars.max(1);
    let overlap = settings.overlap_chars.min(max / 2);
    let mut chunks = Vec::new();
    for page in pages {
        let text = page.text.as_str();
        let boundaries = Boundaries::of(text);
        let mut start = Cut { byte: 0, char: 0 };
        while start.char < boundaries.chars {
            let end = if boundaries.chars - start.char <= max {
                Cut {
                    byte: text.len(),
                    char: boundaries.chars,
                }
            } else {
                // At least half a passage, ending at the strongest boundary that fits.
                boundaries
                    .best_end(start.char + max / 2, start.char + max)
                    .unwrap_or_else(|| cut_after(text, start, max))
            };
            let passage = text[start.byte..end.byte].trim();
            if passage.chars().any(char::is_alphanumeric) {
                if chunks.len() == limit {
                    return Err(TooManyChunks { limit });
                }
                chunks.push(DraftChunk {
                    ordinal: chunks.len() as u32,
                    page: page.number,
                    text: passage.to_string(),
                });
            }
            if end.char >= boundaries.chars {
                break;
            }
            let next = match overlap {
                0 => end,
                _ => boundaries
                    .overlap_start(end.char.saturating_sub(overlap), end.char)
                    .filter(|cut| cut.char > start.char)
                    .unwrap_or(end),
            };
            start = next;
        }
    }
    Ok(chunks)
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
        // Sentences are not cut in half, and neighbours overlap.
        assert!(
            chunks[1..].iter().all(|chunk| chunk.text.ends_with('.')),
            "{:?}",
            chunks[1].text
        );
        assert!(chunks[1..]
            .iter()
            .all(|chunk| chunk.text.starts_with("The tide")));
        let covered: usize = chunks[1..].iter().map(|c| c.text.len()).sum();
        assert!(covered > long.trim().len(), "overlapping passages");
    }

    #[test]
    fn paragraphs_are_preferred_to_sentences() {
        let first = "A sentence about tides. ".repeat(25);
        let text = format!(
            "{}\n\n{}",
            first.trim(),
            "Second paragraph here. ".repeat(30)
        );
        let chunks = chunk_pages(&[page(1, &text)], ChunkSettings::default());
        assert_eq!(chunks[0].text, first.trim());
    }

    #[test]
    fn blank_pages_give_no_passages() {
        assert!(chunk_pages(
            &[page(1, "  \n\n "), page(2, "--- ***")],
            ChunkSettings::default()
        )
        .is_empty());
    }

    #[test]
    fn text_without_any_boundary_is_cut_evenly() {
        let text = "é".repeat(2500);
        let settings = ChunkSettings {
            max_chars: 1000,
            overlap_chars: 150,
        };
        let chunks = chunk_pages(&[page(1, &text)], settings);
        let lengths: Vec<usize> = chunks.iter().map(|c| c.text.chars().count()).collect();
        assert_eq!(lengths, vec![1000, 1000, 500]);
    }

    #[test]
    fn the_chunk_limit_stops_early() {
        let text = "word ".repeat(10_000);
        let error =
            chunk_pages_bounded(&[page(1, &text)], ChunkSettings::default(), 3).unwrap_err();
        assert_eq!(error, TooManyChunks { limit: 3 });
    }

    #[test]
    fn awkward_shapes_are_chunked_in_linear_time() {
        // GIVEN a few MB in shapes that defeat naive splitters
        let shapes = [
            "x".repeat(3_000_000),
            ".".repeat(3_000_000),
            "a ".repeat(1_500_000),
            "\n".repeat(1_000_000) + &"y".repeat(1_000_000),
            ". ".repeat(1_500_000),
        ];
        for shape in &shapes {
            // WHEN chunked THEN every passage fits and the whole text is covered
            let chunks = chunk_pages(&[page(1, shape)], ChunkSettings::default());
            assert!(chunks.iter().all(|c| c.text.chars().count() <= 1000));
        }
    }
}
