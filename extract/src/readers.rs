//! The readers: a file's bytes to its format and pages of text.

use super::{html, image, pdf, terminal, Format, Page};

#[derive(Debug, Clone)]
pub struct Extracted {
    pub format: Format,
    /// Every page, including blank ones, so `pages.len()` is the page count.
    pub pages: Vec<Page>,
}

/// Why a file's text could not be had, in words for the document's owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExtractionError(pub String);

fn refuse(reason: impl Into<String>) -> ExtractionError {
    ExtractionError(reason.into())
}

/// Largest `word/document.xml` we will inflate: far above any real document,
/// far below what a zip bomb would expand to.
pub const MAX_DOCX_XML_BYTES: u64 = 64 * 1024 * 1024;

/// Extracts the text of `bytes`, declared as `declared`. askdocs runs it
/// inside its extract worker: parsers may panic, loop or recurse without
/// bound on hostile files, and only a process of its own contains that.
pub fn extract(bytes: &[u8], declared: Format) -> Result<Extracted, ExtractionError> {
    if bytes.is_empty() {
        return Err(refuse("the file is empty"));
    }
    let format = detect(bytes, declared)?;
    let pages = match format {
        Format::Pdf => extract_pdf(bytes)?,
        Format::Docx => extract_docx(bytes)?,
        Format::Html => vec![page(1, html::to_text(&decode_text(bytes)?))],
        Format::Csv => vec![page(1, csv_to_text(&decode_text(bytes)?)?)],
        // A form feed starts a new page, as `man` and `groff` print them.
        Format::Text | Format::Markdown => text_pages(&decode_text(bytes)?),
        // Pictures of text: blank pages here, read by OCR afterwards.
        Format::Png | Format::Jpeg | Format::Tiff => {
            let info = image::image_info(bytes, format)?;
            (1..=info.pages)
                .map(|number| page(number, String::new()))
                .collect()
        }
    };
    Ok(Extracted { format, pages })
}

fn page(number: u32, text: String) -> Page {
    Page { number, text }
}

/// The format the bytes really are, given what the uploader declared.
pub fn detect(bytes: &[u8], declared: Format) -> Result<Format, ExtractionError> {
    let head = &bytes[..bytes.len().min(1024)];
    let is_pdf = head.windows(5).any(|window| window == b"%PDF-");
    let is_zip = bytes.starts_with(b"PK\x03\x04");
    let picture = image::sniff(bytes);
    if declared.is_image() {
        // A JPEG named .png is still a picture to read.
        return picture.ok_or_else(|| refuse(format!("the file is not a {}", declared.name())));
    }
    if let Some(picture) = picture {
        return Err(refuse(format!(
            "the file is a {}, not {}; upload it as {}",
            picture.name(),
            declared.name(),
            picture.content_type()
        )));
    }
    match declared {
        Format::Pdf if is_pdf => Ok(Format::Pdf),
        Format::Pdf => Err(refuse(
            "the file is not a PDF (it does not start with %PDF)",
        )),
        Format::Docx if is_zip => Ok(Format::Docx),
        Format::Docx => Err(refuse(
            "the file is not a DOCX document (it is not a ZIP package)",
        )),
        _ if is_pdf => Err(refuse(format!(
            "the file is a PDF, not {}; upload it as application/pdf",
            declared.name()
        ))),
        _ if is_zip => Err(refuse(format!(
            "the file is a ZIP archive, not {}",
            declared.name()
        ))),
        Format::Text | Format::Markdown | Format::Csv
            if looks_like_html(bytes) && declared == Format::Text =>
        {
            Ok(Format::Html)
        }
        other => Ok(other),
    }
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// Text as UTF-8 (with or without BOM), UTF-16 with a BOM, or — for legacy files —
/// Windows-1252. Content with NUL bytes or many control characters is binary.
pub fn decode_text(bytes: &[u8]) -> Result<String, ExtractionError> {
    let binary = || refuse("the file is binary, not text");
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(str::to_owned)
            .map_err(|_| binary());
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let little_endian = bytes.starts_with(b"\xFF\xFE");
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|pair| {
                if little_endian {
                    u16::from_le_bytes([pair[0], pair[1]])
                } else {
                    u16::from_be_bytes([pair[0], pair[1]])
                }
            })
            .collect();
        return String::from_utf16(&units).map_err(|_| binary());
    }
    if bytes.contains(&0) {
        return Err(binary());
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    };
    // Terminal formatting is not binary: keep the text it formats.
    let text = if terminal::is_formatted(&text) {
        terminal::strip(&text)
    } else {
        text
    };
    let control = text
        .chars()
        .filter(|&c| c < ' ' && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
        .count();
    if control * 100 > text.len() {
        return Err(binary());
    }
    Ok(text)
}

fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9f => HIGH[(byte - 0x80) as usize],
        _ => byte as char,
    }
}

fn extract_pdf(bytes: &[u8]) -> Result<Vec<Page>, ExtractionError> {
    let damaged = || refuse("the PDF is damaged or not a valid PDF");
    let mut document = pdf_extract::Document::load_mem(bytes).map_err(|error| {
        let text = error.to_string().to_ascii_lowercase();
        if text.contains("encrypt") || text.contains("password") {
            refuse("the PDF is password-protected")
        } else {
            damaged()
        }
    })?;
    if document.is_encrypted() && document.decrypt("").is_err() {
        return Err(refuse("the PDF is password-protected"));
    }
    // The parser panics on some malformed files; the worker turns a panic into
    // the same refusal.
    let pages = pdf::pages(&document).map_err(|_| damaged())?;
    if pages.is_empty() {
        return Err(damaged());
    }
    // Pages without text may be scans: OCR (askdocs' processing) reads them.
    Ok(pages)
}

fn extract_docx(bytes: &[u8]) -> Result<Vec<Page>, ExtractionError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| refuse("the DOCX file is damaged (its ZIP package cannot be read)"))?;
    let index = archive.index_for_name("word/document.xml").ok_or_else(|| {
        refuse("the file is a ZIP archive but not a Word document (no word/document.xml)")
    })?;
    let xml = read_entry(&mut archive, bytes, index)?;
    let pages = docx_pages(&xml)?;
    if pages.iter().all(|page| page.text.trim().is_empty()) {
        return Err(refuse("the DOCX has no text"));
    }
    Ok(pages)
}

/// One entry of a ZIP package held in memory, inflated in one call straight
/// from its bytes (no streaming copies), checked against its declared size
/// and CRC.
fn read_entry(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    bytes: &[u8],
    index: usize,
) -> Result<Vec<u8>, ExtractionError> {
    let damaged = || refuse("the DOCX file is damaged (its text cannot be inflated)");
    let entry = archive
        .by_index_raw(index)
        .map_err(|_| refuse("the DOCX file is damaged (its ZIP package cannot be read)"))?;
    if entry.encrypted() {
        return Err(refuse("the DOCX file is password-protected"));
    }
    if entry.size() > MAX_DOCX_XML_BYTES {
        return Err(refuse(
            "the DOCX expands to more than 64 MB of text (zip bomb?)",
        ));
    }
    let size = entry.size() as usize;
    let start = usize::try_from(entry.data_start()).map_err(|_| damaged())?;
    let stored = usize::try_from(entry.compressed_size())
        .ok()
        .and_then(|length| bytes.get(start..start.checked_add(length)?))
        .ok_or_else(damaged)?;
    // `DEFLATE` names the method whether or not zip's own codec is built in.
    let content = match entry.compression() {
        zip::CompressionMethod::Stored => stored.to_vec(),
        method if method == zip::CompressionMethod::DEFLATE => {
            inflate(stored, size).ok_or_else(damaged)?
        }
        _ => {
            return Err(refuse(
                "the DOCX file uses a compression askdocs cannot read",
            ))
        }
    };
    // The declared size can lie; a stream longer than it was cut short above.
    let mut crc = flate2::Crc::new();
    crc.update(&content);
    if content.len() != size || crc.sum() != entry.crc32() {
        return Err(damaged());
    }
    Ok(content)
}

/// A raw DEFLATE stream that expands to exactly `size` bytes; never inflates more.
fn inflate(compressed: &[u8], size: usize) -> Option<Vec<u8>> {
    // One spare byte: a stream that fills it is longer than declared.
    let mut content = Vec::with_capacity(size + 1);
    let mut inflater = flate2::Decompress::new(false);
    let status = inflater
        .decompress_vec(compressed, &mut content, flate2::FlushDecompress::Finish)
        .ok()?;
    (status == flate2::Status::StreamEnd && content.len() == size).then_some(content)
}

/// Paragraphs become lines; explicit and last-rendered page breaks start new pages.
fn docx_pages(xml: &[u8]) -> Result<Vec<Page>, ExtractionError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut pages = vec![String::new()];
    let mut in_text = false;
    let new_page = |pages: &mut Vec<String>| {
        if !pages.last().is_some_and(|text| text.trim().is_empty()) {
            pages.push(String::new());
        }
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|_| refuse("the DOCX file is damaged (its XML cannot be read)"))?;
        match event {
            Event::Start(element) if element.local_name().as_ref() == b"t" => in_text = true,
            Event::End(element) => match element.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => pages.last_mut().unwrap().push('\n'),
                _ => {}
            },
            Event::Empty(element) => match element.local_name().as_ref() {
                b"tab" => pages.last_mut().unwrap().push('\t'),
                b"br" => {
                    let is_page_break = element.attributes().flatten().any(|attribute| {
                        attribute.key.local_name().as_ref() == b"type"
                            && attribute.value.as_ref() == b"page"
                    });
                    if is_page_break {
                        new_page(&mut pages);
                    } else {
                        pages.last_mut().unwrap().push('\n');
                    }
                }
                b"lastRenderedPageBreak" => new_page(&mut pages),
                _ => {}
            },
            Event::Text(text) if in_text => {
                let text = text
                    .unescape()
                    .map_err(|_| refuse("the DOCX file is damaged (bad text encoding)"))?;
                pages.last_mut().unwrap().push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if pages.len() > 1 && pages.last().is_some_and(|text| text.trim().is_empty()) {
        pages.pop();
    }
    Ok(pages
        .into_iter()
        .enumerate()
        .map(|(index, text)| page(index as u32 + 1, text.trim().to_string()))
        .collect())
}

fn text_pages(text: &str) -> Vec<Page> {
    let mut pages: Vec<Page> = text
        .split('\u{c}')
        .enumerate()
        .map(|(index, text)| page(index as u32 + 1, text.to_string()))
        .collect();
    // A trailing form feed ends the last page; it starts no empty one.
    if pages.len() > 1 && pages.last().is_some_and(|page| page.text.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// Each row becomes one line of `column: value` pairs, so a chunk of rows still
/// says what each value means.
fn csv_to_text(text: &str) -> Result<String, ExtractionError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| refuse("the CSV could not be read"))?
        .iter()
        .map(|header| header.trim().to_string())
        .collect();
    let mut out = String::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|error| {
            refuse(format!(
                "the CSV could not be read at row {}: {error}",
                index + 2
            ))
        })?;
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(
                |(column, value)| match headers.get(column).filter(|h| !h.is_empty()) {
                    Some(header) => format!("{header}: {}", value.trim()),
                    None => value.trim().to_string(),
                },
            )
            .collect();
        if !fields.is_empty() {
            out.push_str(&fields.join("; "));
            out.push('\n');
        }
    }
    if out.is_empty() {
        // Only a header row: keep it, it is still text.
        out = headers.join(", ");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_named_text_is_refused() {
        let error = extract(&[0x7f, b'E', b'L', b'F', 0, 0, 1, 2], Format::Text).unwrap_err();
        assert_eq!(error.0, "the file is binary, not text");
    }

    #[test]
    fn legacy_encodings_are_read() {
        let text = decode_text(b"caf\xe9 \x93quoted\x94").unwrap();
        assert_eq!(text, "café “quoted”");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode_text(&utf16).unwrap(), "hé");
    }

    #[test]
    fn csv_rows_keep_their_column_names() {
        let text = csv_to_text("city,population\nOslo,709000\nBergen,291000\n").unwrap();
        assert_eq!(
            text,
            "city: Oslo; population: 709000\ncity: Bergen; population: 291000\n"
        );
    }

    #[test]
    fn terminal_formatted_text_is_text() {
        let man =
            b"\x1b[1mLZOP\x1b[0m(1)\n\nN\x08NA\x08AM\x08ME\x08E\n  lzop - compress\x0cPage two\x0c";
        let pages = extract(man, Format::Text).unwrap().pages;
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].text, "LZOP(1)\n\nNAME\n  lzop - compress");
        assert_eq!(pages[1].text, "Page two");
    }

    #[test]
    fn html_loses_its_markup_and_scripts() {
        let page = &extract(b"<html><head><script>var x=1;</script></head><body><h1>Title</h1><p>Body &amp; soul</p></body></html>", Format::Html).unwrap().pages[0];
        assert!(
            page.text.contains("Title") && page.text.contains("Body & soul"),
            "{}",
            page.text
        );
        assert!(!page.text.contains("var x"), "{}", page.text);
    }

    #[test]
    fn docx_page_breaks_make_pages() {
        let xml = br#"<w:document xmlns:w="w"><w:body>
            <w:p><w:r><w:t>First page</w:t></w:r></w:p>
            <w:p><w:r><w:br w:type="page"/><w:t>Second &amp; last</w:t></w:r></w:p>
        </w:body></w:document>"#;
        let pages = docx_pages(xml).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].text, "First page");
        assert_eq!(pages[1].text, "Second & last");
    }

    #[test]
    fn pages_read_on_several_threads_come_back_in_order() {
        // GIVEN a PDF of nine pages, each naming a different animal (a line
        // repeated on most pages would be dropped as a running header)
        let animals = [
            "ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis",
        ];
        let count = animals.len();
        let kids: Vec<String> = (0..count)
            .map(|page| format!("{} 0 R", 4 + 2 * page))
            .collect();
        let mut objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!(
                "<< /Type /Pages /Kids [{}] /Count {count} >>",
                kids.join(" ")
            )
            .into_bytes(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ];
        for page in 1..=count {
            let animal = animals[page - 1];
            let content = format!("BT /F1 12 Tf 72 700 Td (The {animal} lives here.) Tj ET");
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                     /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    5 + 2 * (page - 1)
                )
                .into_bytes(),
            );
            objects.push(crate::testing::hostile::stream("", content.as_bytes()));
        }
        let bytes = crate::testing::hostile::pdf(&objects);
        // WHEN its text is extracted
        let pages = extract(&bytes, Format::Pdf).unwrap().pages;
        // THEN every page is there, numbered, with its own text, in order
        let texts: Vec<(u32, String)> = pages
            .into_iter()
            .map(|page| (page.number, page.text))
            .collect();
        let expected: Vec<(u32, String)> = (1..)
            .zip(animals)
            .map(|(page, animal)| (page, format!("The {animal} lives here.")))
            .collect();
        assert_eq!(texts, expected);
    }

    #[test]
    fn a_pdf_declared_as_text_is_refused() {
        let error = extract(b"%PDF-1.4\n...", Format::Text).unwrap_err();
        assert!(error.0.contains("is a PDF"), "{}", error.0);
        let error = extract(b"just words", Format::Pdf).unwrap_err();
        assert!(error.0.contains("not a PDF"), "{}", error.0);
    }
}
