//! The words of texts as every layer reads them: query terms, a light
//! stemmer, BM25 over a handful of texts, sentence splitting, shortening.
//! How relevant a text is to a question is `query::answer::relevance`.

/// Words too common to say anything about what a question is after.
pub const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "could", "did", "do", "does",
    "for", "from", "had", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of",
    "on", "or", "our", "please", "say", "says", "should", "tell", "that", "the", "their", "there",
    "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who",
    "whom", "why", "will", "with", "would", "you", "your",
];

/// A document's title as its passages are embedded under: the file name
/// without its extension, separators as spaces (`debian-policy.pdf` →
/// "debian policy", `Linux-PAM_SAG.txt` → "Linux PAM SAG").
pub fn document_title(file_name: &str) -> String {
    let stem = file_name
        .rsplit_once('.')
        .filter(|(stem, extension)| !stem.is_empty() && extension.len() <= 5)
        .map_or(file_name, |(stem, _)| stem);
    stem.replace(['-', '_'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` under `title`, as the embedder reads a passage, and where `text`
/// starts in it (sentence spans of `text` move by that much).
pub fn titled(title: &str, text: &str) -> (String, usize) {
    if title.is_empty() {
        return (text.to_string(), 0);
    }
    let prefix = format!("{title}\n\n");
    let start = prefix.len();
    (prefix + text, start)
}

/// The words of a question worth searching for, as typed (punctuation at the
/// ends removed, so `E-4012?` is `E-4012`).
pub fn query_terms(text: &str) -> Vec<&str> {
    trimmed_words(text)
        .filter(|word| !STOPWORDS.contains(&word.to_lowercase().as_str()))
        .collect()
}

/// A text cut at whitespace, punctuation trimmed from each word's ends (the
/// one cut questions, passages and the keyword index share).
fn trimmed_words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|word| !word.is_empty())
}

/// Characters that join the parts of a code (`E-4012`, `v2.3`, `io_uring`).
fn joins_a_code(c: char) -> bool {
    matches!(c, '-' | '.' | '_' | '/' | ':')
}

/// The terms a passage is found by, and a question searches with: lower-cased
/// and stemmed, stopwords and lone letters dropped. A code such as `E-4012`
/// counts whole and by its parts, so the exact code weighs most.
pub fn keyword_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for word in trimmed_words(text) {
        let mut parts = 0;
        for part in word
            .split(|c: char| !c.is_alphanumeric())
            .filter(|part| !part.is_empty())
        {
            parts += 1;
            let lower = part.to_lowercase();
            let lone_letter = lower.chars().count() == 1 && !lower.chars().all(|c| c.is_numeric());
            if lone_letter || STOPWORDS.contains(&lower.as_str()) {
                continue;
            }
            terms.push(stem(&lower));
        }
        if parts > 1 && word.chars().any(joins_a_code) {
            terms.push(word.to_lowercase());
        }
    }
    terms
}

/// A light English stemmer: enough that "fees" meets "fee", "batteries"
/// meets "battery" and "valves", "valved" and "valve" all meet as "valv".
pub fn stem(word: &str) -> String {
    let mut stemmed = String::new();
    stem_into(word, &mut stemmed);
    stemmed
}

/// [`stem`] into `stemmed` (cleared first), so a loop over many words can
/// reuse one buffer.
pub fn stem_into(word: &str, stemmed: &mut String) {
    stemmed.clear();
    if word.is_ascii() {
        stemmed.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    } else {
        stemmed.push_str(&word.to_lowercase());
    }
    let long_enough = |stem: &str| stem.chars().count() >= 3;
    if let Some(stem) = stemmed.strip_suffix("ies").filter(|stem| long_enough(stem)) {
        let keep = stem.len();
        stemmed.truncate(keep);
        stemmed.push('y');
    } else if let Some(stem) = stemmed.strip_suffix("es").filter(|stem| {
        long_enough(stem)
            && (stem.ends_with(['s', 'x', 'z']) || stem.ends_with("ch") || stem.ends_with("sh"))
    }) {
        let keep = stem.len();
        stemmed.truncate(keep);
    } else {
        for suffix in ["ing", "ed", "ly", "s"] {
            let Some(stem) = stemmed.strip_suffix(suffix) else {
                continue;
            };
            // "status", "analysis" and "class" are not plurals.
            let not_a_plural = suffix == "s" && stem.ends_with(['s', 'u', 'i']);
            if long_enough(stem) && !not_a_plural {
                let keep = stem.len();
                stemmed.truncate(keep);
            }
            break;
        }
    }
    if stemmed.chars().count() > 3 && stemmed.ends_with('e') {
        stemmed.pop();
    }
}

/// Lower-cased, stemmed words of a text (codes whole and by their parts).
pub fn stemmed_words(text: &str) -> Vec<String> {
    search_words(text).map(stem).collect()
}

/// The words of a text as search sees them, cut as a question's terms are
/// (at whitespace, punctuation trimmed from the ends), so a code the question
/// names (`PAM_SILENT`, `pam_unix.so`, `E-4012`) meets itself in the text. A
/// code also counts by its parts (`PAM`, `SILENT`), as keyword search does.
pub(crate) fn search_words(text: &str) -> impl Iterator<Item = &str> {
    trimmed_words(text).flat_map(|word| {
        let is_code = word.contains(|c: char| !c.is_alphanumeric());
        let parts = word
            .split(|c: char| !c.is_alphanumeric())
            .filter(move |part| is_code && !part.is_empty());
        std::iter::once(word).chain(parts)
    })
}

/// Ranks `texts` by BM25 for the words of `query`, taking the texts themselves
/// as the corpus: for a store without a keyword index, the words of a wider
/// set of passages found by meaning. Only texts sharing a term are returned,
/// best first, as (index, score).
pub fn bm25_rank(query: &str, texts: &[&str]) -> Vec<(usize, f32)> {
    const K1: f32 = 1.2;
    const B: f32 = 0.75;
    let mut terms: Vec<String> = query_terms(query).into_iter().map(stem).collect();
    terms.sort();
    terms.dedup();
    if terms.is_empty() || texts.is_empty() {
        return Vec::new();
    }
    let documents: Vec<Vec<String>> = texts.iter().map(|text| stemmed_words(text)).collect();
    let average_length =
        documents.iter().map(Vec::len).sum::<usize>() as f32 / documents.len() as f32;
    let count = documents.len() as f32;
    let weights: Vec<f32> = terms
        .iter()
        .map(|term| {
            let containing = documents
                .iter()
                .filter(|words| words.contains(term))
                .count() as f32;
            ((count - containing + 0.5) / (containing + 0.5) + 1.0).ln()
        })
        .collect();
    let mut ranked: Vec<(usize, f32)> = documents
        .iter()
        .enumerate()
        .filter_map(|(index, words)| {
            let length_norm = 1.0 - B + B * words.len() as f32 / average_length.max(1.0);
            let score: f32 = terms
                .iter()
                .zip(&weights)
                .map(|(term, weight)| {
                    let frequency = words.iter().filter(|word| *word == term).count() as f32;
                    weight * frequency * (K1 + 1.0) / (frequency + K1 * length_norm)
                })
                .sum();
            (score > 0.0).then_some((index, score))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

/// The sentences of `text`, each with its whitespace collapsed to single spaces.
pub fn sentences(text: &str) -> Vec<String> {
    sentence_spans(text)
        .into_iter()
        .map(|span| text[span].split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Words that end in a full stop without ending the sentence.
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "eg", "ie", "cf", "vs", "approx", "ca", "mr", "mrs", "ms", "dr", "prof", "st",
    "no", "nos", "fig", "figs", "sec", "ch", "vol", "pp", "p", "ref", "incl", "resp", "jan", "feb",
    "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "al",
];

/// Byte ranges of the sentences of `text`, trimmed, in order; pieces with no
/// letter or digit are left out.
///
/// A sentence ends at `.`, `!`, `?` or `…` (with any closing quotes or
/// brackets) before whitespace, unless the word is an abbreviation or an
/// initial, or the next word starts in lower case. A line break ends one when
/// the line looks complete on its own (a heading, a list item, a line ending
/// in `:`, or a blank line follows); otherwise it is a wrapped line and the
/// sentence goes on.
pub fn sentence_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    let push = |spans: &mut Vec<std::ops::Range<usize>>, start: usize, end: usize| {
        let piece = &text[start..end];
        let trimmed_start = start + (piece.len() - piece.trim_start().len());
        let trimmed_end = start + piece.trim_end().len();
        if trimmed_start < trimmed_end
            && text[trimmed_start..trimmed_end]
                .chars()
                .any(char::is_alphanumeric)
        {
            spans.push(trimmed_start..trimmed_end);
        }
    };
    let mut index = 0;
    while index < text.len() {
        let c = text[index..]
            .chars()
            .next()
            .expect("index is on a character boundary");
        let after = index + c.len_utf8();
        if matches!(c, '.' | '!' | '?' | '…') {
            // Closing quotes and brackets belong to the sentence they close.
            let mut end = after;
            while let Some(next) = text[end..].chars().next() {
                if matches!(next, '"' | '\'' | '”' | '’' | ')' | ']' | '»') {
                    end += next.len_utf8();
                } else {
                    break;
                }
            }
            let before_space = text[end..].chars().next().is_none_or(char::is_whitespace);
            if before_space && (c != '.' || ends_sentence(&text[start..index], &text[end..])) {
                push(&mut spans, start, end);
                start = end;
                index = end;
                continue;
            }
        } else if c == '\n' {
            let line_start = text[..index].rfind('\n').map_or(0, |at| at + 1).max(start);
            if line_ends_sentence(&text[line_start..index], &text[after..]) {
                push(&mut spans, start, index);
                start = after;
            }
        }
        index = after;
    }
    push(&mut spans, start, text.len());
    spans
}

/// Whether a full stop after `before` (the sentence so far) ends it, given what follows.
fn ends_sentence(before: &str, following: &str) -> bool {
    let word = before
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_start_matches(['(', '"', '\'', '“', '‘', '[']);
    let lower = word.to_lowercase();
    // "J." in "J. Smith", "A." in "Appendix A." followed by lower case, "e.g."
    let initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    if initial || ABBREVIATIONS.contains(&lower.as_str()) {
        return false;
    }
    // "approx. five": a lower-case word goes on with the same sentence.
    let next = following.trim_start().chars().next();
    !next.is_some_and(char::is_lowercase)
}

/// Whether the line `line` (without its line break) ends a sentence, given
/// the text after the break.
fn line_ends_sentence(line: &str, following: &str) -> bool {
    let line = line.trim();
    let next_line = following.lines().next().unwrap_or("").trim();
    if line.is_empty() || next_line.is_empty() {
        return true;
    }
    let list_item = |text: &str| {
        text.starts_with(['-', '*', '•', '–', '#', '|', '>'])
            || text.split_once(['.', ')']).is_some_and(|(number, _)| {
                !number.is_empty()
                    && number.len() <= 3
                    && number.chars().all(|c| c.is_ascii_alphanumeric())
            })
    };
    // A heading or label: short, no verb-ending punctuation, next starts anew.
    let heading = line.chars().count() <= 60
        && !line.ends_with([',', ';'])
        && next_line
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
    line.ends_with([':', '.', '!', '?', '|']) || list_item(next_line) || heading
}

/// At most `max_chars` characters, cut at a word boundary, with `…` when cut.
pub fn shorten(text: &str, max_chars: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max_chars {
        return text;
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max_chars / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_terms_keep_codes_whole_and_in_parts() {
        assert_eq!(
            keyword_terms("What does error E-4012 mean for the pumps?"),
            vec!["error", "4012", "e-4012", "mean", "pump"]
        );
        assert_eq!(
            [
                "valve",
                "valves",
                "valved",
                "batteries",
                "boxes",
                "fees",
                "status",
                "collected"
            ]
            .map(stem),
            ["valv", "valv", "valv", "battery", "box", "fee", "status", "collect"]
        );
        assert_eq!(
            keyword_terms("Version v2.3, a b 7"),
            vec!["version", "v2", "3", "v2.3", "7"]
        );
        assert!(keyword_terms("the of and ... !!").is_empty());
    }

    #[test]
    fn questions_keep_their_meaningful_terms() {
        assert_eq!(
            query_terms("What does error E-4012 mean?"),
            vec!["error", "E-4012", "mean"]
        );
        assert!(query_terms("what is the").is_empty());
    }

    #[test]
    fn sentences_split_at_ends_and_lines() {
        assert_eq!(
            sentences("First one. Second one? Version 2.5 stays.\nA line without a stop"),
            vec![
                "First one.",
                "Second one?",
                "Version 2.5 stays.",
                "A line without a stop"
            ]
        );
    }

    #[test]
    fn abbreviations_initials_and_lower_case_do_not_end_sentences() {
        assert_eq!(
            sentences("Use a wrench, e.g. the 10 mm one. Ask Dr. Lee or J. Smith (approx. five minutes). \"Done.\" Then rest."),
            vec![
                "Use a wrench, e.g. the 10 mm one.",
                "Ask Dr. Lee or J. Smith (approx. five minutes).",
                "\"Done.\"",
                "Then rest."
            ]
        );
    }

    #[test]
    fn wrapped_lines_join_while_headings_and_list_items_stand_alone() {
        let text = "Maintenance\nThe keeper checks the fog pump every\nmorning before the ferry leaves.\n- Oil the gears\n- Wind the clock\n\nNext paragraph";
        assert_eq!(
            sentences(text),
            vec![
                "Maintenance",
                "The keeper checks the fog pump every morning before the ferry leaves.",
                "- Oil the gears",
                "- Wind the clock",
                "Next paragraph"
            ]
        );
    }

    #[test]
    fn spans_point_at_the_sentences_in_the_text() {
        let text = "  Alpha beta.\n\n Gamma!  ";
        let spans = sentence_spans(text);
        assert_eq!(
            spans
                .iter()
                .map(|span| &text[span.clone()])
                .collect::<Vec<_>>(),
            vec!["Alpha beta.", "Gamma!"]
        );
    }

    #[test]
    fn bm25_prefers_rare_terms_and_skips_texts_without_any() {
        let texts = [
            "The lighthouse keeper logs the tide.",
            "Error code E-4012 means the pump stalled.",
            "Recipes for bread.",
            "The lighthouse lamp and the lighthouse bell.",
        ];
        let ranked = bm25_rank("what does E-4012 mean at the lighthouse?", &texts);
        assert_eq!(ranked[0].0, 1, "{ranked:?}");
        assert!(ranked.iter().all(|(index, _)| *index != 2));
        assert!(bm25_rank("the", &texts).is_empty());
    }

    #[test]
    fn shortening_cuts_at_words() {
        assert_eq!(shorten("one two three four", 100), "one two three four");
        assert_eq!(shorten("alpha beta gamma delta", 12), "alpha beta…");
    }
}
