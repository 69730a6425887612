//! A PDF font, as far as text extraction needs it: for each character code,
//! the text it stands for and how far it moves the pen. Built once per font
//! and kept for every page that uses it.
//!
//! The text comes, in order of trust, from the font's ToUnicode CMap, its
//! Encoding (a named encoding with Differences by glyph name), or the
//! encoding built into the embedded font program. Widths come from the font
//! dictionary, or, for the standard 14 fonts a PDF may use without listing
//! widths, from Adobe's metrics. A font this reader cannot decode faithfully
//! is [`Unsupported`], and the caller reads the document another way.

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Object};

use super::content::{Operand, Tokenizer};
use super::core_metrics::CORE_FONT_WIDTHS;
use super::objects::{entry, name, number, resolve, stream_bytes};

/// A font this reader does not decode (an embedded CMap, a predefined CJK
/// encoding, an unknown kind); the document is read another way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

/// A font as text extraction sees it: how a shown string's bytes become
/// codes, and each code's text and width (text space units).
#[derive(Debug)]
pub enum Font {
    /// One byte a code.
    Simple {
        text: Vec<Box<str>>,
        widths: Vec<f64>,
    },
    /// Two bytes a code (Identity-H/V: the code is the CID).
    Composite {
        text: HashMap<u32, Box<str>>,
        widths: HashMap<u32, f64>,
        default_width: f64,
    },
}

impl Font {
    /// Calls `glyph(code, is_single_byte_space, text, width)` for each code of
    /// a shown string.
    pub fn each_glyph(&self, bytes: &[u8], mut glyph: impl FnMut(bool, &str, f64)) {
        match self {
            Font::Simple { text, widths } => {
                for &byte in bytes {
                    let index = usize::from(byte);
                    glyph(byte == b' ', &text[index], widths[index]);
                }
            }
            Font::Composite {
                text,
                widths,
                default_width,
            } => {
                for pair in bytes.chunks_exact(2) {
                    let code = u32::from(pair[0]) << 8 | u32::from(pair[1]);
                    let shown = text.get(&code).map_or("", |text| text);
                    let width = widths.get(&code).copied().unwrap_or(*default_width);
                    glyph(false, shown, width);
                }
            }
        }
    }
}

/// Glyph names of TeX's Computer Modern fonts that the Adobe Glyph List
/// lacks. TeX documents often embed these fonts without a ToUnicode map.
const TEX_GLYPH_NAMES: &[(&str, &str)] = &[
    ("prime", "\u{2032}"),
    ("circlecopyrt", "\u{20DD}"),
    ("arrowhookleft", "\u{21AA}"),
    ("arrowhookright", "\u{21A9}"),
    ("angbracketleft", "\u{27E8}"),
    ("angbracketright", "\u{27E9}"),
    ("visiblespace", "\u{2423}"),
    ("negationslash", "\u{0338}"),
    ("mapsto", "\u{21A6}"),
    ("vextendsingle", "|"),
];

/// TeX's extensible delimiters and big operators (`parenleftbig`,
/// `summationdisplay`) are sizes of an ordinary glyph.
const TEX_SIZE_SUFFIXES: &[&str] = &["bigg", "Bigg", "big", "Big", "display", "text"];

/// A glyph name's text: from the Adobe Glyph List, TeX's own names, or
/// spelled as `uniXXXX` or `uXXXX`.
fn glyph_text(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    if let Some(text) = pdf_encoding::glyphname_to_unicode(name) {
        return Some(text.to_owned());
    }
    if let Some((_, text)) = TEX_GLYPH_NAMES.iter().find(|(tex, _)| *tex == name) {
        return Some((*text).to_owned());
    }
    if let Some(base) = TEX_SIZE_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|base| !base.is_empty())
    {
        if let Some(text) = pdf_encoding::glyphname_to_unicode(base) {
            return Some(text.to_owned());
        }
    }
    let hex = name
        .strip_prefix("uni")
        .filter(|hex| hex.len() >= 4 && hex.len() % 4 == 0)
        .or_else(|| {
            name.strip_prefix('u')
                .filter(|hex| (4..=6).contains(&hex.len()))
        })?;
    let units: Option<Vec<u32>> = if name.starts_with("uni") {
        hex.as_bytes()
            .chunks(4)
            .map(|chunk| u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok())
            .collect()
    } else {
        u32::from_str_radix(hex, 16).ok().map(|value| vec![value])
    };
    units?.into_iter().map(char::from_u32).collect()
}

/// The standard encodings a simple font may name.
fn named_encoding(name: &[u8]) -> Option<&'static pdf_encoding::ForwardMap> {
    match name {
        b"WinAnsiEncoding" => Some(&pdf_encoding::WINANSI),
        b"MacRomanEncoding" => Some(&pdf_encoding::MACROMAN),
        b"MacExpertEncoding" => Some(&pdf_encoding::MACEXPERT),
        b"StandardEncoding" => Some(&pdf_encoding::STANDARD),
        _ => None,
    }
}

fn table_of(map: &pdf_encoding::ForwardMap) -> Vec<Option<String>> {
    (0..=255u8)
        .map(|code| match map.get(code) {
            // pdf_encoding gives code 32 as a no-break space; it is a space.
            Some('\u{A0}') if code == b' ' => Some(" ".to_owned()),
            other => other.map(String::from),
        })
        .collect()
}

/// The encoding in a Type 1 font program's clear-text part:
/// `/Encoding StandardEncoding def`, or `/Encoding 256 array … dup 65 /A put … def`.
fn type1_builtin_encoding(program: &[u8]) -> Option<Vec<Option<String>>> {
    let mut tokenizer = Tokenizer::new(program);
    let mut operands = Vec::new();
    let mut table: Option<Vec<Option<String>>> = None;
    while let Some(operator) = tokenizer.next_operation(&mut operands) {
        match (operator, table.as_mut()) {
            (b"StandardEncoding", None)
                if operands.first() == Some(&Operand::Name(b"Encoding")) =>
            {
                return Some(table_of(&pdf_encoding::STANDARD));
            }
            (b"array", None) if operands.first() == Some(&Operand::Name(b"Encoding")) => {
                table = Some(vec![None; 256]);
            }
            (b"put", Some(table)) => {
                if let [Operand::Number(code), Operand::Name(glyph)] = operands.as_slice() {
                    if (0.0..256.0).contains(code) {
                        table[*code as usize] = glyph_text(glyph);
                    }
                }
            }
            (b"def" | b"readonly", Some(_)) => return table,
            (b"eexec" | b"currentfile", _) => break,
            _ => {}
        }
    }
    table
}

/// The encoding of an embedded CFF (Type1C) font program.
fn cff_builtin_encoding(program: &[u8]) -> Option<Vec<Option<String>>> {
    let table = cff_parser::Table::parse(program)?;
    Some(
        (0..=255u8)
            .map(|code| {
                let glyph = table.glyph_index(code)?;
                glyph_text(table.glyph_name(glyph)?.as_bytes())
            })
            .collect(),
    )
}

/// What a simple font's codes mean before its Encoding entry changes them:
/// the encoding of the embedded font program, or the standard one for its kind.
fn builtin_encoding(
    document: &Document,
    font: &Dictionary,
    subtype: &[u8],
    base_font: &[u8],
) -> Vec<Option<String>> {
    type Reader = fn(&[u8]) -> Option<Vec<Option<String>>>;
    let programs: [(&[u8], Reader); 2] = [
        (b"FontFile", type1_builtin_encoding),
        (b"FontFile3", cff_builtin_encoding),
    ];
    let descriptor = entry(document, font, b"FontDescriptor").and_then(|o| o.as_dict().ok());
    if let Some(descriptor) = descriptor {
        for (key, read_encoding) in programs {
            let program = descriptor
                .get(key)
                .ok()
                .and_then(|file| stream_bytes(document, file));
            if let Some(table) = program.and_then(|program| read_encoding(&program)) {
                return table;
            }
        }
    }
    let base = base_font
        .rsplit(|&byte| byte == b'+')
        .next()
        .unwrap_or(base_font);
    if base.starts_with(b"Symbol") {
        table_of(&pdf_encoding::SYMBOL)
    } else if base.starts_with(b"ZapfDingbats") {
        table_of(&pdf_encoding::ZDINGBAT)
    } else if subtype == b"TrueType" {
        table_of(&pdf_encoding::WINANSI)
    } else {
        table_of(&pdf_encoding::STANDARD)
    }
}

/// Codes to text from a ToUnicode CMap (`bfchar` and `bfrange` entries,
/// targets in UTF-16BE). Ranges are bounded, so a hostile CMap cannot make
/// millions of entries.
pub fn to_unicode(cmap: &[u8]) -> HashMap<u32, Box<str>> {
    const MAX_ENTRIES: usize = 1 << 17;
    fn code(bytes: &[u8]) -> Option<u32> {
        (1..=4).contains(&bytes.len()).then(|| {
            bytes
                .iter()
                .fold(0u32, |value, &byte| value << 8 | u32::from(byte))
        })
    }
    fn utf16(bytes: &[u8]) -> Box<str> {
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|pair| u16::from(pair[0]) << 8 | u16::from(*pair.get(1).unwrap_or(&0)))
            .collect();
        String::from_utf16_lossy(&units).into()
    }
    let mut map = HashMap::new();
    let mut tokenizer = Tokenizer::new(cmap);
    let mut operands = Vec::new();
    while let Some(operator) = tokenizer.next_operation(&mut operands) {
        match operator {
            b"endbfchar" => {
                for pair in operands.chunks_exact(2) {
                    if let [Operand::String(source), Operand::String(target)] = pair {
                        if let Some(code) = code(source) {
                            map.insert(code, utf16(target));
                        }
                    }
                }
            }
            b"endbfrange" => {
                for triple in operands.chunks_exact(3) {
                    let [Operand::String(low), Operand::String(high), target] = triple else {
                        continue;
                    };
                    let (Some(low), Some(high)) = (code(low), code(high)) else {
                        continue;
                    };
                    let count = high.saturating_sub(low).min(0xFFFF);
                    for offset in 0..=count {
                        if map.len() >= MAX_ENTRIES {
                            break;
                        }
                        let text = match target {
                            // The target's last byte counts up through the range.
                            Operand::String(first) if !first.is_empty() => {
                                let mut bytes = first.to_vec();
                                let last = bytes.len() - 1;
                                let value = u32::from(bytes[last]) + offset;
                                if value > 0xFF && bytes.len() >= 2 {
                                    let high = u32::from(bytes[last - 1]) + (value >> 8);
                                    bytes[last - 1] = high as u8;
                                }
                                bytes[last] = value as u8;
                                utf16(&bytes)
                            }
                            Operand::Array(targets) => match targets.get(offset as usize) {
                                Some(Operand::String(bytes)) => utf16(bytes),
                                _ => continue,
                            },
                            _ => continue,
                        };
                        map.insert(low + offset, text);
                    }
                }
            }
            _ => {}
        }
        if map.len() >= MAX_ENTRIES {
            break;
        }
    }
    map
}

fn to_unicode_of(document: &Document, font: &Dictionary) -> Option<HashMap<u32, Box<str>>> {
    let cmap = stream_bytes(document, font.get(b"ToUnicode").ok()?)?;
    Some(to_unicode(&cmap))
}

/// Widths of a standard-14 font by character, from Adobe's metrics; fonts
/// that are neither listed nor standard are measured as Helvetica, as other
/// readers do.
fn core_widths(base_font: &[u8], text: &[Option<String>]) -> Vec<f64> {
    let base = base_font
        .rsplit(|&byte| byte == b'+')
        .next()
        .unwrap_or(base_font);
    let base = std::str::from_utf8(base).unwrap_or("");
    let styles = if base.starts_with("Courier") {
        [
            "Courier",
            "Courier-Bold",
            "Courier-Oblique",
            "Courier-BoldOblique",
        ]
    } else if base.starts_with("Times") {
        [
            "Times-Roman",
            "Times-Bold",
            "Times-Italic",
            "Times-BoldItalic",
        ]
    } else {
        [
            "Helvetica",
            "Helvetica-Bold",
            "Helvetica-Oblique",
            "Helvetica-BoldOblique",
        ]
    };
    let bold = base.contains("Bold");
    let italic = base.contains("Italic") || base.contains("Oblique");
    let font = styles[usize::from(bold) + 2 * usize::from(italic)];
    let widths = CORE_FONT_WIDTHS
        .iter()
        .find(|(name, _)| *name == font)
        .map_or(&[][..], |(_, widths)| widths);
    text.iter()
        .map(|text| {
            let Some(c) = text.as_deref().and_then(|text| text.chars().next()) else {
                return 0.0;
            };
            widths
                .binary_search_by_key(&(c as u32), |(character, _)| *character)
                .map_or(0.0, |index| f64::from(widths[index].1) / 1000.0)
        })
        .collect()
}

fn simple(document: &Document, font: &Dictionary, subtype: &[u8]) -> Result<Font, Unsupported> {
    let base_font = name(document, font, b"BaseFont").unwrap_or(b"");
    let mut table: Vec<Option<String>> = match entry(document, font, b"Encoding") {
        Some(Object::Name(encoding)) => match named_encoding(encoding) {
            Some(map) => table_of(map),
            None => return Err(Unsupported("an unknown named encoding")),
        },
        Some(Object::Dictionary(encoding)) => {
            let mut table = match name(document, encoding, b"BaseEncoding") {
                Some(base) => {
                    table_of(named_encoding(base).ok_or(Unsupported("an unknown base encoding"))?)
                }
                None => builtin_encoding(document, font, subtype, base_font),
            };
            if let Some(Object::Array(differences)) = entry(document, encoding, b"Differences") {
                let mut code = 0usize;
                for item in differences {
                    match resolve(document, item) {
                        Some(Object::Integer(start)) => code = (*start).clamp(0, 256) as usize,
                        Some(Object::Name(glyph)) => {
                            // A name no list knows (TeX's bitmap fonts call
                            // glyphs `a123`) keeps the base encoding's text.
                            if let (Some(slot), Some(text)) =
                                (table.get_mut(code), glyph_text(glyph))
                            {
                                *slot = Some(text);
                            }
                            code += 1;
                        }
                        _ => {}
                    }
                }
            }
            table
        }
        None => builtin_encoding(document, font, subtype, base_font),
        Some(_) => {
            return Err(Unsupported(
                "an encoding that is neither a name nor a dictionary",
            ))
        }
    };
    if let Some(unicode) = to_unicode_of(document, font) {
        for (code, text) in unicode {
            // Some producers write a simple font's codes as two bytes.
            if let Some(slot) = table.get_mut(code as usize) {
                *slot = Some(text.into());
            }
        }
    }

    // Type 3 glyphs are measured in their own space, mapped by FontMatrix.
    let glyph_scale = if subtype == b"Type3" {
        match entry(document, font, b"FontMatrix") {
            Some(Object::Array(matrix)) => matrix
                .first()
                .and_then(number)
                .ok_or(Unsupported("a Type 3 font without a usable FontMatrix"))?,
            _ => return Err(Unsupported("a Type 3 font without a FontMatrix")),
        }
    } else {
        0.001
    };
    let listed = match (
        entry(document, font, b"FirstChar").and_then(number),
        entry(document, font, b"Widths"),
    ) {
        (Some(first), Some(Object::Array(widths))) => Some((first, widths)),
        _ => None,
    };
    let widths = match listed {
        Some((first, listed)) => {
            let missing = entry(document, font, b"FontDescriptor")
                .and_then(|descriptor| descriptor.as_dict().ok())
                .and_then(|descriptor| entry(document, descriptor, b"MissingWidth"))
                .and_then(number)
                .unwrap_or(0.0);
            let mut widths = vec![missing * glyph_scale; 256];
            for (offset, width) in listed.iter().enumerate() {
                let code = first as i64 + offset as i64;
                if let (Ok(code), Some(width)) = (
                    usize::try_from(code),
                    resolve(document, width).and_then(number),
                ) {
                    if let Some(slot) = widths.get_mut(code) {
                        *slot = width * glyph_scale;
                    }
                }
            }
            widths
        }
        None if subtype == b"Type3" => return Err(Unsupported("a Type 3 font without widths")),
        None => core_widths(base_font, &table),
    };
    let text = table
        .into_iter()
        .map(|text| text.unwrap_or_default().into_boxed_str())
        .collect();
    Ok(Font::Simple { text, widths })
}

fn composite(document: &Document, font: &Dictionary) -> Result<Font, Unsupported> {
    match name(document, font, b"Encoding") {
        Some(b"Identity-H" | b"Identity-V") => {}
        _ => return Err(Unsupported("a composite font whose codes are not its CIDs")),
    }
    let descendant = match entry(document, font, b"DescendantFonts") {
        Some(Object::Array(fonts)) => fonts
            .first()
            .and_then(|font| resolve(document, font))
            .and_then(|font| font.as_dict().ok()),
        _ => None,
    }
    .ok_or(Unsupported("a composite font without its CID font"))?;
    let default_width = entry(document, descendant, b"DW")
        .and_then(number)
        .unwrap_or(1000.0)
        / 1000.0;
    let mut widths = HashMap::new();
    if let Some(Object::Array(listed)) = entry(document, descendant, b"W") {
        let items: Vec<&Object> = listed
            .iter()
            .filter_map(|item| resolve(document, item))
            .collect();
        let mut at = 0;
        while at + 1 < items.len() {
            let Some(first) = number(items[at]) else {
                break;
            };
            let first = first as i64;
            if let Object::Array(run) = items[at + 1] {
                for (offset, width) in run.iter().enumerate() {
                    if let (Ok(cid), Some(width)) = (
                        u32::try_from(first + offset as i64),
                        resolve(document, width).and_then(number),
                    ) {
                        widths.insert(cid, width / 1000.0);
                    }
                }
                at += 2;
            } else {
                let (Some(last), Some(width)) = (
                    number(items[at + 1]),
                    items.get(at + 2).and_then(|w| number(w)),
                ) else {
                    break;
                };
                let last = (last as i64).min(first + 0xFFFF);
                for cid in first..=last {
                    if let Ok(cid) = u32::try_from(cid) {
                        widths.insert(cid, width / 1000.0);
                    }
                }
                at += 3;
            }
        }
    }
    let text = to_unicode_of(document, font).unwrap_or_default();
    Ok(Font::Composite {
        text,
        widths,
        default_width,
    })
}

/// Builds a font from its dictionary.
pub fn load(document: &Document, font: &Dictionary) -> Result<Font, Unsupported> {
    match name(document, font, b"Subtype") {
        Some(b"Type0") => composite(document, font),
        Some(subtype @ (b"Type1" | b"MMType1" | b"TrueType" | b"Type3")) => {
            simple(document, font, subtype)
        }
        _ => Err(Unsupported("a font of an unknown kind")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_unicode_reads_chars_ranges_and_arrays() {
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap \
            1 begincodespacerange <00> <FF> endcodespacerange \
            1 beginbfrange <0100> <FFFFFFFF> <0041> endbfrange \
            2 beginbfchar <01> <0066006C> <02> <D835DC00> endbfchar \
            2 beginbfrange <41> <43> <0061> <50> <51> [<0078> <0079>] endbfrange \
            endcmap";
        let map = to_unicode(cmap);
        assert_eq!(map[&0x01].as_ref(), "fl");
        assert_eq!(map[&0x02].as_ref(), "𝐀");
        assert_eq!(map[&0x43].as_ref(), "c");
        assert_eq!(map[&0x51].as_ref(), "y");
        // The hostile range was cut to 65,536 codes.
        assert_eq!(map[&0x0101].as_ref(), "B");
        assert!(map.len() <= 65536 + 7);
    }

    #[test]
    fn to_unicode_reads_blocks_longer_than_the_spec_allows() {
        // GIVEN one bfchar block of 300 entries (fpdf2 writes them so)
        let entries: String = (0..300u32)
            .map(|code| format!("<{code:04X}> <{:04X}> ", 0x0400 + code))
            .collect();
        let cmap = format!("300 beginbfchar {entries} endbfchar");
        // THEN every entry is read, the last as well as the first
        let map = to_unicode(cmap.as_bytes());
        assert_eq!(map.len(), 300);
        assert_eq!(map[&299].as_ref(), "\u{052B}");
    }

    #[test]
    fn glyph_names_become_text() {
        assert_eq!(glyph_text(b"fi").as_deref(), Some("\u{FB01}"));
        assert_eq!(glyph_text(b"quoteright").as_deref(), Some("\u{2019}"));
        assert_eq!(glyph_text(b"uni00410042").as_deref(), Some("AB"));
        assert_eq!(glyph_text(b"u1F600").as_deref(), Some("😀"));
        assert_eq!(glyph_text(b"g123"), None);
        assert_eq!(glyph_text(b"prime").as_deref(), Some("\u{2032}"));
        assert_eq!(glyph_text(b"parenleftBig").as_deref(), Some("("));
        assert_eq!(glyph_text(b"summationdisplay").as_deref(), Some("\u{2211}"));
    }

    #[test]
    fn a_type1_programs_own_encoding_is_read_from_its_clear_text() {
        let program = b"%!PS-AdobeFont-1.0: CMR10\n/FontName /CMR10 def\n\
            /Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\n\
            dup 11 /ff put\ndup 65 /A put\nreadonly def\ncurrentfile eexec\n\xff\xfe";
        let table = type1_builtin_encoding(program).expect("an encoding");
        assert_eq!(table[11].as_deref(), Some("\u{FB00}"));
        assert_eq!(table[65].as_deref(), Some("A"));
        assert_eq!(table[66], None);
        let standard = type1_builtin_encoding(b"/Encoding StandardEncoding def").expect("standard");
        assert_eq!(standard[65].as_deref(), Some("A"));
    }

    #[test]
    fn standard_fonts_without_widths_use_adobe_metrics() {
        let text = table_of(&pdf_encoding::WINANSI);
        let times = core_widths(b"Times-Roman", &text);
        assert_eq!(times[usize::from(b'a')], 0.444);
        assert_eq!(
            core_widths(b"ABCDEF+Courier-Bold", &text)[usize::from(b'i')],
            0.6
        );
        // Unknown fonts are measured as Helvetica.
        assert_eq!(core_widths(b"Arial", &text)[usize::from(b' ')], 0.278);
    }
}
