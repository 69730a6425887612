//! What kind of answer a question asks for, read from its wording, and
//! whether a sentence can be that answer. A sentence that names the topic but
//! holds no number cannot answer "how many"; one with no version cannot
//! answer "which version". This is what tells a near miss (the documents
//! discuss the thing but never state the fact asked for) from an answer.

use crate::model::text::{query_terms, search_words, stem};

/// The kind of fact a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A quantity, count, limit or value.
    Number,
    /// An amount of memory or storage ("256K bytes", "6 MiB", "900k"): a
    /// number with its unit.
    Size,
    /// A value written in hexadecimal ("0x04C11DB7").
    Hex,
    /// A release or version.
    Version,
    /// A date or year.
    Date,
    /// Anything: a definition, a reason, a procedure.
    Any,
}

const NUMBER_WORDS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "twenty",
    "hundred",
    "thousand",
    "million",
    "billion",
    "once",
    "twice",
    "single",
    "double",
    "half",
    "unlimited",
    "infinite",
    "none",
];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The kind of answer `question` asks for.
/// How many words after "what"/"which" a quantity noun may come and still
/// be what is asked for ("what is the default value").
const QUANTITY_REACH: usize = 4;

pub fn expected_answer(question: &str) -> Expected {
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let has = |phrase: &str| {
        let phrase: Vec<&str> = phrase.split(' ').collect();
        words
            .windows(phrase.len())
            .any(|window| window == phrase.as_slice())
    };
    let asks = |wh: &[&str], nouns: &[&str]| {
        wh.iter()
            .any(|wh| nouns.iter().any(|noun| has(&format!("{wh} {noun}"))))
    };
    if asks(
        &["which", "what"],
        &["version", "release", "versions", "releases"],
    ) || ((has("which") || has("what"))
        && has("version")
        && (has("introduced") || has("added") || has("first")))
    {
        return Expected::Version;
    }
    if has("what date")
        || has("what year")
        || has("which year")
        || has("when was")
        || has("when were")
        || has("when did")
    {
        return Expected::Date;
    }
    if words.contains(&"hexadecimal") || has("hex value") {
        return Expected::Hex;
    }
    let storage = has("block size")
        || has("buffer size")
        || has("cache size")
        || has("file size")
        || has("dictionary size")
        || words
            .iter()
            .any(|word| matches!(*word, "memory" | "ram" | "disk" | "storage"));
    if storage
        && (has("how much") || has("how large") || has("how big") || has("what") || has("which"))
    {
        return Expected::Size;
    }
    let quantity_nouns = [
        "value",
        "size",
        "number",
        "amount",
        "limit",
        "maximum",
        "minimum",
        "length",
        "memory",
        "port",
        "rounds",
        "count",
        "percentage",
        "ratio",
        "level",
        "timeout",
        "width",
        "depth",
    ];
    // "What does status code 20 mean?" asks for a meaning, whatever it names.
    if has("what does") && (has("mean") || has("stand for")) {
        return Expected::Any;
    }
    if has("how many")
        || has("how much")
        || has("how long")
        || has("how large")
        || has("how big")
        || has("how often")
        || words
            .iter()
            .any(|word| matches!(*word, "numeric" | "hexadecimal" | "decimal" | "octal"))
        // The quantity must be what the question asks for ("what is the
        // maximum length", "which port"), not a word further on ("which data
        // type lets the user pick any number of items").
        || (words
            .iter()
            .enumerate()
            .filter(|(_, word)| matches!(**word, "what" | "which"))
            .any(|(at, _)| {
                words[at + 1..]
                    .iter()
                    .take(QUANTITY_REACH)
                    .any(|word| quantity_nouns.contains(word))
            })
            && !has("what does")
            && !has("what happens"))
    {
        return Expected::Number;
    }
    Expected::Any
}

/// Whether `sentence` holds a fact of the `expected` kind that `question`
/// does not already name (the "9" of "xz -9" answers nothing).
pub fn can_answer(expected: Expected, question: &str, sentence: &str) -> bool {
    let lower = sentence.to_lowercase();
    let asked = question.to_lowercase();
    let asked_words: Vec<&str> = words(&asked).collect();
    let all_words: Vec<&str> = words(&lower).collect();
    // "greater than zero" states a condition, not a value - unless a bound
    // is what was asked ("at most?": "less than 1 GiB").
    let asks_bound = asked_words.windows(2).any(|pair| {
        matches!(
            pair,
            ["at", "most" | "least"] | ["upper" | "lower", "bound" | "limit"]
        )
    }) || asked_words.iter().any(|word| {
        matches!(
            *word,
            "maximum" | "minimum" | "limit" | "largest" | "smallest"
        )
    });
    let words: Vec<&str> = all_words
        .iter()
        .enumerate()
        .filter(|(index, word)| {
            !asked_words.contains(word)
                && (asks_bound || *index == 0 || all_words[index - 1] != "than")
        })
        .map(|(_, word)| *word)
        .collect();
    // A number is a word of its own that starts with a digit ("900k", "4.2"),
    // not the digits inside a name ("SHA512").
    let has_number = words
        .iter()
        .any(|word| word.starts_with(|c: char| c.is_ascii_digit()));
    match expected {
        Expected::Any => true,
        Expected::Number => has_number || words.iter().any(|word| NUMBER_WORDS.contains(word)),
        Expected::Version => {
            words.iter().any(|word| is_version(word)) || (has_number && lower.contains("version"))
        }
        Expected::Date => words
            .iter()
            .any(|word| is_year(word) || MONTHS.contains(word)),
        // The unit may be a word the question used ("how many bytes").
        Expected::Size => all_words.iter().enumerate().any(|(index, word)| {
            !asked_words.contains(word) && is_size(word, all_words.get(index + 1).copied())
        }),
        Expected::Hex => sentence
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(is_hex_literal),
    }
}

/// Units an amount of memory or storage is given in.
const SIZE_UNITS: &[&str] = &[
    "b",
    "k",
    "kb",
    "kib",
    "m",
    "mb",
    "mib",
    "g",
    "gb",
    "gib",
    "t",
    "tb",
    "tib",
    "byte",
    "bytes",
    "kbyte",
    "kbytes",
    "mbyte",
    "mbytes",
    "kilobyte",
    "kilobytes",
    "megabyte",
    "megabytes",
    "gigabyte",
    "gigabytes",
    "bit",
    "bits",
    "words",
    "blocks",
    "sectors",
    "pages",
];

/// "900k", "64KiB", or a number followed by its unit ("256K bytes", "6 MiB").
fn is_size(word: &str, next: Option<&str>) -> bool {
    let Some(unit_start) = word.find(|c: char| !(c.is_ascii_digit() || c == '.')) else {
        return word.starts_with(|c: char| c.is_ascii_digit())
            && next.is_some_and(|unit| SIZE_UNITS.contains(&unit));
    };
    let (number, unit) = word.split_at(unit_start);
    !number.is_empty()
        && number.starts_with(|c: char| c.is_ascii_digit())
        && (SIZE_UNITS.contains(&unit)
            || (matches!(unit, "k" | "m" | "g")
                && next.is_some_and(|unit| SIZE_UNITS.contains(&unit))))
}

/// `0x04C11DB7`, `04C11DB7h`, or a run of at least four hex digits with a
/// digit and a letter in it (`EDB88320`).
fn is_hex_literal(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    if let Some(digits) = lower.strip_prefix("0x") {
        return !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit());
    }
    let digits = lower.strip_suffix('h').unwrap_or(&lower);
    digits.len() >= 4
        && digits.chars().all(|c| c.is_ascii_hexdigit())
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.chars().any(|c| c.is_ascii_alphabetic())
}

/// Whether `text`, when it is a line of code naming the code `question` asks
/// the value of, states a value beside it ("#define BZ_MAX_UNUSED 5000",
/// "BZ_MAX_UNUSED = 5000"). A code used in an expression (`0 <= nUnused <=
/// BZ_MAX_UNUSED`) names the constant without giving its value: the 0 there
/// bounds something else. Prose ("the last HISTSIZE commands (default 500)")
/// and text that does not name the code are not judged here.
pub fn states_value_of_codes(question: &str, text: &str) -> bool {
    const OPERATORS: &[&str] = &["<=", ">=", "==", "!=", "&&", "||", "->", "::"];
    if !OPERATORS.iter().any(|operator| text.contains(operator)) {
        return true;
    }
    const LINKS: &[&str] = &[
        "is",
        "are",
        "was",
        "of",
        "to",
        "equals",
        "equal",
        "defaults",
        "default",
        "set",
        "be",
        "which",
        "has",
        "value",
        "a",
        "the",
        "currently",
        "by",
        "define",
    ];
    let tokens: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .map(|token| token.trim_matches('.').to_lowercase())
        .filter(|token| !token.is_empty())
        .collect();
    codes(question).iter().all(|code| {
        let code = code.to_lowercase();
        let positions: Vec<usize> = tokens
            .iter()
            .enumerate()
            .filter(|(_, token)| **token == code)
            .map(|(index, _)| index)
            .collect();
        positions.is_empty()
            || positions.iter().any(|&at| {
                tokens[at + 1..]
                    .iter()
                    .take(4)
                    .take_while(|token| LINKS.contains(&token.as_str()) || is_value_token(token))
                    .any(|token| is_value_token(token))
            })
    })
}

fn is_value_token(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_digit()) || NUMBER_WORDS.contains(&token)
}

/// Words that say something began at a release: what a question asking which
/// version introduced a feature needs to find.
const INTRODUCED: &[&str] = &[
    "introduced",
    "added",
    "new",
    "since",
    "first",
    "appeared",
    "supported",
    "support",
    "supports",
    "introduces",
    "adds",
    "available",
    "starting",
    "began",
    "implemented",
];

/// Whether `text` speaks of something beginning at a release ("introduced",
/// "added", "first supported"). Asked of the question (does it ask which
/// version introduced X?) and of the answering sentence (does it say so, or
/// merely mention a version, like a footer's "Zsh version 5.9"?).
pub fn tells_introduction(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| INTRODUCED.contains(&word))
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|word| word.trim_matches('.'))
        .filter(|word| !word.is_empty())
}

/// Whether `passage` names every code the question names and `sentence`
/// (with the sentence before it) at least one: an answer about
/// `PAM_MAXTRIES` need not repeat `pam_authenticate` the question also
/// names, but the passage it is in does.
pub fn names_codes_in(question: &str, sentence: &str, passage: &str) -> bool {
    let codes = codes(question);
    names_every_code(&codes, passage) && names_a_code(&codes, sentence)
}

/// Whether `text` names every one of `codes` (from [`codes`]), whole or by its parts.
pub fn names_every_code(codes: &[String], text: &str) -> bool {
    let text = text.to_lowercase();
    codes.iter().all(|code| names_code(&text, code))
}

/// Whether `text` names one of `codes` at least, or there are none.
pub fn names_a_code(codes: &[String], text: &str) -> bool {
    if codes.is_empty() {
        return true;
    }
    let text = text.to_lowercase();
    codes.iter().any(|code| names_code(&text, code))
}

/// The proper names in `question` (GitHub, Seattle, Guido, CommonMark):
/// capitalised words of letters that do not begin a sentence. Consecutive
/// ones are one name ("Toy Story", "Application Developers' Guide"), given
/// as its words.
pub fn proper_names(question: &str) -> Vec<Vec<String>> {
    let mut names: Vec<Vec<String>> = Vec::new();
    let mut sentence_start = true;
    let mut in_name = false;
    for token in question.split_whitespace() {
        let word = token
            .trim_end_matches("'s")
            .trim_end_matches("’s")
            .trim_matches(|c: char| !c.is_alphanumeric());
        let starts_sentence = sentence_start;
        sentence_start = token.ends_with(['.', '?', '!', ':']);
        let capitalised = word.chars().next().is_some_and(char::is_uppercase)
            && word.chars().filter(|c| c.is_lowercase()).count() >= 2
            && word
                .chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == '.');
        if starts_sentence || !capitalised {
            in_name = false;
            continue;
        }
        match names.last_mut() {
            Some(name) if in_name => name.push(word.to_string()),
            _ => names.push(vec![word.to_string()]),
        }
        // A name goes on only while its words follow each other.
        in_name = !token.ends_with([',', ';', ')', '"']);
    }
    names
}

/// Whether the passage (or its document's file name) names every proper
/// name the question names, by at least one of its words: a question about
/// GitHub is not answered from a guide that never mentions it.
pub fn names_proper_names(question: &str, passage: &str, file_name: &str) -> bool {
    names_every_name(&proper_names(question), passage, file_name)
}

/// As [`names_proper_names`], for names already read from the question.
pub fn names_every_name(names: &[Vec<String>], passage: &str, file_name: &str) -> bool {
    let (passage, file_name) = (passage.to_lowercase(), file_name.to_lowercase());
    names.iter().all(|name| {
        name.iter().any(|word| {
            let word = word.to_lowercase();
            passage.contains(&word) || file_name.contains(&word)
        })
    })
}

/// `code` in lower-case `text`, whole or by its parts: `HISTCONTROL=ignoreboth`
/// is named by a text saying "HISTCONTROL" and "ignoreboth".
fn names_code(text: &str, code: &str) -> bool {
    let code = code.to_lowercase();
    text.contains(&code)
        || code
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|part| !part.is_empty())
            .all(|part| text.contains(part))
}

/// The names in `question` that look like code: constants and identifiers
/// (`BZ_MAX_UNUSED`, `PAM_MAX_NUM_MSG`, `memLevel`, `deflateInit()`), which
/// an answer has to name as they are.
pub fn codes(question: &str) -> Vec<String> {
    question
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | ';' | '?' | '!' | '"' | '(' | ')' | '[' | ']')
        })
        .map(|word| word.trim_end_matches("'s").trim_end_matches("’s"))
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'))
        .filter(|word| {
            let letters = word.chars().filter(|c| c.is_alphabetic()).count();
            // "JPEGs", "PDFs": plural initials, not names.
            let plural_initials = word
                .strip_suffix('s')
                .is_some_and(|stem| stem.chars().all(|c| c.is_ascii_uppercase()));
            // memLevel, deflateInit: an identifier. A name starting with a
            // capital (CommonMark, JavaScript) is a product, which a passage
            // about it need not repeat.
            let inner_capital = !plural_initials
                && word.chars().next().is_some_and(char::is_lowercase)
                && word.chars().skip(1).any(char::is_uppercase);
            // Environment variables and constants: TMOUT, HISTSIZE (short
            // capitals such as XZ or PAM are names the text may spell otherwise).
            let constant = letters >= 5
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            letters >= 2 && (word.contains('_') || inner_capital || constant)
        })
        .map(str::to_string)
        .collect()
}

/// `5.2`, `4.0.1`, `v2`, `2.6.32-rc1`.
fn is_version(word: &str) -> bool {
    let word = word.strip_prefix('v').unwrap_or(word);
    let mut parts = word.split('.');
    let first_is_number = parts
        .next()
        .is_some_and(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    first_is_number
        && parts
            .next()
            .is_some_and(|part| part.chars().next().is_some_and(|c| c.is_ascii_digit()))
}

fn is_year(word: &str) -> bool {
    word.len() == 4
        && (word.starts_with("19") || word.starts_with("20"))
        && word.chars().all(|c| c.is_ascii_digit())
}

/// Numbers the question names ("Debian 14", "xz -9", "port 8080"): a passage
/// that answers it names them too.
pub fn named_numbers(question: &str) -> Vec<String> {
    question
        .split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|word| word.trim_matches('.'))
        .filter(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(str::to_string)
        .collect()
}

/// Whether `text` contains the number `number` as a whole token, or as the
/// start of a longer version ("2.39" in "2.39.0", "v2.39").
pub fn mentions_number(text: &str, number: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|word| word.trim_matches('.'))
        .map(|word| {
            word.strip_prefix('v')
                .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                .unwrap_or(word)
        })
        .any(|word| {
            word == number
                || word.strip_prefix('-') == Some(number)
                || word
                    .strip_prefix(number)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
}

/// Whether a document's file name names `number` ("git-2.39.0-RelNotes.txt"
/// names 2.39, "python-whatsnew-3.11.html" names 3.11): a question's
/// "Git 2.39" is then the document's subject, which its passages need not repeat.
pub fn file_name_names_number(file_name: &str, number: &str) -> bool {
    let stem = file_name
        .rsplit_once('.')
        .map_or(file_name, |(stem, _)| stem);
    mentions_number(&stem.replace(['-', '_'], " "), number)
}

/// Words of file names that say what kind of document it is, not what it is about.
const DOCUMENT_KIND_WORDS: &[&str] = &[
    "txt",
    "html",
    "htm",
    "md",
    "pdf",
    "csv",
    "docx",
    "png",
    "jpg",
    "jpeg",
    "tif",
    "tiff",
    "doc",
    "docs",
    "manual",
    "faq",
    "guide",
    "readme",
    "history",
    "notes",
    "relnotes",
    "reference",
    "spec",
    "specification",
    "changelog",
    "changes",
    "news",
    "usage",
    "man",
];

/// The words of the question that name one of `file_names` (stemmed, as
/// [`crate::model::text::stem`] cuts them): "debconf" in a question, beside
/// a retrieved `debconf_specification.txt`, says which document is asked about.
pub fn document_words(question: &str, file_names: &[&str]) -> Vec<String> {
    let named: Vec<String> = file_names
        .iter()
        .flat_map(|name| name.split(|c: char| !c.is_alphanumeric()))
        .map(str::to_lowercase)
        .filter(|word| {
            word.chars().filter(|c| c.is_alphabetic()).count() >= 3
                && !DOCUMENT_KIND_WORDS.contains(&word.as_str())
        })
        .map(|word| stem(&word))
        .collect();
    let mut words: Vec<String> = query_terms(question)
        .into_iter()
        .flat_map(|term| term.split(|c: char| !c.is_alphanumeric()))
        .map(|word| stem(&word.to_lowercase()))
        .filter(|word| named.contains(word))
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Whether a passage of `file_name` holding `text` is about every one of
/// `words` (from [`document_words`]): by its document's name or its own words.
pub fn about_document_words(words: &[String], file_name: &str, text: &str) -> bool {
    if words.is_empty() {
        return true;
    }
    let held: Vec<String> = file_name
        .split(|c: char| !c.is_alphanumeric())
        .chain(search_words(text))
        .map(|word| stem(&word.to_lowercase()))
        .collect();
    words.iter().all(|word| held.contains(word))
}

/// Whether a line of `text` before `sentence` heads a section with a version
/// ("4.14.0 / 2016-06-16", "## 2.26.0 (2021-07-13)", "v1.2.0"): in release
/// notes and changelogs the version that made a change heads its section.
pub fn under_version_heading(text: &str, sentence: &str) -> bool {
    let probe: String = sentence.chars().take(40).collect();
    let Some(at) = text.find(probe.trim()) else {
        return false;
    };
    text[..at].lines().any(|line| {
        let line = line.trim_start_matches(['#', ' ', '*', '-', '=']).trim();
        line.split_whitespace()
            .next()
            .is_some_and(|first| is_version(first.trim_end_matches([':', ','])))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_say_what_kind_of_answer_they_want() {
        for (question, expected) in [
            ("How many rounds does it use?", Expected::Number),
            ("What is the default value of TMOUT?", Expected::Number),
            ("What block size does lzop use?", Expected::Size),
            ("How much memory does xz -9 need?", Expected::Size),
            (
                "What is the hexadecimal value of the CRC-32 polynomial?",
                Expected::Hex,
            ),
            ("Which bash version introduced globstar?", Expected::Version),
            (
                "Which version of XZ Utils first supported threads?",
                Expected::Version,
            ),
            ("On what date was bookworm released?", Expected::Date),
            ("When was the format frozen?", Expected::Date),
            ("What does error code E-4012 mean?", Expected::Any),
            ("How do I clear the fog pump?", Expected::Any),
            ("Why does the lamp flicker?", Expected::Any),
        ] {
            assert_eq!(expected_answer(question), expected, "{question}");
        }
    }

    #[test]
    fn sentences_answer_only_with_a_fact_of_the_kind_asked() {
        let rounds = "How many rounds does SHA512 use?";
        assert!(can_answer(
            Expected::Number,
            rounds,
            "The default is 5000 rounds."
        ));
        assert!(can_answer(
            Expected::Number,
            rounds,
            "It keeps three copies."
        ));
        assert!(!can_answer(
            Expected::Number,
            rounds,
            "The rounds option sets SHA512 rounds."
        ));
        let xz = "How much memory does xz -9 need?";
        assert!(!can_answer(Expected::Size, xz, "xz -9 needs more memory."));
        assert!(can_answer(Expected::Size, xz, "xz -9 needs 674 MiB."));
        assert!(can_answer(Expected::Size, xz, "It uses 900k per block."));
        assert!(can_answer(
            Expected::Size,
            xz,
            "It allocates on the order of 256K bytes."
        ));
        assert!(!can_answer(
            Expected::Size,
            "What block size does lzop use?",
            "Text is compressed into 40-50% of the original size."
        ));
        let hex = "What is the hexadecimal value of the CRC-32 polynomial?";
        assert!(can_answer(Expected::Hex, hex, "CRC-32 uses 0x04C11DB7."));
        assert!(can_answer(Expected::Hex, hex, "Reversed: EDB88320."));
        assert!(!can_answer(
            Expected::Hex,
            hex,
            "32-bit CRC (CRC-32C polynomial), 64-bit tables."
        ));
        let version = "Which bash version added globstar?";
        assert!(can_answer(Expected::Version, version, "Added in bash 4.0."));
        assert!(!can_answer(
            Expected::Version,
            version,
            "globstar matches all files recursively."
        ));
        let date = "On what date was bookworm released?";
        assert!(can_answer(
            Expected::Date,
            date,
            "Released on 10 June 2023."
        ));
        assert!(!can_answer(
            Expected::Date,
            date,
            "bookworm is the next stable release."
        ));
        assert!(can_answer(Expected::Any, "What is it?", "anything"));
        let tmout = "What is the default value of TMOUT?";
        assert!(!can_answer(
            Expected::Number,
            tmout,
            "If set to a value greater than zero, TMOUT is the default timeout."
        ));
        assert!(can_answer(
            Expected::Number,
            tmout,
            "TMOUT defaults to zero."
        ));
        assert!(can_answer(
            Expected::Number,
            "How large an input will it accept at most?",
            "It limits its input to a bit less than 1 GiB."
        ));
        assert_eq!(
            expected_answer("What does a numeric status code between 20 and 29 mean?"),
            Expected::Any
        );
        assert_eq!(
            expected_answer("Which data type lets the user pick any number of items?"),
            Expected::Any
        );
        assert_eq!(
            expected_answer("What is the default value of TMOUT?"),
            Expected::Number
        );
    }

    #[test]
    fn codes_in_the_question_must_be_named_by_the_answer() {
        assert_eq!(
            codes("What is the value of BZ_MAX_UNUSED in libbzip2?"),
            vec!["BZ_MAX_UNUSED"]
        );
        assert_eq!(
            codes("What memLevel does deflateInit() use?"),
            vec!["memLevel", "deflateInit"]
        );
        assert!(codes("What does error code E-4012 mean in the Manual?").is_empty());
        assert!(codes("In the Debian FAQ's example, how are JPEGs made?").is_empty());
        assert_eq!(codes("What is the default value of TMOUT?"), vec!["TMOUT"]);
        let question = "What is the value of BZ_MAX_UNUSED?";
        let named = |sentence: &str| names_codes_in(question, sentence, sentence);
        assert!(!named("Under LP64, sizeof(int) is still 4."));
        assert!(named("bz_max_unused is 5000."));
        assert!(codes("What must a CommonMark parser replace U+0000 with?").is_empty());
    }

    #[test]
    fn a_question_about_a_named_thing_is_answered_only_where_it_is_named() {
        assert_eq!(
            proper_names("How do I turn on two-factor authentication for my GitHub account?"),
            vec![vec!["GitHub".to_string()]]
        );
        assert_eq!(
            proper_names("Which Toy Story toys gave their names to Debian 4.0? What did Guido do?"),
            vec![
                vec!["Toy".to_string(), "Story".to_string()],
                vec!["Debian".to_string()],
                vec!["Guido".to_string()]
            ]
        );
        let github = "How do I turn on two-factor authentication for my GitHub account?";
        assert!(!names_proper_names(
            github,
            "Modules authenticate the user.",
            "Linux-PAM_SAG.txt"
        ));
        let seattle = "What was the wettest day in Seattle?";
        assert!(names_proper_names(
            seattle,
            "date: 2012/01/01; precipitation: 0.0",
            "seattle-weather.csv"
        ));
    }

    #[test]
    fn a_question_naming_a_document_is_answered_from_it() {
        let question = "What is the maximum length of a debconf template name?";
        let words = document_words(question, &["semver-README.md", "debconf_specification.txt"]);
        assert_eq!(words, vec!["debconf".to_string()]);
        assert!(!about_document_words(
            &words,
            "semver-README.md",
            "Components longer than 16 characters are ignored."
        ));
        assert!(about_document_words(
            &words,
            "debconf_specification.txt",
            "Templates have names."
        ));
        assert!(about_document_words(
            &words,
            "policy.pdf",
            "The debconf templates file."
        ));
        // Words saying what kind of document it is name none.
        assert!(
            document_words("What does the FAQ say about it?", &["debian-faq.en.pdf"]).is_empty()
        );
    }

    #[test]
    fn the_passage_names_every_code_and_the_answer_at_least_one() {
        let question = "What does pam_authenticate returning PAM_MAXTRIES mean?";
        let passage = "The pam_authenticate function returns one of: PAM_MAXTRIES One or more \
                       modules has reached its limit of tries.";
        assert!(names_codes_in(
            question,
            "PAM_MAXTRIES One or more modules has reached its limit of tries.",
            passage
        ));
        assert!(!names_codes_in(
            question,
            "Tries are counted per module.",
            passage
        ));
        assert!(!names_codes_in(
            question,
            "PAM_MAXTRIES means too many tries.",
            "PAM_MAXTRIES means too many tries."
        ));
        let question = "What does HISTCONTROL=ignoreboth stand for?";
        assert!(names_codes_in(
            question,
            "A value of ignoreboth is shorthand for ignorespace and ignoredups.",
            "HISTCONTROL A colon-separated list of values. A value of ignoreboth is shorthand for ignorespace and ignoredups."
        ));
    }

    #[test]
    fn a_constant_value_is_stated_beside_its_name() {
        let question = "What is the numeric value of the BZ_MAX_UNUSED constant?";
        for stated in [
            "BZ_MAX_UNUSED is 5000.",
            "#define BZ_MAX_UNUSED 5000",
            "BZ_MAX_UNUSED defaults to five thousand.",
            "The limit, BZ_MAX_UNUSED = 5000, bounds nUnused.",
            "if (n <= BZ_MAX_UNUSED) where BZ_MAX_UNUSED == 5000",
            "The last BZ_MAX_UNUSED bytes (default 5000) are kept.",
            "It is 5000.",
        ] {
            assert!(states_value_of_codes(question, stated), "{stated}");
        }
        assert!(!states_value_of_codes(
            question,
            "or ( unused != NULL && !(0 <= nUnused <= BZ_MAX_UNUSED) )"
        ));
    }

    #[test]
    fn a_version_that_introduced_something_is_said_to() {
        let question = "Which zsh version introduced here-strings?";
        assert!(tells_introduction(question));
        assert!(!tells_introduction("Which version of zlib is described?"));
        assert!(tells_introduction("Here-strings were added in zsh 2.6."));
        assert!(!tells_introduction(
            "Zsh version 5.9, released on May 14, 2022."
        ));
    }

    #[test]
    fn numbers_named_in_a_question_are_found_whole() {
        assert_eq!(
            named_numbers("Which character is Debian 14 named after?"),
            vec!["14"]
        );
        assert_eq!(named_numbers("How much memory does xz -9 need?"), vec!["9"]);
        assert!(mentions_number("xz -9 uses 674 MiB", "9"));
        assert!(!mentions_number("Debian 13 trixie", "14"));
        assert!(!mentions_number("version 140", "14"));
    }

    #[test]
    fn a_version_is_named_by_its_longer_forms_but_not_by_other_numbers() {
        assert!(mentions_number("Git 2.39.0 Release Notes", "2.39"));
        assert!(mentions_number("changes since v2.39", "2.39"));
        assert!(!mentions_number("Git 2.391 Release Notes", "2.39"));
        assert!(!mentions_number("Git 12.39.0", "2.39"));
    }

    #[test]
    fn a_document_named_for_a_version_is_about_that_version() {
        assert!(file_name_names_number("git-2.39.0-RelNotes.txt", "2.39"));
        assert!(file_name_names_number("python-whatsnew-3.11.html", "3.11"));
        assert!(!file_name_names_number("python-whatsnew-3.12.html", "3.11"));
    }

    #[test]
    fn a_change_under_a_version_heading_belongs_to_that_version() {
        let changelog = "4.14.0 / 2016-06-16\n===\n\n  * Add acceptRanges option\n";
        assert!(under_version_heading(changelog, "Add acceptRanges option"));
        let prose = "Introduction\n\nThe server accepts ranges.\n";
        assert!(!under_version_heading(prose, "The server accepts ranges."));
    }
}
