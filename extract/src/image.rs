//! Images (PNG, JPEG, TIFF): what the bytes are, and whether their headers
//! describe pictures OCR can afford to decode. Nothing here decodes pixels:
//! a 100k × 100k header or a truncated file is refused before any decoder
//! (tesseract's, Textract's) sees it.

use super::{ExtractionError, Format};

/// Largest picture read: 100 megapixels (an A3 page at 600 dpi is 70).
/// Decoded as 8-bit grey that is 100 MB, well inside the worker's memory.
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;
/// Most pages of a multi-page TIFF.
pub const MAX_TIFF_PAGES: u32 = 2000;

/// What an image's headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    /// More than one only for a multi-page TIFF.
    pub pages: u32,
}

/// The image format the bytes start with, if any.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some(Format::Tiff)
    } else {
        None
    }
}

fn refuse(reason: impl Into<String>) -> ExtractionError {
    ExtractionError(reason.into())
}

/// The image's size and pages, or why it cannot be read safely.
pub fn image_info(bytes: &[u8], format: Format) -> Result<ImageInfo, ExtractionError> {
    let info = match format {
        Format::Png => png(bytes)?,
        Format::Jpeg => jpeg(bytes)?,
        Format::Tiff => tiff(bytes)?,
        other => return Err(refuse(format!("{} is not an image format", other.name()))),
    };
    Ok(info)
}

/// Refuses a picture too large to decode, or one of no size.
fn check_size(width: u32, height: u32, name: &str) -> Result<(), ExtractionError> {
    if width == 0 || height == 0 {
        return Err(refuse(format!(
            "the {name} is damaged (it says it is {width} × {height} pixels)"
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(refuse(format!(
            "the {name} is too large to read: {width} × {height} pixels (at most {} megapixels)",
            MAX_IMAGE_PIXELS / 1_000_000
        )));
    }
    Ok(())
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn png(bytes: &[u8]) -> Result<ImageInfo, ExtractionError> {
    let truncated = || refuse("the PNG image is truncated or damaged");
    // Signature, then the IHDR chunk: length 13, "IHDR", width, height, …
    if bytes.get(12..16) != Some(b"IHDR") || be32(bytes, 8) != Some(13) {
        return Err(truncated());
    }
    let width = be32(bytes, 16).ok_or_else(truncated)?;
    let height = be32(bytes, 20).ok_or_else(truncated)?;
    check_size(width, height, "PNG image")?;
    // A whole PNG ends with its IEND chunk.
    if !bytes.ends_with(b"IEND\xAE\x42\x60\x82") {
        return Err(truncated());
    }
    Ok(ImageInfo {
        width,
        height,
        pages: 1,
    })
}

fn jpeg(bytes: &[u8]) -> Result<ImageInfo, ExtractionError> {
    let truncated = || refuse("the JPEG image is truncated or damaged");
    let mut at = 2;
    // Segments until a start-of-frame names the size.
    let (width, height) = loop {
        if bytes.get(at) != Some(&0xFF) {
            return Err(truncated());
        }
        // Fill bytes before a marker.
        while bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let marker = *bytes.get(at + 1).ok_or_else(truncated)?;
        let length = usize::from(be16(bytes, at + 2).ok_or_else(truncated)?);
        if length < 2 {
            return Err(truncated());
        }
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let height = be16(bytes, at + 5).ok_or_else(truncated)?;
            let width = be16(bytes, at + 7).ok_or_else(truncated)?;
            break (u32::from(width), u32::from(height));
        }
        if marker == 0xD9 || marker == 0xDA {
            // End of image, or scan data, before any frame header.
            return Err(truncated());
        }
        at += 2 + length;
    };
    check_size(width, height, "JPEG image")?;
    // A whole JPEG ends with its end-of-image marker (some writers pad after it).
    let tail = &bytes[bytes.len().saturating_sub(64)..];
    if !tail.windows(2).any(|pair| pair == [0xFF, 0xD9]) {
        return Err(truncated());
    }
    Ok(ImageInfo {
        width,
        height,
        pages: 1,
    })
}

fn tiff(bytes: &[u8]) -> Result<ImageInfo, ExtractionError> {
    let damaged = || refuse("the TIFF image is truncated or damaged");
    let little = bytes.starts_with(b"II");
    let u16_at = |at: usize| -> Option<u16> {
        let pair: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let quad: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(quad)
        } else {
            u32::from_be_bytes(quad)
        })
    };
    let mut offset = u32_at(4).ok_or_else(damaged)? as usize;
    let mut pages = 0u32;
    let mut first = None;
    let mut seen = std::collections::HashSet::new();
    while offset != 0 {
        // A loop of directories is a file that never ends.
        if !seen.insert(offset) {
            return Err(damaged());
        }
        pages += 1;
        if pages > MAX_TIFF_PAGES {
            return Err(refuse(format!(
                "the TIFF image has more than {MAX_TIFF_PAGES} pages"
            )));
        }
        let entries = usize::from(u16_at(offset).ok_or_else(damaged)?);
        let (mut width, mut height) = (None, None);
        for entry in 0..entries {
            let at = offset + 2 + entry * 12;
            let tag = u16_at(at).ok_or_else(damaged)?;
            let kind = u16_at(at + 2).ok_or_else(damaged)?;
            let value = match kind {
                3 => u32::from(u16_at(at + 8).ok_or_else(damaged)?),
                4 => u32_at(at + 8).ok_or_else(damaged)?,
                _ => continue,
            };
            match tag {
                256 => width = Some(value),
                257 => height = Some(value),
                _ => {}
            }
        }
        let (width, height) = (width.ok_or_else(damaged)?, height.ok_or_else(damaged)?);
        check_size(width, height, "TIFF image")?;
        first.get_or_insert((width, height));
        offset = u32_at(offset + 2 + entries * 12).ok_or_else(damaged)? as usize;
    }
    let (width, height) = first.ok_or_else(damaged)?;
    Ok(ImageInfo {
        width,
        height,
        pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn a_png_header_of_100k_by_100k_is_refused_before_decoding() {
        let mut bytes = png_header(100_000, 100_000);
        bytes.extend(b"\0\0\0\0IEND\xAE\x42\x60\x82");
        let error = image_info(&bytes, Format::Png).unwrap_err();
        assert!(error.0.contains("100000 × 100000 pixels"), "{error}");
    }

    #[test]
    fn a_png_cut_short_is_refused() {
        let bytes = png_header(800, 600);
        let error = image_info(&bytes, Format::Png).unwrap_err();
        assert_eq!(error.0, "the PNG image is truncated or damaged");
        assert!(image_info(&bytes[..14], Format::Png).is_err());
    }

    #[test]
    fn a_jpeg_names_its_size_in_its_frame_header() {
        // SOI, an APP0 segment, SOF0 (height 600, width 800), EOI.
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        bytes.extend([
            0xFF, 0xC0, 0x00, 0x0B, 8, 0x02, 0x58, 0x03, 0x20, 1, 1, 0x11, 0,
        ]);
        bytes.extend([0xFF, 0xD9]);
        let info = image_info(&bytes, Format::Jpeg).unwrap();
        assert_eq!((info.width, info.height, info.pages), (800, 600, 1));
        // WHEN its end is cut off THEN it is refused
        assert!(image_info(&bytes[..bytes.len() - 2], Format::Jpeg).is_err());
    }

    #[test]
    fn tiff_pages_are_counted_and_a_loop_of_directories_is_refused() {
        // Little-endian, two directories of width and height each.
        let directory = |width: u16, height: u16, next: u32| {
            let mut d = 2u16.to_le_bytes().to_vec();
            for (tag, value) in [(256u16, width), (257, height)] {
                d.extend(tag.to_le_bytes());
                d.extend(3u16.to_le_bytes());
                d.extend(1u32.to_le_bytes());
                d.extend(u32::from(value).to_le_bytes());
            }
            d.extend(next.to_le_bytes());
            d
        };
        let mut bytes = b"II*\0".to_vec();
        bytes.extend(8u32.to_le_bytes());
        bytes.extend(directory(100, 200, 38));
        bytes.extend(directory(300, 400, 0));
        let info = image_info(&bytes, Format::Tiff).unwrap();
        assert_eq!((info.width, info.height, info.pages), (100, 200, 2));
        // A second directory pointing back at the first never ends
        let mut looping = b"II*\0".to_vec();
        looping.extend(8u32.to_le_bytes());
        looping.extend(directory(100, 200, 38));
        looping.extend(directory(300, 400, 8));
        assert!(image_info(&looping, Format::Tiff).is_err());
    }
}
