//! Hostile files, made on demand (big ones are never committed): each once
//! crashed, hung or exhausted `askdocs serve`. Every one must now end
//! `failed` with a reason (or `ready`) within the extract limits.

use std::io::Write as _;

/// A file an attacker can upload, with what it is declared as.
pub struct HostileFile {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A well-formed PDF of the given objects (1-based, in order), with a
/// correct cross-reference table so any parser reaches them.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        writeln!(out, "{} 0 obj", index + 1).unwrap();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).unwrap();
    for offset in offsets {
        writeln!(out, "{offset:010} 00000 n ").unwrap();
    }
    write!(
        out,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    )
    .unwrap();
    out
}

/// An object's body from its text.
pub fn text(body: &str) -> Vec<u8> {
    body.as_bytes().to_vec()
}

/// A stream object's body: `dictionary` entries, its length, `data`.
pub fn stream(dictionary: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dictionary} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}

const CATALOG: &str = "<< /Type /Catalog /Pages 2 0 R >>";
const PAGES: &str = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";

/// Under 1 KB: a form XObject that draws itself, for ever deeper.
pub fn self_drawing_pdf() -> HostileFile {
    let bytes = pdf(&[
        text(CATALOG),
        text(PAGES),
        text("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X1 4 0 R >> >> /Contents 5 0 R >>"),
        stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /XObject << /X1 4 0 R >> >>",
            b"0 0 m 10 10 l S /X1 Do",
        ),
        stream("", b"/X1 Do"),
    ]);
    HostileFile {
        name: "self-drawing.pdf",
        content_type: "application/pdf",
        bytes,
    }
}

/// Arrays nested a hundred thousand deep.
pub fn nested_arrays_pdf() -> HostileFile {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let bytes = pdf(&[
        text("<< /Type /Catalog /Pages 2 0 R /Deep 6 0 R >>"),
        text(PAGES),
        text("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>"),
        text("<< >>"),
        stream("", b"BT (nested) Tj ET"),
        nested.into_bytes(),
    ]);
    HostileFile {
        name: "nested-arrays.pdf",
        content_type: "application/pdf",
        bytes,
    }
}

/// A small FlateDecode content stream that inflates to `inflated_bytes` of zeros.
pub fn flate_bomb_pdf(inflated_bytes: usize) -> HostileFile {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = inflated_bytes;
    while left > 0 {
        let now = left.min(zeros.len());
        encoder.write_all(&zeros[..now]).unwrap();
        left -= now;
    }
    let compressed = encoder.finish().unwrap();
    let bytes = pdf(&[
        text(CATALOG),
        text(PAGES),
        text("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"),
        stream("/Filter /FlateDecode", &compressed),
    ]);
    HostileFile {
        name: "flate-bomb.pdf",
        content_type: "application/pdf",
        bytes,
    }
}

/// A page that names itself as its own parent.
pub fn own_parent_pdf() -> HostileFile {
    let bytes = pdf(&[
        text(CATALOG),
        text(PAGES),
        text("<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>"),
        stream("", b"BT /F1 12 Tf (parent) Tj ET"),
    ]);
    HostileFile {
        name: "own-parent.pdf",
        content_type: "application/pdf",
        bytes,
    }
}

/// Forty form XObjects, each drawing the next twice (2^40 draws from one
/// page), and 20,000 pages that all draw the first. A reader that bounds the
/// draws on a page (ours stops at a few thousand) still has every page to
/// read, so it spins until the extract time limit: the file that tests of
/// timeouts, cancellation and restarts need.
pub fn exponential_xobjects_pdf() -> HostileFile {
    let levels = 40;
    let pages = 20_000;
    let first_form = 4;
    let first_page = first_form + levels;
    let kids: Vec<String> = (first_page..first_page + pages)
        .map(|page| format!("{page} 0 R"))
        .collect();
    let mut objects = vec![
        text(CATALOG),
        text(&format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )),
        stream("", b"/X Do"),
    ];
    for level in 0..levels {
        let next = first_form + level + 1;
        let (resources, content) = if level + 1 < levels {
            (
                format!("/Resources << /XObject << /X {next} 0 R >> >>"),
                b"/X Do /X Do".to_vec(),
            )
        } else {
            (String::new(), b"0 0 m 10 10 l S".to_vec())
        };
        objects.push(stream(
            &format!("/Type /XObject /Subtype /Form /BBox [0 0 10 10] {resources}"),
            &content,
        ));
    }
    for _ in 0..pages {
        objects.push(text(&format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
             /Resources << /XObject << /X {first_form} 0 R >> >> /Contents 3 0 R >>"
        )));
    }
    HostileFile {
        name: "exponential.pdf",
        content_type: "application/pdf",
        bytes: pdf(&objects),
    }
}

pub fn nested_divs_html() -> HostileFile {
    let depth = 20_000;
    HostileFile {
        name: "nested.html",
        content_type: "text/html",
        bytes: format!(
            "<html><body>{}deep text{}</body></html>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        )
        .into_bytes(),
    }
}

pub fn wide_table_html() -> HostileFile {
    let row = format!("<tr>{}</tr>", "<td>cell</td>".repeat(4000));
    HostileFile {
        name: "wide-table.html",
        content_type: "text/html",
        bytes: format!("<html><body><table>{}</table></body></html>", row.repeat(2)).into_bytes(),
    }
}

/// Five megabytes of one word: no space, no line break.
pub fn endless_word_text() -> HostileFile {
    HostileFile {
        name: "endless.txt",
        content_type: "text/plain",
        bytes: "x".repeat(5 * 1024 * 1024).into_bytes(),
    }
}

/// A PNG chunk: length, type, data, CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend(crc.sum().to_be_bytes());
    chunk
}

/// A valid 8-bit greyscale PNG of `width` × `height` white pixels.
pub fn white_png(width: u32, height: u32) -> Vec<u8> {
    let mut header = width.to_be_bytes().to_vec();
    header.extend(height.to_be_bytes());
    header.extend([8, 0, 0, 0, 0]);
    let mut deflated = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = {
        let mut row = vec![0u8]; // filter: none
        row.resize(width as usize + 1, 255);
        row
    };
    for _ in 0..height {
        deflated.write_all(&row).expect("in memory");
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &header));
    png.extend(png_chunk(b"IDAT", &deflated.finish().expect("in memory")));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// A PNG whose header claims 100,000 × 100,000 pixels (10 gigapixels).
pub fn huge_header_png() -> HostileFile {
    let mut header = 100_000u32.to_be_bytes().to_vec();
    header.extend(100_000u32.to_be_bytes());
    header.extend([8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &header));
    png.extend(png_chunk(b"IEND", &[]));
    HostileFile {
        name: "huge-header.png",
        content_type: "image/png",
        bytes: png,
    }
}

/// A decompression bomb within the pixel limit: 9,000 × 9,000 white pixels
/// (81 MB decoded, 8 bits each) in a few kilobytes.
pub fn decompression_bomb_png() -> HostileFile {
    HostileFile {
        name: "bomb.png",
        content_type: "image/png",
        bytes: white_png(9_000, 9_000),
    }
}

/// A real PNG cut off in the middle of its pixels.
pub fn truncated_png() -> HostileFile {
    let whole = white_png(640, 480);
    HostileFile {
        name: "truncated.png",
        content_type: "image/png",
        bytes: whole[..whole.len() / 2].to_vec(),
    }
}

/// A TIFF whose second page directory points back at the first.
pub fn looping_tiff() -> HostileFile {
    let directory = |next: u32| {
        let mut d = 2u16.to_le_bytes().to_vec();
        for tag in [256u16, 257] {
            d.extend(tag.to_le_bytes());
            d.extend(3u16.to_le_bytes());
            d.extend(1u32.to_le_bytes());
            d.extend(64u32.to_le_bytes());
        }
        d.extend(next.to_le_bytes());
        d
    };
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(directory(38));
    tiff.extend(directory(8));
    HostileFile {
        name: "looping.tiff",
        content_type: "image/tiff",
        bytes: tiff,
    }
}

/// A JPEG that says it is 65,535 × 65,535 pixels.
pub fn huge_header_jpeg() -> HostileFile {
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend([
        0xFF, 0xC0, 0x00, 0x0B, 8, 0xFF, 0xFF, 0xFF, 0xFF, 1, 1, 0x11, 0,
    ]);
    jpeg.extend([0xFF, 0xD9]);
    HostileFile {
        name: "huge-header.jpg",
        content_type: "image/jpeg",
        bytes: jpeg,
    }
}

/// Every hostile file, the bomb sized to inflate past `memory_bytes`.
pub fn all(memory_bytes: usize) -> Vec<HostileFile> {
    vec![
        self_drawing_pdf(),
        nested_arrays_pdf(),
        flate_bomb_pdf(memory_bytes * 2),
        own_parent_pdf(),
        exponential_xobjects_pdf(),
        nested_divs_html(),
        wide_table_html(),
        endless_word_text(),
        huge_header_png(),
        decompression_bomb_png(),
        truncated_png(),
        looping_tiff(),
        huge_header_jpeg(),
    ]
}
