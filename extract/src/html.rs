//! HTML to text in one pass over html5ever's tokens: no document tree, no
//! recursion, no table layout — linear in the input however deep or wide it
//! nests. Headings become `#` lines, paragraphs and blocks are separated by
//! blank lines, list items start with `- `, table rows become one line of
//! cells separated by ` | `, `<pre>` keeps its lines; scripts, styles and
//! other invisible content are dropped.

use std::cell::RefCell;

use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

#[derive(Default)]
struct Text {
    out: String,
    line: String,
    /// Inside `<script>`, `<style>` and the like.
    hidden: usize,
    /// Inside `<pre>`: whitespace is kept.
    preformatted: usize,
    /// Cells written on the current table row.
    cells_in_row: usize,
    /// A space is owed before the next word.
    space: bool,
}

impl Text {
    fn flush_line(&mut self) {
        let line = self.line.trim_end();
        if !line.trim().is_empty() {
            self.out.push_str(line);
            self.out.push('\n');
        }
        self.line.clear();
        self.space = false;
    }

    fn blank_line(&mut self) {
        self.flush_line();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn words(&mut self, text: &str) {
        if self.preformatted > 0 {
            for (index, piece) in text.split('\n').enumerate() {
                if index > 0 {
                    self.flush_line();
                }
                self.line.push_str(piece);
            }
            return;
        }
        let leading_space = text.starts_with(char::is_whitespace);
        let mut first = true;
        for word in text.split_whitespace() {
            let owed = !first || self.space || leading_space;
            if owed && !self.line.is_empty() && !self.line.ends_with(' ') {
                self.line.push(' ');
            }
            self.line.push_str(word);
            first = false;
        }
        self.space = if first {
            self.space || leading_space
        } else {
            text.ends_with(char::is_whitespace)
        };
    }

    fn tag(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        let name = tag.name.as_ref();
        let start = tag.kind == TagKind::StartTag;
        if matches!(
            name,
            "script" | "style" | "noscript" | "template" | "svg" | "head" | "iframe" | "object"
        ) {
            if name == "head" {
                // The document's <title> is the one thing of <head> worth keeping.
                return TokenSinkResult::Continue;
            }
            if start && !tag.self_closing {
                self.hidden += 1;
                return match name {
                    "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "noscript" | "iframe" => TokenSinkResult::RawData(RawKind::Rawtext),
                    _ => TokenSinkResult::Continue,
                };
            } else if !start {
                self.hidden = self.hidden.saturating_sub(1);
            }
            return TokenSinkResult::Continue;
        }
        match (name, start) {
            ("title" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => {
                self.blank_line();
                let level = name
                    .strip_prefix('h')
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                self.line.push_str(&"#".repeat(level));
                self.line.push(' ');
            }
            ("title" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => self.blank_line(),
            ("br", _) => self.flush_line(),
            ("hr", _) => self.blank_line(),
            ("li" | "dt", true) => {
                self.flush_line();
                self.line.push_str("- ");
            }
            ("dd", true) => {
                self.flush_line();
                self.line.push_str("  ");
            }
            ("li" | "dt" | "dd", false) => self.flush_line(),
            ("pre", true) => {
                self.blank_line();
                self.preformatted += 1;
            }
            ("pre", false) => {
                self.preformatted = self.preformatted.saturating_sub(1);
                self.blank_line();
            }
            ("tr", true) => {
                self.flush_line();
                self.cells_in_row = 0;
            }
            ("tr", false) => self.flush_line(),
            ("td" | "th", true) => {
                if self.cells_in_row > 0 {
                    self.line.push_str(" | ");
                }
                self.cells_in_row += 1;
                self.space = false;
            }
            (
                "table" | "ul" | "ol" | "dl" | "p" | "div" | "section" | "article" | "main"
                | "header" | "footer" | "aside" | "nav" | "blockquote" | "figure" | "figcaption"
                | "address" | "details" | "summary" | "caption" | "form" | "fieldset",
                _,
            ) => self.blank_line(),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

struct Sink(RefCell<Text>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut text = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) => return text.tag(&tag),
            Token::CharacterTokens(characters) if text.hidden == 0 => text.words(&characters),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// The visible text of an HTML document.
pub fn to_text(html: &str) -> String {
    let tokenizer = Tokenizer::new(
        Sink(RefCell::new(Text::default())),
        TokenizerOpts::default(),
    );
    let input = BufferQueue::default();
    input.push_back(html.into());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut text = tokenizer.sink.0.into_inner();
    text.flush_line();
    text.out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_survives_as_plain_text() {
        let text = to_text(
            "<html><head><title>Guide</title><style>p{color:red}</style>\
             <script>if (a<b) { x() }</script></head><body>\
             <h2>Install</h2><p>Run <code>make</code>  now.<br>Then rest.</p>\
             <ul><li>one</li><li>two &amp; three</li></ul>\
             <table><tr><th>flag</th><th>meaning</th></tr><tr><td>-v</td><td>verbose</td></tr></table>\
             <pre>line 1\n  line 2</pre></body></html>",
        );
        assert_eq!(
            text,
            "# Guide\n\n## Install\n\nRun make now.\nThen rest.\n\n- one\n- two & three\n\n\
             flag | meaning\n-v | verbose\n\nline 1\n  line 2"
        );
    }

    #[test]
    fn deep_and_wide_documents_are_read_in_linear_time() {
        let deep = format!("{}deep{}", "<div>".repeat(50_000), "</div>".repeat(50_000));
        assert_eq!(to_text(&deep), "deep");
        let wide = format!("<table><tr>{}</tr></table>", "<td>c</td>".repeat(20_000));
        assert_eq!(to_text(&wide).matches(" | ").count(), 19_999);
    }
}
