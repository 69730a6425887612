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

pub use askdocs_extract::Page;

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

/// Where a passage may end (and the next begin), strongest last; word
/// boundaries, the weakest, are looked for only where none of these is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Sentence = 0,
    Line = 1,
    Paragraph = 2,
}

/// A position between two characters: its byte offset and character index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    byte: usize,
    char: usize,
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？')
}

/// Characters in UTF-8 bytes: every byte that does not continue a character.
/// Counted in blocks of 64 into a byte-wide sum, which the compiler turns
/// into vector instructions.
fn count_chars(bytes: &[u8]) -> usize {
    let starts_char = |byte: &u8| u8::from((*byte as i8) >= -0x40);
    let blocks = bytes.chunks_exact(64);
    let rest: usize = blocks
        .remainder()
        .iter()
        .map(|byte| usize::from(starts_char(byte)))
        .sum();
    blocks
        .map(|block| usize::from(block.iter().map(starts_char).sum::<u8>()))
        .sum::<usize>()
        + rest
}

/// The boundaries of one page. A boundary sits before the first character
/// after a run of whitespace that has something visible before it; the run
/// and what precedes it say how strong it is. Paragraph, line and sentence
/// boundaries are few and found up front by searching for newlines and
/// sentence ends (memchr); word boundaries are many and looked for only in a
/// window that has no stronger one, which is rare in prose. Every search
/// moves forward or stays inside one passage's window, so the work stays
/// linear in the text.
struct Boundaries<'a> {
    text: &'a str,
    /// Byte offsets of the paragraph, line and sentence cuts, each list in
    /// order (indexed by `Strength`). Offsets order cuts as character indices
    /// do, so only a chosen cut has its character index counted.
    strong: [Vec<usize>; 3],
    chars: usize,
    /// Byte offset of the first visible character (the text's length if none).
    first_visible: usize,
}

impl<'a> Boundaries<'a> {
    fn of(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let first_visible = text
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(text.len());
        let mut strong: [Vec<usize>; 3] = Default::default();
        // Runs holding a newline: lines and paragraphs.
        let mut from = 0;
        while let Some(offset) = memchr::memchr(b'\n', &bytes[from..]) {
            let newline = from + offset;
            let (run_start, newlines_before) = whitespace_before(text, newline, from);
            let (run_end, newlines_after) = whitespace_after(text, newline);
            if run_start > 0 && run_end < text.len() {
                let strength = match newlines_before + newlines_after {
                    2.. => Strength::Paragraph,
                    _ => Strength::Line,
                };
                strong[strength as usize].push(run_end);
            }
            from = run_end;
        }
        // Sentence ends followed by whitespace without a newline.
        let mut sentences = Vec::new();
        let mut sentence_after = |end_of_mark: usize| {
            let (run_end, newlines) = whitespace_after(text, end_of_mark);
            if run_end > end_of_mark && newlines == 0 && run_end < text.len() {
                sentences.push(run_end);
            }
        };
        for mark in memchr::memchr3_iter(b'.', b'!', b'?', bytes) {
            // Most marks are inside words ("e.g", "1.2", "file.txt").
            if bytes
                .get(mark + 1)
                .is_some_and(|next| next.is_ascii() && !is_ascii_whitespace(*next))
            {
                continue;
            }
            sentence_after(mark + 1);
        }
        if !text.is_ascii() {
            // 。！？ all start with 0xE3 or 0xEF in UTF-8.
            for lead in memchr::memchr2_iter(0xE3, 0xEF, bytes) {
                if let Some(mark) = text.get(lead..).and_then(|rest| rest.chars().next()) {
                    if is_sentence_end(mark) {
                        sentence_after(lead + mark.len_utf8());
                    }
                }
            }
            sentences.sort_unstable();
        }
        strong[Strength::Sentence as usize] = sentences;
        Boundaries {
            text,
            strong,
            chars: count_chars(bytes),
            first_visible,
        }
    }

    fn end(&self) -> Cut {
        Cut {
            byte: self.text.len(),
            char: self.chars,
        }
    }

    /// `from` moved forward by `count` characters, or the end of the text.
    fn forward(&self, from: Cut, count: usize) -> Cut {
        let bytes = self.text.as_bytes();
        let (mut byte, mut left) = (from.byte, count);
        while left > 0 && byte < bytes.len() {
            // Sixteen ASCII bytes at a time: sixteen characters.
            if left >= 16 {
                if let Some(block) = bytes.get(byte..byte + 16) {
                    if block.is_ascii() {
                        byte += 16;
                        left -= 16;
                        continue;
                    }
                }
            }
            byte += utf8_width(bytes[byte]);
            left -= 1;
        }
        Cut {
            byte,
            char: from.char + (count - left),
        }
    }

    /// `from` moved back by `count` characters, or the start of the text.
    fn back(&self, from: Cut, count: usize) -> Cut {
        let count = count.min(from.char);
        let bytes = self.text.as_bytes();
        let (mut byte, mut left) = (from.byte, count);
        while left > 0 {
            if left >= 16 && byte >= 16 && bytes[byte - 16..byte].is_ascii() {
                byte -= 16;
                left -= 16;
                continue;
            }
            byte -= 1;
            while !self.text.is_char_boundary(byte) {
                byte -= 1;
            }
            left -= 1;
        }
        Cut {
            byte,
            char: from.char - count,
        }
    }

    /// The cut at `byte`, counting its characters from `from`, which precedes it.
    fn cut_at(&self, from: Cut, byte: usize) -> Cut {
        Cut {
            byte,
            char: from.char + count_chars(&self.text.as_bytes()[from.byte..byte]),
        }
    }

    /// The strongest, then latest, cut with `low < char <= high`.
    fn best_end(&self, low: Cut, high: Cut) -> Option<Cut> {
        [Strength::Paragraph, Strength::Line, Strength::Sentence]
            .iter()
            .find_map(|&strength| {
                let cuts = &self.strong[strength as usize];
                let after = cuts.partition_point(|&byte| byte <= high.byte);
                after
                    .checked_sub(1)
                    .map(|index| cuts[index])
                    .filter(|&byte| byte > low.byte)
            })
            .map(|byte| self.cut_at(low, byte))
            .or_else(|| self.last_word_cut(low, high))
    }

    /// The earliest sentence (or stronger) cut with `low <= char < high`, else
    /// the earliest word cut there, for an overlap.
    fn overlap_start(&self, low: Cut, high: Cut) -> Option<Cut> {
        [Strength::Paragraph, Strength::Line, Strength::Sentence]
            .iter()
            .filter_map(|&strength| {
                let cuts = &self.strong[strength as usize];
                let index = cuts.partition_point(|&byte| byte < low.byte);
                cuts.get(index).copied().filter(|&byte| byte < high.byte)
            })
            .min()
            .map(|byte| self.cut_at(low, byte))
            .or_else(|| self.first_word_cut(low, high))
    }

    /// A boundary at `byte`, whose characters either side are given.
    fn is_cut(&self, byte: usize, before: char, after: char) -> bool {
        before.is_whitespace() && !after.is_whitespace() && byte > self.first_visible
    }

    /// The latest cut with `low < char <= high`; called when no stronger one
    /// is there, so any cut found is a word cut.
    fn last_word_cut(&self, low: Cut, high: Cut) -> Option<Cut> {
        let through = self.text[high.byte..]
            .chars()
            .next()
            .map_or(high.byte, |c| high.byte + c.len_utf8());
        let mut after: Option<char> = None;
        for (offset, before) in self.text[low.byte..through].char_indices().rev() {
            let byte = low.byte + offset + before.len_utf8();
            if let Some(after) = after {
                if byte <= high.byte && self.is_cut(byte, before, after) {
                    return Some(self.cut_at(low, byte));
                }
            }
            after = Some(before);
        }
        None
    }

    /// The earliest cut with `low <= char < high`, as [`Self::last_word_cut`].
    fn first_word_cut(&self, low: Cut, high: Cut) -> Option<Cut> {
        let mut before = self.text[..low.byte].chars().next_back();
        let window = self.text[low.byte..high.byte].char_indices();
        for (char, (offset, after)) in (low.char..).zip(window) {
            if before.is_some_and(|before| self.is_cut(low.byte + offset, before, after)) {
                return Some(Cut {
                    byte: low.byte + offset,
                    char,
                });
            }
            before = Some(after);
        }
        None
    }
}

/// `char::is_whitespace` for an ASCII byte (unlike `u8::is_ascii_whitespace`,
/// it counts the vertical tab).
fn is_ascii_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t'..=b'\r')
}

/// Bytes in the UTF-8 character that starts with `lead`.
fn utf8_width(lead: u8) -> usize {
    match lead {
        0..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Where the whitespace run holding the character before `byte` starts (not
/// before `floor`), and how many newlines it has before `byte`.
fn whitespace_before(text: &str, byte: usize, floor: usize) -> (usize, usize) {
    let mut start = byte;
    let mut newlines = 0;
    for (offset, c) in text[floor..byte].char_indices().rev() {
        if !c.is_whitespace() {
            break;
        }
        newlines += usize::from(c == '\n');
        start = floor + offset;
    }
    (start, newlines)
}

/// Where the whitespace run from `byte` ends, and how many newlines it has.
fn whitespace_after(text: &str, byte: usize) -> (usize, usize) {
    let mut newlines = 0;
    for (offset, c) in text[byte..].char_indices() {
        if !c.is_whitespace() {
            return (byte + offset, newlines);
        }
        newlines += usize::from(c == '\n');
    }
    (text.len(), newlines)
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
                boundaries.end()
            } else {
                // At least half a passage, ending at the strongest boundary
                // that fits, or else exactly `max` characters.
                let low = boundaries.forward(start, max / 2);
                let high = boundaries.forward(low, max - max / 2);
                boundaries.best_end(low, high).unwrap_or(high)
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
                    .overlap_start(boundaries.back(end, overlap), end)
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

    /// The chunker as it was before boundaries were found on demand: every
    /// boundary of the text collected in one pass. The new one must cut
    /// every text exactly where this one does.
    mod eager {
        use super::super::{ChunkSettings, Cut, Page};

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
                                _ if matches!(
                                    last_visible,
                                    Some('.' | '!' | '?' | '。' | '！' | '？')
                                ) =>
                                {
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

        pub fn passages(pages: &[Page], settings: ChunkSettings) -> Vec<(u32, String)> {
            let max = settings.max_chars.max(1);
            let overlap = settings.overlap_chars.min(max / 2);
            let mut passages = Vec::new();
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
                        boundaries
                            .best_end(start.char + max / 2, start.char + max)
                            .unwrap_or_else(|| cut_after(text, start, max))
                    };
                    let passage = text[start.byte..end.byte].trim();
                    if passage.chars().any(char::is_alphanumeric) {
                        passages.push((page.number, passage.to_string()));
                    }
                    if end.char >= boundaries.chars {
                        break;
                    }
                    start = match overlap {
                        0 => end,
                        _ => boundaries
                            .overlap_start(end.char.saturating_sub(overlap), end.char)
                            .filter(|cut| cut.char > start.char)
                            .unwrap_or(end),
                    };
                }
            }
            passages
        }
    }

    #[test]
    fn boundaries_found_on_demand_cut_where_a_full_scan_does() {
        // GIVEN random texts over an alphabet of every kind of boundary:
        // spaces, tabs, newlines, no-break and ideographic spaces, sentence
        // marks (ASCII and CJK), multi-byte letters
        let alphabet: Vec<&str> = vec![
            "a", "b", "word", "é", "日本", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u{a0}",
            "\u{3000}", ".", "!", "?", "。", "！", "？", "e.g.", "...",
        ];
        let mut random = crate::testing::fuzz::Rng::new(0x9E37_79B9_7F4A_7C15);
        let mut next = move |bound: usize| random.below(bound);
        for round in 0..400 {
            let pieces = next(600) + 1;
            let text: String = (0..pieces)
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            let settings = ChunkSettings {
                max_chars: [1, 2, 7, 40, 120, 1000][round % 6],
                overlap_chars: [0, 1, 3, 15, 60][next(5)],
            };
            let short: String = (0..next(40) + 1)
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            let pages = [page(1, &text), page(2, &short)];
            // WHEN both chunk it
            let found: Vec<(u32, String)> = chunk_pages(&pages, settings)
                .into_iter()
                .map(|chunk| (chunk.page, chunk.text))
                .collect();
            // THEN the passages are the same
            assert_eq!(
                found,
                eager::passages(&pages, settings),
                "{text:?} {settings:?}"
            );
        }
    }
}
