//! PDF text with its layout read from where each glyph sits, not only from
//! the order it is drawn in: pdf-extract hands every character to our output
//! device with its position and size; lines form where baselines agree,
//! paragraphs where the gap between lines grows or a line stops short after a
//! sentence, and wrapped lines of a paragraph are joined (hyphenation undone)
//! so a sentence reads as one. Headers and footers that repeat on most pages
//! (running titles, page numbers) are dropped.

use std::collections::HashMap;

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

use super::super::chunk::Page;

/// One line of a page: its baseline, where it starts and ends, its font size.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    y: f64,
    x_start: f64,
    x_end: f64,
    size: f64,
}

#[derive(Default)]
struct Layout {
    pages: Vec<Vec<Line>>,
    lines: Vec<Line>,
    height: f64,
    /// Where the last glyph ended, for spacing the next.
    last_end: f64,
}

impl Layout {
    fn push_glyph(&mut self, x: f64, y: f64, width: f64, size: f64, text: &str) {
        let size = size.abs().max(1.0);
        let same_line = self
            .lines
            .last()
            .is_some_and(|line| (line.y - y).abs() < size * 0.5 && x > line.x_start - size * 0.5);
        if !same_line {
            self.lines.push(Line {
                text: String::new(),
                y,
                x_start: x,
                x_end: x,
                size,
            });
        } else if x > self.last_end + size * 0.15 {
            let line = self.lines.last_mut().expect("a current line");
            if !line.text.ends_with(' ') && !text.starts_with(' ') {
                line.text.push(' ');
            }
        }
        let line = self.lines.last_mut().expect("a current line");
        line.text.push_str(text);
        line.x_end = line.x_end.max(x + width);
        line.size = line.size.max(size);
        self.last_end = x + width;
    }
}

impl OutputDev for Layout {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.height = media_box.ury - media_box.lly;
        self.lines.clear();
        self.last_end = f64::MIN;
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        let lines = std::mem::take(&mut self.lines);
        self.pages.push(lines);
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        // The text rendering matrix places the glyph; PDF's y grows upwards.
        let x = trm.m31;
        let y = self.height - trm.m32;
        let scale_x = font_size * (trm.m11 + trm.m21);
        let scale_y = font_size * (trm.m12 + trm.m22);
        let size = (scale_x * scale_y).abs().sqrt();
        let advance = width * size;
        if text.chars().all(char::is_control) {
            return Ok(());
        }
        self.push_glyph(x, y, advance, size, text);
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// Digits stand for any number: "Page 3 of 9" repeats as "Page # of #".
fn shape(text: &str) -> String {
    let mut shaped = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            if !shaped.ends_with('#') {
                shaped.push('#');
            }
        } else {
            shaped.push(c.to_ascii_lowercase());
        }
    }
    shaped
}

/// Where a line sits and what it says, numbers aside: a running header or
/// footer has the same on every page.
fn running_key(line: &Line) -> String {
    format!("{}@{}", shape(&line.text), (line.y / 5.0).round())
}

/// Lines in the top or bottom band of a page that repeat on most pages.
fn running_lines(pages: &[Vec<Line>]) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for lines in pages {
        let mut shapes: Vec<String> = Vec::new();
        let band = 3.min(lines.len());
        for line in lines.iter().take(band).chain(lines.iter().rev().take(band)) {
            shapes.push(running_key(line));
        }
        shapes.sort();
        shapes.dedup();
        for shape in shapes {
            *seen.entry(shape).or_default() += 1;
        }
    }
    seen
}

fn ends_sentence(text: &str) -> bool {
    text.trim_end()
        .ends_with(['.', '!', '?', ':', '"', '”', ')'])
}

fn looks_listed(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with(['•', '-', '*', '–', '·', '◦', '▪'])
        || text.split_once(['.', ')']).is_some_and(|(number, _)| {
            !number.is_empty()
                && number.len() <= 3
                && number
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        })
}

/// A page's text: paragraphs separated by blank lines, wrapped lines joined.
fn page_text(lines: &[Line], running: &HashMap<String, usize>, page_count: usize) -> String {
    let repeated = |line: &Line| {
        shape(&line.text)
            .chars()
            .all(|c| c == '#' || !c.is_alphanumeric())
            || (page_count >= 3
                && running
                    .get(&running_key(line))
                    .is_some_and(|&pages| pages * 2 > page_count))
    };
    let band = 3.min(lines.len());
    let kept: Vec<&Line> = lines
        .iter()
        .enumerate()
        .filter(|(index, line)| {
            let in_band = *index < band || *index >= lines.len() - band;
            let running = in_band && repeated(line);
            !running && !line.text.trim().is_empty()
        })
        .map(|(_, line)| line)
        .collect();
    let right = kept.iter().map(|line| line.x_end).fold(f64::MIN, f64::max);
    let mut out = String::new();
    for (index, line) in kept.iter().enumerate() {
        let text = line.text.trim();
        let Some(previous) = index.checked_sub(1).map(|i| kept[i]) else {
            out.push_str(text);
            continue;
        };
        let gap = line.y - previous.y;
        let leading = previous.size.max(line.size);
        let short_before = previous.x_end < right - leading * 4.0;
        let new_paragraph = gap > leading * 1.6
            || gap < -leading
            || (line.size - previous.size).abs() > 1.0
            || (short_before && ends_sentence(&previous.text));
        if new_paragraph {
            out.push_str("\n\n");
            out.push_str(text);
        } else if looks_listed(text) || short_before {
            out.push('\n');
            out.push_str(text);
        } else if out.ends_with('-')
            && out[..out.len() - 1].ends_with(|c: char| c.is_alphabetic())
            && text.starts_with(|c: char| c.is_lowercase())
        {
            // "docu-" + "ment": a word hyphenated at the line's end.
            out.pop();
            out.push_str(text);
        } else {
            out.push(' ');
            out.push_str(text);
        }
    }
    out
}

/// Threads that read a PDF's pages at most.
const MAX_PAGE_READERS: usize = 4;
/// Pages above which a PDF is read on one thread. Reading one page finds it
/// by walking the whole page tree (`output_doc_page`), so page by page is
/// quadratic in the page count: fine for real documents, not for a file of
/// a hundred thousand empty pages, which one pass over the tree reads.
const MAX_PAGES_READ_IN_PARALLEL: usize = 2000;

/// The text of every page, numbered from 1. Pages are independent (the
/// reader keeps no state from one page to the next), so they are read on
/// every core: thread `t` of `n` reads pages `t`, `t + n`, … (dealt out
/// rather than in runs, as a document's heavy pages tend to sit together).
pub fn pages(document: &pdf_extract::Document) -> Result<Vec<Page>, OutputError> {
    let numbers: Vec<u32> = document.get_pages().into_keys().collect();
    let threads = match numbers.len() {
        0..=MAX_PAGES_READ_IN_PARALLEL => std::thread::available_parallelism()
            .map_or(1, |cores| cores.get())
            .min(MAX_PAGE_READERS)
            .min(numbers.len() / 2)
            .max(1),
        _ => 1,
    };
    let read_every = |first: usize| {
        let mut layout = Layout::default();
        for &number in numbers.iter().skip(first).step_by(threads) {
            pdf_extract::output_doc_page(document, &mut layout, number)?;
        }
        Ok::<_, OutputError>(layout.pages)
    };
    let dealt: Vec<Vec<Vec<Line>>> = if threads == 1 {
        let mut layout = Layout::default();
        pdf_extract::output_doc(document, &mut layout)?;
        vec![layout.pages]
    } else {
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..threads)
                .map(|first| scope.spawn(move || read_every(first)))
                .collect();
            // A parser panic is carried to this thread, as if it had read the page.
            readers
                .into_iter()
                .map(|reader| {
                    reader
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Result<Vec<_>, _>>()
        })?
    };
    // Back in page order: page i was the (i / n)-th of thread i % n.
    let mut dealt: Vec<_> = dealt.into_iter().map(Vec::into_iter).collect();
    let pages: Vec<Vec<Line>> = (0..numbers.len())
        .map_while(|index| dealt[index % threads].next())
        .collect();
    let running = running_lines(&pages);
    let count = pages.len();
    Ok(pages
        .iter()
        .enumerate()
        .map(|(index, lines)| Page {
            number: index as u32 + 1,
            text: page_text(lines, &running, count),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, y: f64, x_end: f64) -> Line {
        Line {
            text: text.into(),
            y,
            x_start: 72.0,
            x_end,
            size: 10.0,
        }
    }

    #[test]
    fn wrapped_lines_join_and_paragraphs_stay_apart() {
        let lines = vec![
            line("The library keeps no global state, so sev-", 100.0, 540.0),
            line("eral handles can be used at once.", 112.0, 300.0),
            line("It should be portable to any system", 136.0, 540.0),
            line("with a C compiler.", 148.0, 200.0),
        ];
        assert_eq!(
            page_text(&lines, &HashMap::new(), 1),
            "The library keeps no global state, so several handles can be used at once.\n\n\
             It should be portable to any system with a C compiler."
        );
    }

    #[test]
    fn running_headers_and_page_numbers_are_dropped() {
        let pages: Vec<Vec<Line>> = (1..=4)
            .map(|page| {
                vec![
                    line("GNU Bash Reference Manual", 20.0, 300.0),
                    line(
                        ["Tides rise.", "Fog falls.", "Lamps burn.", "Bells ring."][page - 1],
                        100.0,
                        540.0,
                    ),
                    line(&format!("{page}"), 780.0, 300.0),
                ]
            })
            .collect();
        let running = running_lines(&pages);
        assert_eq!(page_text(&pages[1], &running, 4), "Fog falls.");
    }
}
