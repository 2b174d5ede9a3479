//! QR codes of `otpauth://` URIs, as SVG and as PNG.
//!
//! The PNG is written here rather than through an image library: a black-and-white picture
//! needs only a 1-bit greyscale header, rows of packed bits and zlib framing. The zlib stream
//! uses stored (uncompressed) deflate blocks, which every decoder reads; for a QR code of a
//! few dozen modules the file stays around ten kilobytes.

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

use crate::error::AppError;

/// Pixels per module in the PNG.
const PNG_SCALE: usize = 6;
/// Modules of white border on each side, as the QR standard requires.
const QUIET_ZONE: usize = 4;
/// The largest payload of one stored deflate block.
const STORED_BLOCK: usize = 65_535;

/// Renders `text` as an SVG document and a PNG file.
pub fn render(text: &str) -> Result<(String, Vec<u8>), AppError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|error| AppError::Internal(format!("cannot build the QR code: {error}")))?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let png = png_of(&code.to_colors(), code.width());
    Ok((svg, png))
}

/// Encodes the modules as a 1-bit greyscale PNG, scaled, with the quiet zone.
fn png_of(modules: &[Color], width: usize) -> Vec<u8> {
    let side = (width + 2 * QUIET_ZONE) * PNG_SCALE;
    let row_bytes = side.div_ceil(8);
    let mut raw = Vec::with_capacity((row_bytes + 1) * side);
    for y in 0..side {
        raw.push(0); // filter type: none
        let mut row = vec![0xFFu8; row_bytes];
        for x in 0..side {
            if is_dark(modules, width, x / PNG_SCALE, y / PNG_SCALE) {
                row[x / 8] &= !(0x80 >> (x % 8));
            }
        }
        raw.extend_from_slice(&row);
    }

    let side_bytes = u32::try_from(side).unwrap_or(u32::MAX).to_be_bytes();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&side_bytes);
    header.extend_from_slice(&side_bytes);
    header.extend_from_slice(&[1, 0, 0, 0, 0]); // bit depth 1, greyscale, no interlace

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    write_chunk(&mut png, b"IHDR", &header);
    write_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    write_chunk(&mut png, b"IEND", &[]);
    png
}

/// Returns whether the module at picture coordinates (in modules, border included) is dark.
fn is_dark(modules: &[Color], width: usize, x: usize, y: usize) -> bool {
    let inside = |value: usize| (QUIET_ZONE..QUIET_ZONE + width).contains(&value);
    if !inside(x) || !inside(y) {
        return false;
    }
    let index = (y - QUIET_ZONE) * width + (x - QUIET_ZONE);
    modules.get(index) == Some(&Color::Dark)
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Wraps data in a zlib stream of stored deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(STORED_BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        let last = u8::from(blocks.peek().is_none());
        let length = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.push(last);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    const MODULUS: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % MODULUS;
        b = (b + a) % MODULUS;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        // Standard check values of CRC-32 and Adler-32 over "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"123456789"), 0x091E_01DE);
    }

    #[test]
    fn png_has_signature_header_and_expected_size() {
        let (svg, png) = render("otpauth://totp/Spiritus:admin?secret=ABC").unwrap();
        assert!(svg.contains("<svg"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        let side = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(side % PNG_SCALE as u32, 0);
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND chunk");
    }

    #[test]
    fn stored_zlib_splits_long_data_into_blocks() {
        let data = vec![7u8; STORED_BLOCK + 10];
        let stream = zlib_stored(&data);
        assert_eq!(stream.len(), 2 + 2 * 5 + data.len() + 4);
        assert_eq!(stream[2], 0, "first block is not the last");
        assert_eq!(stream[2 + 5 + STORED_BLOCK], 1, "second block is the last");
    }
}
