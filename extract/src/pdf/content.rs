//! A tokenizer for PDF content streams (and the CMaps that map a font's codes
//! to Unicode, which share their syntax): one pass over the bytes, operands
//! borrowed from them where they can be, nothing built that text extraction
//! does not read. A general object parser allocates for every number and
//! operator, and on a text-heavy page that is most of the reading time.
//!
//! Hostile input cannot make it fail: anything it does not understand is
//! skipped a byte at a time, nesting is bounded, and an unterminated string
//! or array simply ends with the stream.

use std::borrow::Cow;

/// One operand of a content-stream operator, as much as text extraction needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand<'a> {
    Number(f64),
    /// A string's bytes, escapes and hex decoded.
    String(Cow<'a, [u8]>),
    /// A name without its slash (`#xx` escapes are kept as written).
    Name(&'a [u8]),
    Array(Vec<Operand<'a>>),
    /// Dictionaries, booleans and null: present, but never read.
    Other,
}

impl Operand<'_> {
    pub fn number(&self) -> Option<f64> {
        match self {
            Operand::Number(value) => Some(*value),
            _ => None,
        }
    }
}

/// Operands kept for one operator at most.
const MAX_OPERANDS: usize = 1 << 16;

/// Arrays and dictionaries nested deeper than this are skipped as a whole.
const MAX_NESTING: usize = 32;

pub struct Tokenizer<'a> {
    bytes: &'a [u8],
    at: usize,
}

pub enum Token<'a> {
    Operand(Operand<'a>),
    Operator(&'a [u8]),
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0')
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(byte: u8) -> bool {
    !is_whitespace(byte) && !is_delimiter(byte)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// A PDF number: optional sign, digits, at most one point. Anything else
/// (`1.2.3`, `--4`) reads as the prefix that makes sense, as readers do.
fn parse_number(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value = 0f64;
    let mut scale = 0f64;
    let mut seen_digit = false;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                seen_digit = true;
                if scale == 0.0 {
                    value = value * 10.0 + f64::from(byte - b'0');
                } else {
                    value += f64::from(byte - b'0') * scale;
                    scale /= 10.0;
                }
            }
            b'.' if scale == 0.0 => scale = 0.1,
            _ => break,
        }
    }
    seen_digit.then_some(if negative { -value } else { value })
}

impl<'a> Tokenizer<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Tokenizer { bytes, at: 0 }
    }

    fn skip_whitespace_and_comments(&mut self) {
        while let Some(&byte) = self.bytes.get(self.at) {
            if is_whitespace(byte) {
                self.at += 1;
            } else if byte == b'%' {
                self.at += memchr::memchr2(b'\n', b'\r', &self.bytes[self.at..])
                    .unwrap_or(self.bytes.len() - self.at);
            } else {
                break;
            }
        }
    }

    fn regular_run(&mut self) -> &'a [u8] {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|&byte| is_regular(byte))
        {
            self.at += 1;
        }
        &self.bytes[start..self.at]
    }

    /// A literal string, after its opening parenthesis: balanced parentheses
    /// are part of it, backslash escapes are decoded.
    fn literal_string(&mut self) -> Cow<'a, [u8]> {
        let start = self.at;
        let mut depth = 0usize;
        let mut plain_end = None;
        while let Some(&byte) = self.bytes.get(self.at) {
            match byte {
                b'\\' => break,
                b'(' => depth += 1,
                b')' if depth == 0 => {
                    plain_end = Some(self.at);
                    break;
                }
                b')' => depth -= 1,
                _ => {}
            }
            self.at += 1;
        }
        if let Some(end) = plain_end {
            self.at = end + 1;
            return Cow::Borrowed(&self.bytes[start..end]);
        }
        if self.at >= self.bytes.len() {
            return Cow::Borrowed(&self.bytes[start..]);
        }
        // An escape: decode from here on into a copy.
        let mut decoded = self.bytes[start..self.at].to_vec();
        while let Some(&byte) = self.bytes.get(self.at) {
            self.at += 1;
            match byte {
                b'(' => {
                    depth += 1;
                    decoded.push(byte);
                }
                b')' if depth == 0 => return Cow::Owned(decoded),
                b')' => {
                    depth -= 1;
                    decoded.push(byte);
                }
                b'\\' => {
                    let Some(&escaped) = self.bytes.get(self.at) else {
                        break;
                    };
                    self.at += 1;
                    match escaped {
                        b'n' => decoded.push(b'\n'),
                        b'r' => decoded.push(b'\r'),
                        b't' => decoded.push(b'\t'),
                        b'b' => decoded.push(0x08),
                        b'f' => decoded.push(0x0c),
                        b'0'..=b'7' => {
                            let mut value = u32::from(escaped - b'0');
                            for _ in 0..2 {
                                match self.bytes.get(self.at) {
                                    Some(&digit @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(digit - b'0');
                                        self.at += 1;
                                    }
                                    _ => break,
                                }
                            }
                            decoded.push(value as u8);
                        }
                        // A backslash before a line end continues the line.
                        b'\r' => {
                            if self.bytes.get(self.at) == Some(&b'\n') {
                                self.at += 1;
                            }
                        }
                        b'\n' => {}
                        other => decoded.push(other),
                    }
                }
                other => decoded.push(other),
            }
        }
        Cow::Owned(decoded)
    }

    /// A hex string, after its `<`: pairs of digits up to `>`, whitespace
    /// ignored, an odd last digit padded with 0.
    fn hex_string(&mut self) -> Cow<'a, [u8]> {
        let end = memchr::memchr(b'>', &self.bytes[self.at..])
            .map_or(self.bytes.len(), |offset| self.at + offset);
        let mut decoded = Vec::with_capacity((end - self.at) / 2);
        let mut high: Option<u8> = None;
        for &byte in &self.bytes[self.at..end] {
            let Some(value) = hex_value(byte) else {
                continue;
            };
            match high.take() {
                Some(first) => decoded.push(first << 4 | value),
                None => high = Some(value),
            }
        }
        if let Some(first) = high {
            decoded.push(first << 4);
        }
        self.at = (end + 1).min(self.bytes.len());
        Cow::Owned(decoded)
    }

    /// Skips a dictionary's contents after its `<<`, nested ones included.
    fn skip_dictionary(&mut self, depth: usize) {
        loop {
            self.skip_whitespace_and_comments();
            match self.bytes.get(self.at..self.at + 2) {
                None => {
                    self.at = self.bytes.len();
                    return;
                }
                Some(b">>") => {
                    self.at += 2;
                    return;
                }
                _ => {
                    if self.operand_or_operator(depth + 1).is_none() {
                        return;
                    }
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Operand<'a> {
        let mut items = Vec::new();
        loop {
            self.skip_whitespace_and_comments();
            match self.bytes.get(self.at) {
                None => break,
                Some(b']') => {
                    self.at += 1;
                    break;
                }
                _ => match self.operand_or_operator(depth + 1) {
                    Some(Token::Operand(operand)) if depth < MAX_NESTING => items.push(operand),
                    Some(_) => {}
                    None => break,
                },
            }
        }
        if depth >= MAX_NESTING {
            return Operand::Other;
        }
        Operand::Array(items)
    }

    fn operand_or_operator(&mut self, depth: usize) -> Option<Token<'a>> {
        self.skip_whitespace_and_comments();
        let byte = *self.bytes.get(self.at)?;
        let token = match byte {
            b'(' => {
                self.at += 1;
                Token::Operand(Operand::String(self.literal_string()))
            }
            b'<' if self.bytes.get(self.at + 1) == Some(&b'<') => {
                self.at += 2;
                if depth < MAX_NESTING {
                    self.skip_dictionary(depth);
                } else {
                    self.at = self.bytes.len();
                }
                Token::Operand(Operand::Other)
            }
            b'<' => {
                self.at += 1;
                Token::Operand(Operand::String(self.hex_string()))
            }
            b'[' => {
                self.at += 1;
                if depth >= MAX_NESTING {
                    self.at = self.bytes.len();
                    return None;
                }
                Token::Operand(self.array(depth))
            }
            b'/' => {
                self.at += 1;
                Token::Operand(Operand::Name(self.regular_run()))
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                let text = self.regular_run();
                if text.is_empty() {
                    self.at += 1;
                    Token::Operand(Operand::Other)
                } else {
                    match parse_number(text) {
                        Some(value) => Token::Operand(Operand::Number(value)),
                        None => Token::Operand(Operand::Other),
                    }
                }
            }
            _ if is_regular(byte) => {
                let word = self.regular_run();
                match word {
                    b"true" | b"false" | b"null" => Token::Operand(Operand::Other),
                    _ => Token::Operator(word),
                }
            }
            // A stray delimiter (`)`, `>`, `]`, `{`, `}`): skipped.
            _ => {
                self.at += 1;
                Token::Operand(Operand::Other)
            }
        };
        Some(token)
    }

    /// Skips an inline image's data after its `ID` operator: binary bytes up
    /// to an `EI` that stands alone between whitespace.
    fn skip_inline_image_data(&mut self) {
        // One whitespace byte separates ID from the data.
        self.at += 1;
        while let Some(offset) =
            memchr::memmem::find(&self.bytes[self.at.min(self.bytes.len())..], b"EI")
        {
            let at = self.at + offset;
            let before = at == 0 || is_whitespace(self.bytes[at - 1]);
            let after = self.bytes.get(at + 2).is_none_or(|&byte| !is_regular(byte));
            self.at = at + 2;
            if before && after {
                return;
            }
        }
        self.at = self.bytes.len();
    }

    /// The next operator and its operands (in `operands`, cleared first), or
    /// `None` at the end of the stream.
    pub fn next_operation(&mut self, operands: &mut Vec<Operand<'a>>) -> Option<&'a [u8]> {
        operands.clear();
        loop {
            match self.operand_or_operator(0)? {
                Token::Operand(operand) => {
                    // A CMap block may list thousands of entries (beyond the
                    // spec's 100); a stream of nothing but operands must
                    // still not grow the list without bound.
                    if operands.len() < MAX_OPERANDS {
                        operands.push(operand);
                    }
                }
                Token::Operator(b"ID") => {
                    self.skip_inline_image_data();
                    operands.clear();
                }
                Token::Operator(operator) => return Some(operator),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(bytes: &[u8]) -> Vec<(String, Vec<Operand<'_>>)> {
        let mut tokenizer = Tokenizer::new(bytes);
        let mut operands = Vec::new();
        let mut found = Vec::new();
        while let Some(operator) = tokenizer.next_operation(&mut operands) {
            found.push((
                String::from_utf8_lossy(operator).into_owned(),
                operands.clone(),
            ));
        }
        found
    }

    fn string(bytes: &[u8]) -> Operand<'_> {
        Operand::String(Cow::Borrowed(bytes))
    }

    #[test]
    fn text_operators_and_their_operands() {
        let found = operations(
            b"BT /F1 9.96 Tf 1 0 0 1 72 -.5 Tm [(Hel)-250(lo)]TJ (a\\(b\\)c\\101\\\nd) Tj <48 65 6C6>Tj ET",
        );
        let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["BT", "Tf", "Tm", "TJ", "Tj", "Tj", "ET"]);
        assert_eq!(found[1].1, [Operand::Name(b"F1"), Operand::Number(9.96)]);
        assert_eq!(found[2].1[5], Operand::Number(-0.5));
        assert_eq!(
            found[3].1,
            [Operand::Array(vec![
                string(b"Hel"),
                Operand::Number(-250.0),
                string(b"lo")
            ])]
        );
        assert_eq!(found[4].1, [string(b"a(b)cAd")]);
        assert_eq!(found[5].1, [string(b"Hel`")]);
    }

    #[test]
    fn inline_images_comments_and_dictionaries_are_skipped() {
        let found = operations(
            b"q % a comment (not a string\n/Span <</ActualText (x) /MCID 3 <<>> >> BDC \
              BI /W 2 /H 2 ID \x00EI\xffEI\nEI Q (after) Tj",
        );
        let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["q", "BDC", "BI", "Q", "Tj"]);
        assert_eq!(found[4].1, [string(b"after")]);
    }

    #[test]
    fn hostile_bytes_end_without_panic_or_runaway() {
        let mut rng = crate::testing::fuzz::Rng::new(7);
        for _ in 0..2000 {
            let length = rng.below(200);
            let alphabet = b"()<>[]{}/%\\ 0123456789.-+BTETjTJ\n\r";
            let bytes: Vec<u8> = (0..length)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let _ = operations(&bytes);
        }
        let deep = vec![b'['; 100_000];
        assert!(operations(&deep).is_empty());
        let deep_dictionaries = b"<<".repeat(50_000);
        assert!(operations(&deep_dictionaries).is_empty());
    }
}
