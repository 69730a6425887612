//! Text that a terminal formatter (`man`, `groff -Tutf8`, `grotty`) made
//! bold and underlined: ANSI escape sequences (`ESC[1m … ESC[0m`) and
//! backspace overstrike (`a\ba` for bold, `_\ba` for underline). `file` calls
//! such files "ASCII text, with escape sequences, with overstriking"; askdocs
//! keeps their text and drops the formatting.

/// The text without escape sequences and overstrikes.
pub fn strip(text: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(c) = characters.next() {
        match c {
            '\u{1b}' => skip_escape(&mut characters),
            // Overstrike: the backspace takes back the previous character, and
            // what follows is printed over it — keep one, preferring the one
            // that is not the underline.
            '\u{8}' => {
                if let (Some(previous), Some(&next)) = (out.last().copied(), characters.peek()) {
                    characters.next();
                    let kept = if next == '_' && previous != '_' {
                        previous
                    } else {
                        next
                    };
                    *out.last_mut().expect("a previous character") = kept;
                }
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

/// Skips one escape sequence after its ESC: CSI (`ESC [ … final`), OSC
/// (`ESC ] … BEL` or `ESC \`), or a two-character escape.
fn skip_escape(characters: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match characters.next() {
        Some('[') => {
            for c in characters.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = characters.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' && characters.peek() == Some(&'\\') {
                    characters.next();
                    break;
                }
            }
        }
        _ => {}
    }
}

/// Whether the text holds terminal formatting worth stripping.
pub fn is_formatted(text: &str) -> bool {
    text.contains('\u{1b}') || text.contains('\u{8}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_overstrikes_give_way_to_the_text() {
        assert_eq!(strip("\u{1b}[1mNAME\u{1b}[0m\n  lzop"), "NAME\n  lzop");
        assert_eq!(strip("N\u{8}NA\u{8}AM\u{8}ME\u{8}E"), "NAME");
        assert_eq!(strip("_\u{8}f_\u{8}i_\u{8}l_\u{8}e"), "file");
        assert_eq!(
            strip("a\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}b"),
            "alinkb"
        );
        assert_eq!(strip("plain"), "plain");
    }
}
