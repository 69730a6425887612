//! Characters that change how text looks without being seen: zero-width
//! characters and bidirectional controls. In a name or an address they let
//! one string pass for another ("invoice\u{202E}fdp.exe" shows as "invoiceexe.pdf").

/// Bidirectional controls (embeddings, overrides, isolates and marks).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Zero-width characters: spaces, joiners and the byte-order mark.
pub fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// Whether `c` is shown as nothing: whitespace, a control, zero-width or a
/// bidirectional control.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || is_zero_width(c) || is_bidi_control(c)
}

/// Whether `text` shows anything at all.
pub fn has_visible(text: &str) -> bool {
    !text.chars().all(is_invisible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_zero_width_characters_are_invisible() {
        assert!(is_bidi_control('\u{202E}'));
        assert!(is_zero_width('\u{200B}'));
        assert!(!has_visible("\u{0}\u{0} \u{200B}\u{202E}\t"));
        assert!(has_visible(" a "));
        assert!(!is_invisible('é'));
    }
}
