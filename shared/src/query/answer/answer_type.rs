//! What kind of answer a question asks for, read from its wording, and
//! whether a sentence can be that answer. A sentence that names the topic but
//! holds no number cannot answer "how many"; one with no version cannot
//! answer "which version". This is what tells a near miss (the documents
//! discuss the thing but never state the fact asked for) from an answer.

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
    if has("how many")
        || has("how much")
        || has("how long")
        || has("how large")
        || has("how big")
        || has("how often")
        || words
            .iter()
            .any(|word| matches!(*word, "numeric" | "hexadecimal" | "decimal" | "octal"))
        || ((has("what") || has("which"))
            && quantity_nouns.iter().any(|noun| words.contains(noun))
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
    // "greater than zero" states a condition, not a value.
    let words: Vec<&str> = all_words
        .iter()
        .enumerate()
        .filter(|(index, word)| {
            !asked_words.contains(word) && (*index == 0 || all_words[index - 1] != "than")
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

/// Whether `text` names every code `question` names (`BZ_MAX_UNUSED`,
/// `deflateInit()`): an answer about a constant names it.
pub fn names_codes(question: &str, text: &str) -> bool {
    let text = text.to_lowercase();
    codes(question)
        .iter()
        .all(|code| text.contains(&code.to_lowercase()))
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
            let inner_capital = !plural_initials
                && word.chars().skip(1).any(char::is_uppercase)
                && word.chars().any(char::is_lowercase);
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
        assert!(!names_codes(
            question,
            "Under LP64, sizeof(int) is still 4."
        ));
        assert!(names_codes(question, "bz_max_unused is 5000."));
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
