//! Relevance: how well a passage or sentence answers a question — the share
//! of the question's terms it holds, its closeness in meaning, and the lines
//! that never answer (a question restated, a table of contents). Retrieval
//! orders passages by it and the extractive answerer picks sentences by it.

use crate::model::text::{query_terms, search_words, stem, stem_into};

/// The share (0–1) of the question's distinct search terms that appear in `text`.
pub fn term_coverage(question: &str, text: &str) -> f32 {
    QuestionTerms::new(question).coverage(text)
}

/// A question's distinct search terms, stemmed once to be looked for in many texts.
pub struct QuestionTerms {
    stems: Vec<String>,
    /// The first letter of each stem: a word starting otherwise cannot match,
    /// so it is not stemmed (stemming keeps a word's first letter).
    first_letters: Vec<char>,
    /// Each stem but its last letter, ready to be searched for (memmem). The
    /// stemmer lower-cases and then only cuts a suffix (or turns "ies" into
    /// "y"), so a word stemming to a term begins, in lower case, with the
    /// term's root: only words where a root occurs need stemming.
    roots: Vec<memchr::memmem::Finder<'static>>,
    /// Every root starts with a letter or digit, as a word does.
    roots_start_words: bool,
}

impl QuestionTerms {
    pub fn new(question: &str) -> Self {
        let mut stems: Vec<String> = query_terms(question).into_iter().map(stem).collect();
        stems.sort();
        stems.dedup();
        let mut first_letters: Vec<char> = stems
            .iter()
            .filter_map(|stem| stem.chars().next())
            .collect();
        first_letters.sort_unstable();
        first_letters.dedup();
        let roots: Vec<&str> = stems
            .iter()
            .map(|stem| &stem[..stem.char_indices().last().map_or(0, |(at, _)| at)])
            .collect();
        // A one-letter stem's root is empty, and matches everywhere.
        let roots_start_words = roots
            .iter()
            .all(|root| root.chars().next().is_some_and(char::is_alphanumeric));
        let roots = roots
            .into_iter()
            .map(|root| memchr::memmem::Finder::new(root.as_bytes()).into_owned())
            .collect();
        QuestionTerms {
            stems,
            first_letters,
            roots,
            roots_start_words,
        }
    }

    /// The share (0–1) of these terms that appear in `text`.
    pub fn coverage(&self, text: &str) -> f32 {
        if self.stems.is_empty() {
            return 0.0;
        }
        let found = if self.searchable_by_roots(text) {
            self.found_by_roots(text)
        } else {
            self.found_by_walking(text)
        };
        found as f32 / self.stems.len() as f32
    }

    /// Whether [`Self::found_by_roots`] counts `text` exactly: every root
    /// starts with a letter or digit (a one-letter stem's root is empty),
    /// and no character of the text changes in lower case but ASCII ones.
    fn searchable_by_roots(&self, text: &str) -> bool {
        let keeps_its_case = |c: char| {
            let mut lower = c.to_lowercase();
            lower.next() == Some(c) && lower.next().is_none()
        };
        self.roots_start_words
            && (text.is_ascii() || text.chars().filter(|c| !c.is_ascii()).all(keeps_its_case))
    }

    /// Terms found by stemming the text's words one by one, stopping once
    /// every term is seen.
    fn found_by_walking(&self, text: &str) -> usize {
        let mut seen = vec![false; self.stems.len()];
        let mut found = 0;
        let mut stemmed = String::new();
        for word in search_words(text) {
            let first = word.chars().next().and_then(|c| c.to_lowercase().next());
            if !first.is_some_and(|first| self.first_letters.contains(&first)) {
                continue;
            }
            stem_into(word, &mut stemmed);
            if self.mark(&stemmed, &mut seen, &mut found) {
                break;
            }
        }
        found
    }

    /// As [`Self::found_by_walking`], stemming only the words that begin
    /// where a term's root occurs (a vectorised substring search) instead of
    /// every word: there, `search_words` yields the whole word, when the
    /// occurrence begins it, and the part of a code that begins there.
    /// The text is lower-cased for ASCII only, which keeps byte offsets, so
    /// it is taken only when that is its whole lower case (see `coverage`).
    fn found_by_roots(&self, text: &str) -> usize {
        let lower = text.to_ascii_lowercase();
        let char_before = |at: usize| lower[..at].chars().next_back();
        let mut seen = vec![false; self.stems.len()];
        let mut found = 0;
        let mut stemmed = String::new();
        for (term, root) in self.roots.iter().enumerate() {
            for at in root.find_iter(lower.as_bytes()) {
                if seen[term] {
                    break;
                }
                // Roots start with a letter or digit, and so at a character boundary.
                if char_before(at).is_some_and(char::is_alphanumeric) {
                    continue;
                }
                // The whitespace-separated token around `at`, trimmed to its
                // first and last letter or digit, as `trimmed_words` cuts it.
                let token_start = lower[..at]
                    .char_indices()
                    .rev()
                    .find(|(_, c)| c.is_whitespace())
                    .map_or(0, |(i, c)| i + c.len_utf8());
                let token_end = lower[at..]
                    .find(char::is_whitespace)
                    .map_or(lower.len(), |i| at + i);
                let token = &lower[token_start..token_end];
                let Some(first) = token.find(char::is_alphanumeric) else {
                    continue;
                };
                let last = token
                    .char_indices()
                    .rev()
                    .find(|(_, c)| c.is_alphanumeric())
                    .map_or(first, |(i, c)| i + c.len_utf8());
                let word = token_start + first..token_start + last;
                let mut candidates = [None, None];
                if at == word.start {
                    candidates[0] = Some(word.clone());
                }
                if lower[word.clone()].contains(|c: char| !c.is_alphanumeric()) {
                    let part_end = lower[at..word.end]
                        .find(|c: char| !c.is_alphanumeric())
                        .map_or(word.end, |i| at + i);
                    candidates[1] = Some(at..part_end);
                }
                for range in candidates.into_iter().flatten() {
                    stem_into(&lower[range], &mut stemmed);
                    if self.mark(&stemmed, &mut seen, &mut found) {
                        return found;
                    }
                }
            }
        }
        found
    }

    /// Marks the term `stemmed` is, if any; true once every term is seen.
    fn mark(&self, stemmed: &str, seen: &mut [bool], found: &mut usize) -> bool {
        if let Ok(at) = self
            .stems
            .binary_search_by(|stem| stem.as_str().cmp(stemmed))
        {
            if !seen[at] {
                seen[at] = true;
                *found += 1;
            }
        }
        *found == self.stems.len()
    }
}

/// How much shared words count beside meaning when a sentence is judged as an answer.
const SENTENCE_TERM_WEIGHT: f32 = 0.3;

/// How well a sentence answers a question: its closeness in meaning
/// (`similarity`), plus a share for the question's terms it holds (`coverage`).
pub fn sentence_relevance(similarity: f32, coverage: f32) -> f32 {
    similarity + SENTENCE_TERM_WEIGHT * coverage
}

/// A question in a document (a FAQ entry, a heading such as "What is a
/// conffile?") is never itself the answer.
pub fn is_question(sentence: &str) -> bool {
    sentence
        .trim_end_matches(['"', '\'', ')', '\u{201d}'])
        .ends_with('?')
}

/// A line of a table of contents ("7.5 What is a conffile? . . . . 37"): it
/// repeats a heading and answers nothing.
pub fn is_contents_entry(sentence: &str) -> bool {
    sentence.contains(". . .") || sentence.contains("....")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_finds_the_codes_a_question_names() {
        // Identifiers joined by '_' or '.' meet themselves, and their parts count too.
        let text =
            "Note, all of the calls accept the token PAM_SILENT, which silences pam_unix.so.";
        assert_eq!(
            term_coverage("What does the PAM_SILENT token do?", text),
            1.0
        );
        assert_eq!(term_coverage("options of pam_unix.so", text), 0.5);
        assert_eq!(term_coverage("unix silent", text), 1.0);
        assert_eq!(term_coverage("What is BZ_MAX_UNUSED?", text), 0.0);
    }

    #[test]
    fn coverage_found_by_roots_is_coverage_found_by_walking() {
        // GIVEN questions and texts drawn from word forms of a few stems, in
        // both cases, codes, punctuation and every kind of ASCII whitespace
        let bases = [
            "batter",
            "valv",
            "fee",
            "class",
            "go",
            "pam_silent",
            "E-40",
            "x2",
        ];
        let endings = ["", "y", "ies", "e", "es", "s", "ed", "ing", "ly", "ches"];
        let mut forms: Vec<String> = bases
            .iter()
            .flat_map(|base| endings.iter().map(move |ending| format!("{base}{ending}")))
            .flat_map(|form| [form.to_uppercase(), form])
            .collect();
        forms.extend(["café", "cafés", "naïve"].map(String::from));
        // Rarer: words whose lower case is not only ASCII's (such texts are walked).
        let unusual = ["CAFÉ", "Élan", "élan", "\u{212A}ey", "keys"];
        let glue = [
            " ", "  ", "\n", "\t", ", ", ". ", " (", ") ", "-", "_", "/", ".", ":", "\"", "'s ",
            "\u{a0}", " “", "” ", "’", "—", " é ",
        ];
        let mut random = crate::testing::fuzz::Rng::new(0x2545_F491_4F6C_DD1D);
        let mut next = move |bound: usize| random.below(bound);
        let mut compared = 0;
        for _ in 0..3000 {
            let mut pick = |count: usize| {
                (0..count)
                    .map(|_| {
                        let word = match next(40) {
                            0 => unusual[next(unusual.len())],
                            _ => &forms[next(forms.len())],
                        };
                        format!("{word}{}", glue[next(glue.len())])
                    })
                    .collect::<String>()
            };
            let question = pick(3);
            let text = pick(12);
            let terms = QuestionTerms::new(&question);
            if terms.stems.is_empty() || !terms.searchable_by_roots(&text) {
                continue;
            }
            compared += 1;
            // WHEN both count the terms THEN they agree
            assert_eq!(
                terms.found_by_roots(&text),
                terms.found_by_walking(&text),
                "{question:?} in {text:?}"
            );
        }
        assert!(
            compared > 1000,
            "only {compared} texts could be searched by roots"
        );
    }

    #[test]
    fn coverage_matches_word_forms() {
        assert_eq!(
            term_coverage(
                "Who collects the fees?",
                "Fees are collected by the harbour master."
            ),
            1.0
        );
        assert_eq!(
            term_coverage(
                "capital of Mongolia",
                "Fees are collected by the harbour master."
            ),
            0.0
        );
        assert_eq!(
            term_coverage(
                "error E-4012 meaning",
                "Error code E-4012 means the pump stalled."
            ),
            1.0
        );
    }
}
