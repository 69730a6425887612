//! PDF text with its layout read from where each glyph sits, not only from
//! the order it is drawn in: pdf-extract hands every character to our output
//! device with its position and size; lines form where baselines agree,
//! paragraphs where the gap between lines grows or a line stops short after a
//! sentence, and wrapped lines of a paragraph are joined (hyphenation undone)
//! so a sentence reads as one. Headers and footers that repeat on most pages
//! (running titles, page numbers) are dropped.

use std::collections::HashMap;

use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

use crate::Page;

mod content;
#[rustfmt::skip]
mod core_metrics;
mod fonts;
mod objects;
mod reader;

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

impl Layout {
    fn begin_page(&mut self, height: f64) {
        self.height = height;
        self.lines.clear();
        self.last_end = f64::MIN;
    }

    fn end_page(&mut self) {
        let lines = std::mem::take(&mut self.lines);
        self.pages.push(lines);
    }

    /// A glyph shown at the text rendering matrix `rendering` (`[a b c d e f]`;
    /// e and f place it), `width` text space units wide (before the font size).
    fn glyph(&mut self, rendering: &[f64; 6], width: f64, font_size: f64, text: &str) {
        if text.chars().all(char::is_control) {
            return;
        }
        let [a, b, c, d, e, f] = *rendering;
        // PDF's y grows upwards.
        let x = e;
        let y = self.height - f;
        let scale_x = font_size * (a + c);
        let scale_y = font_size * (b + d);
        let size = (scale_x * scale_y).abs().sqrt();
        self.push_glyph(x, y, width * size, size, text);
    }
}

/// pdf-extract's reader, for the documents ours does not read.
impl OutputDev for Layout {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        Layout::begin_page(self, media_box.ury - media_box.lly);
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Layout::end_page(self);
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
        let rendering = [trm.m11, trm.m12, trm.m21, trm.m22, trm.m31, trm.m32];
        self.glyph(&rendering, width, font_size, text);
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
/// Pages above which pdf-extract reads a PDF on one thread. It finds one page
/// by walking the whole page tree (`output_doc_page`), so page by page is
/// quadratic in the page count: fine for real documents, not for a file of a
/// hundred thousand empty pages, which one pass over the tree reads. (Our
/// reader finds a page by its object and has no such limit.)
const MAX_PAGES_PDF_EXTRACT_READS_IN_PARALLEL: usize = 2000;

fn page_readers(pages: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get())
        .min(MAX_PAGE_READERS)
        .min(pages / 2)
        .max(1)
}

/// Reads `count` pages on `threads` threads: thread `t` of `n` reads pages
/// `t`, `t + n`, … (dealt out rather than in runs, as a document's heavy pages
/// tend to sit together) with `read_every(t, n)`, and the pages are put back
/// in order. A reader's panic is carried to the caller, as if it had read
/// the page itself.
fn read_dealt<E: Send>(
    count: usize,
    threads: usize,
    read_every: impl Fn(usize, usize) -> Result<Vec<Vec<Line>>, E> + Sync,
) -> Result<Vec<Vec<Line>>, E> {
    if threads <= 1 {
        return read_every(0, 1);
    }
    let read_every = &read_every;
    let dealt: Vec<Vec<Vec<Line>>> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..threads)
            .map(|first| scope.spawn(move || read_every(first, threads)))
            .collect();
        readers
            .into_iter()
            .map(|reader| {
                reader
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    // Page i was the (i / n)-th of thread i % n.
    let mut dealt: Vec<_> = dealt.into_iter().map(Vec::into_iter).collect();
    Ok((0..count)
        .map_while(|index| dealt[index % threads].next())
        .collect())
}

/// Every page's lines, by our reader (see [`reader`]).
fn read_own(
    document: &pdf_extract::Document,
    pages: &[lopdf::ObjectId],
) -> Result<Vec<Vec<Line>>, fonts::Unsupported> {
    read_dealt(pages.len(), page_readers(pages.len()), |first, step| {
        let mut reader = reader::PageReader::new(document);
        let mut layout = Layout::default();
        for &page in pages.iter().skip(first).step_by(step) {
            reader.read(page, &mut layout)?;
        }
        Ok(layout.pages)
    })
}

/// Every page's lines, by pdf-extract.
fn read_with_pdf_extract(document: &pdf_extract::Document) -> Result<Vec<Vec<Line>>, OutputError> {
    let numbers: Vec<u32> = document.get_pages().into_keys().collect();
    if numbers.len() > MAX_PAGES_PDF_EXTRACT_READS_IN_PARALLEL {
        let mut layout = Layout::default();
        pdf_extract::output_doc(document, &mut layout)?;
        return Ok(layout.pages);
    }
    read_dealt(numbers.len(), page_readers(numbers.len()), |first, step| {
        let mut layout = Layout::default();
        for &number in numbers.iter().skip(first).step_by(step) {
            pdf_extract::output_doc_page(document, &mut layout, number)?;
        }
        Ok(layout.pages)
    })
}

/// The text of every page, numbered from 1. Our reader reads it on every
/// core; a document it cannot read faithfully (a font kind it does not
/// decode) is read by pdf-extract instead, whole.
pub fn pages(document: &pdf_extract::Document) -> Result<Vec<Page>, OutputError> {
    let ids: Vec<lopdf::ObjectId> = document.get_pages().into_values().collect();
    let pages = match read_own(document, &ids) {
        Ok(pages) => pages,
        Err(_unsupported) => read_with_pdf_extract(document)?,
    };
    Ok(page_texts(&pages)
        .into_iter()
        .zip(1..)
        .map(|(text, number)| Page { number, text })
        .collect())
}

/// Each page's text, running headers and footers dropped.
fn page_texts(pages: &[Vec<Line>]) -> Vec<String> {
    let running = running_lines(pages);
    pages
        .iter()
        .map(|lines| page_text(lines, &running, pages.len()))
        .collect()
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

#[cfg(test)]
mod reading {
    //! Our reader on small documents made here, one PDF feature at a time.
    use super::reader::MAX_FORMS_DRAWN_PER_PAGE;
    use super::*;
    use lopdf::{dictionary, Object, Stream};

    /// A one-page document (US letter) drawing `content` with `fonts` (and the
    /// form XObjects in `forms`) as its resources.
    fn document(
        fonts: lopdf::Dictionary,
        forms: lopdf::Dictionary,
        content: &str,
    ) -> pdf_extract::Document {
        let mut document = pdf_extract::Document::with_version("1.5");
        let pages = document.new_object_id();
        let content = document.add_object(Stream::new(dictionary! {}, content.as_bytes().to_vec()));
        let page = document.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages,
            "Contents" => content,
            "Resources" => dictionary! { "Font" => fonts, "XObject" => forms },
        });
        document.objects.insert(
            pages,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => vec![page.into()],
                "Count" => 1,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
        document.trailer.set("Root", catalog);
        document
    }

    fn helvetica() -> lopdf::Dictionary {
        dictionary! {
            "Type" => "Font", "Subtype" => "Type1",
            "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
        }
    }

    /// The page's text as our reader gives it (never pdf-extract's).
    fn read(document: &pdf_extract::Document) -> String {
        let ids: Vec<lopdf::ObjectId> = document.get_pages().into_values().collect();
        let pages = read_own(document, &ids).expect("our reader reads it");
        page_text(&pages[0], &HashMap::new(), pages.len())
    }

    #[test]
    fn words_are_spaced_by_where_they_sit_and_by_kerning() {
        // GIVEN a standard font used without widths, words placed apart by
        // Td, by a wide TJ gap and by an explicit space, and a tight kern
        let content = "BT /F1 12 Tf 72 700 Td (The) Tj 30 0 Td (lamp) Tj \
                       [( is) -600 (lit) -20 (ed)] TJ ( now.) Tj ET";
        let document = document(dictionary! { "F1" => helvetica() }, dictionary! {}, content);
        // WHEN our reader reads it
        // THEN gaps wider than a space part words, and kerning does not
        assert_eq!(read(&document), "The lamp is lited now.");
    }

    #[test]
    fn lines_that_wrap_join_and_a_drop_starts_a_paragraph() {
        let content = "BT /F1 12 Tf 14 TL 72 700 Td (The keeper climbs) Tj T* (at dusk.) Tj \
                       0 -40 Td (Fog rolls in.) Tj ET";
        let document = document(dictionary! { "F1" => helvetica() }, dictionary! {}, content);
        assert_eq!(
            read(&document),
            "The keeper climbs at dusk.\n\nFog rolls in."
        );
    }

    /// A one-page document showing `content` in `font` (as F1), the font
    /// given `cmap` as its ToUnicode map.
    fn with_to_unicode(
        mut font: lopdf::Dictionary,
        cmap: &[u8],
        content: &str,
    ) -> pdf_extract::Document {
        let mut document = document(dictionary! {}, dictionary! {}, "");
        let cmap = document.add_object(Stream::new(dictionary! {}, cmap.to_vec()));
        font.set("ToUnicode", cmap);
        draw(
            &mut document,
            content,
            dictionary! { "Font" => dictionary! { "F1" => font } },
        );
        document
    }

    /// Makes the page draw `content` with `resources`.
    fn draw(document: &mut pdf_extract::Document, content: &str, resources: lopdf::Dictionary) {
        let content = document.add_object(Stream::new(dictionary! {}, content.as_bytes().to_vec()));
        let page = document.get_pages()[&1];
        let page = document.get_dictionary_mut(page).expect("the page");
        page.set("Contents", content);
        page.set("Resources", resources);
    }

    #[test]
    fn differences_and_to_unicode_give_each_code_its_text() {
        // GIVEN a font whose Differences rename codes 1 and 2, and a ToUnicode
        // map that overrides code 2
        let font = dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Times-Roman",
            "Encoding" => dictionary! { "Differences" => vec![1.into(), "fi".into(), "A".into()] },
        };
        let document = with_to_unicode(
            font,
            b"1 beginbfchar <02> <00660066> endbfchar",
            "BT /F1 10 Tf 72 700 Td (\\001nd \\002ort) Tj ET",
        );
        // THEN the ligature and the mapped code read as letters
        assert_eq!(read(&document), "\u{FB01}nd ffort");
    }

    #[test]
    fn composite_fonts_read_two_byte_codes_through_to_unicode() {
        let cid_font = dictionary! {
            "Type" => "Font", "Subtype" => "CIDFontType2", "BaseFont" => "Noto",
            "DW" => 500, "W" => vec![16.into(), vec![600.into(), 600.into()].into()],
        };
        let font = dictionary! {
            "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "Noto",
            "Encoding" => "Identity-H", "DescendantFonts" => vec![cid_font.into()],
        };
        let document = with_to_unicode(
            font,
            b"1 beginbfrange <0010> <0012> <0061> endbfrange 1 beginbfchar <0020> <0020> endbfchar",
            "BT /F1 10 Tf 72 700 Td <00100011001200200012> Tj ET",
        );
        assert_eq!(read(&document), "abc c");
    }

    /// The document with one form, `Fm1`, drawing `form_content` with
    /// Helvetica as F1 and itself as Fm1; the page draws `page_content`.
    fn with_form(form_content: &str, page_content: &str) -> pdf_extract::Document {
        let mut document = document(dictionary! {}, dictionary! {}, "");
        let form = document.new_object_id();
        document.objects.insert(
            form,
            Object::Stream(Stream::new(
                dictionary! {
                    "Type" => "XObject", "Subtype" => "Form",
                    "Matrix" => vec![1.into(), 0.into(), 0.into(), 1.into(), 0.into(), 0.into()],
                    "Resources" => dictionary! {
                        "Font" => dictionary! { "F1" => helvetica() },
                        "XObject" => dictionary! { "Fm1" => form },
                    },
                },
                form_content.as_bytes().to_vec(),
            )),
        );
        draw(
            &mut document,
            page_content,
            dictionary! { "XObject" => dictionary! { "Fm1" => form } },
        );
        document
    }

    #[test]
    fn text_inside_form_xobjects_is_read_where_the_form_puts_it() {
        // GIVEN a form drawn twice, moved down by cm the second time
        let document = with_form(
            "BT /F1 12 Tf 72 700 Td (Beacon.) Tj ET",
            "q /Fm1 Do Q q 1 0 0 1 0 -40 cm /Fm1 Do Q",
        );
        // THEN each drawing reads once, where it lands on the page
        assert_eq!(read(&document), "Beacon.\n\nBeacon.");
    }

    #[test]
    fn a_form_that_draws_itself_is_drawn_a_bounded_number_of_times() {
        let document = with_form(
            "BT /F1 12 Tf 72 700 Td (Beacon.) Tj ET 1 0 0 1 0 -20 cm /Fm1 Do /Fm1 Do",
            "/Fm1 Do",
        );
        let text = read(&document);
        let drawn = text.matches("Beacon.").count();
        assert!((2..=MAX_FORMS_DRAWN_PER_PAGE).contains(&drawn), "{drawn}");
    }

    #[test]
    fn a_page_drawn_by_several_content_streams_reads_as_one() {
        // GIVEN content split in two streams, the first ending on an operator
        let mut document = document(dictionary! { "F1" => helvetica() }, dictionary! {}, "");
        let first = document.add_object(Stream::new(
            dictionary! {},
            b"BT /F1 12 Tf 72 700 Td (Tides) Tj ET".to_vec(),
        ));
        let second = document.add_object(Stream::new(
            dictionary! {},
            b"BT /F1 12 Tf 72 686 Td (turn.) Tj ET".to_vec(),
        ));
        let page = document.get_pages()[&1];
        let page = document.get_dictionary_mut(page).expect("the page");
        page.set("Contents", vec![first.into(), second.into()]);
        // THEN both streams' text is read, as one paragraph
        assert_eq!(read(&document), "Tides turn.");
    }

    #[test]
    fn a_font_we_cannot_decode_hands_the_document_to_pdf_extract() {
        let font = dictionary! {
            "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "Mincho",
            "Encoding" => "UniJIS-UCS2-H", "DescendantFonts" => vec![],
        };
        let document = document(
            dictionary! { "F1" => font },
            dictionary! {},
            "BT /F1 10 Tf (x) Tj ET",
        );
        let ids: Vec<lopdf::ObjectId> = document.get_pages().into_values().collect();
        assert!(read_own(&document, &ids).is_err());
    }
}

#[cfg(test)]
mod readers_agree {
    //! Our reader against pdf-extract on real PDFs: the same words on every
    //! page. The repository's fixtures always run; `ASKDOCS_PDF_CORPUS=<dir>`
    //! adds every PDF in a folder (e.g. `.bench-docs/set/pdf`).
    use super::*;
    use std::collections::HashMap;

    /// How alike two texts' words are: 1.0 when the same words appear as often.
    fn word_agreement(ours: &str, theirs: &str) -> f64 {
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for word in ours.split_whitespace() {
            *counts.entry(word).or_default() += 1;
        }
        let mut common = 0;
        for word in theirs.split_whitespace() {
            if let Some(count) = counts.get_mut(word).filter(|count| **count > 0) {
                *count -= 1;
                common += 1;
            }
        }
        let total = ours.split_whitespace().count() + theirs.split_whitespace().count();
        if total == 0 {
            1.0
        } else {
            2.0 * common as f64 / total as f64
        }
    }

    /// (file, agreement over the whole document, worst page's agreement and number)
    fn compare(path: &std::path::Path) -> Option<(f64, f64, usize)> {
        let bytes = std::fs::read(path).expect("a readable file");
        let document = pdf_extract::Document::load_mem(&bytes).ok()?;
        let ids: Vec<lopdf::ObjectId> = document.get_pages().into_values().collect();
        let ours = match read_own(&document, &ids) {
            Ok(pages) => page_texts(&pages),
            Err(unsupported) => {
                eprintln!("{}: not ours to read ({})", path.display(), unsupported.0);
                return None;
            }
        };
        let theirs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_with_pdf_extract(&document)
        }));
        let Ok(Ok(theirs)) = theirs else {
            let words: usize = ours
                .iter()
                .map(|page| page.split_whitespace().count())
                .sum();
            eprintln!(
                "{}: pdf-extract fails; ours reads {words} words",
                path.display()
            );
            return None;
        };
        let theirs = page_texts(&theirs);
        assert_eq!(ours.len(), theirs.len(), "{}: page count", path.display());
        let whole = word_agreement(&ours.join("\n"), &theirs.join("\n"));
        let (worst, page) = ours
            .iter()
            .zip(&theirs)
            .map(|(ours, theirs)| word_agreement(ours, theirs))
            .enumerate()
            .map(|(index, agreement)| (agreement, index + 1))
            .fold(
                (1.0, 0),
                |worst, page| if page.0 < worst.0 { page } else { worst },
            );
        if std::env::var_os("ASKDOCS_PDF_DIFF").is_some() && page > 0 {
            eprintln!(
                "--- ours, page {page}:\n{}\n--- pdf-extract:\n{}",
                ours[page - 1],
                theirs[page - 1]
            );
        }
        Some((whole, worst, page))
    }

    #[test]
    fn our_reader_finds_the_words_pdf_extract_finds() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut files = vec![fixtures.join("lighthouse.pdf")];
        if let Some(corpus) = std::env::var_os("ASKDOCS_PDF_CORPUS") {
            let mut found: Vec<_> = std::fs::read_dir(corpus)
                .expect("a corpus folder")
                .filter_map(|entry| Some(entry.ok()?.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "pdf"))
                .collect();
            found.sort();
            files.extend(found);
        }
        let mut disagreeing = Vec::new();
        for file in files {
            let Some((whole, worst, page)) = compare(&file) else {
                continue;
            };
            eprintln!(
                "{}: words agree {whole:.4}; worst page {page}: {worst:.4}",
                file.display()
            );
            // Where they differ on the corpus, ours is the more faithful:
            // bash.pdf's running titles, word gaps in Type 3 fonts.
            if whole < 0.98 {
                disagreeing.push(file);
            }
        }
        assert!(disagreeing.is_empty(), "words differ in {disagreeing:?}");
    }
}
