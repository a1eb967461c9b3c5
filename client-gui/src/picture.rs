//! Pictures in messages (protocol v6): telling one by its first bytes
//! (never by its name, which another user chose), and decoding it with
//! limits, so that a small file claiming an enormous picture (a
//! "decompression bomb") is refused instead of taking the memory. Pure
//! computation; the network layer runs it off the UI thread.

use std::io::Cursor;

/// The largest picture decoded, in each direction.
pub const MAX_SIDE: u32 = 8192;
/// The most memory a decoder may take for one picture.
pub const MAX_ALLOC: u64 = 256 << 20;
/// Pictures larger than this in either direction are scaled down before
/// they become a texture (GPUs limit a texture's size, and the larger view
/// fits a screen anyway).
pub const SHOWN_SIDE: u32 = 2048;

/// The kinds of pictures shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// GIF (its first frame).
    Gif,
    /// WebP.
    WebP,
}

/// Which kind of picture these first bytes start, if any.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Kind::Png)
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(Kind::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Kind::Gif)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(Kind::WebP)
    } else {
        None
    }
}

/// A decoded picture: RGBA pixels, row by row, at most [`SHOWN_SIDE`] in
/// each direction.
#[derive(Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 4 bytes per pixel.
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decoded({}x{})", self.width, self.height)
    }
}

/// Why a file is not shown as a picture. Typed, so the app can tell "not
/// a picture" (a plain chip, nothing to say) from a picture it refuses
/// (a chip with the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PictureError {
    /// Its first bytes are not those of a picture the app shows.
    #[error("not a picture")]
    NotPicture,
    /// Larger than [`MAX_SIDE`] or than [`MAX_ALLOC`] to decode.
    #[error("picture too large to show")]
    TooLarge,
    /// It says it is a picture but cannot be read.
    #[error("picture damaged: {0}")]
    Damaged(String),
}

/// Decodes a picture (a GIF's first frame) within the limits, scaled
/// down to at most [`SHOWN_SIDE`] in each direction.
pub fn decode(bytes: &[u8]) -> Result<Decoded, PictureError> {
    if sniff(bytes).is_none() {
        return Err(PictureError::NotPicture);
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PictureError::Damaged(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => PictureError::TooLarge,
        image::ImageError::Unsupported(_) => PictureError::NotPicture,
        other => PictureError::Damaged(other.to_string()),
    })?;
    let image = if image.width() > SHOWN_SIDE || image.height() > SHOWN_SIDE {
        image.thumbnail(SHOWN_SIDE, SHOWN_SIDE)
    } else {
        image
    };
    let rgba = image.to_rgba8();
    Ok(Decoded {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

/// Decodes the picture in the local file at `path` (the user's own, being
/// sent), reading it whole only if its first bytes are a picture's and it
/// holds at most `max_bytes`.
pub fn decode_file(path: &std::path::Path, max_bytes: u64) -> Result<Decoded, PictureError> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| PictureError::Damaged(e.to_string());
    let mut f = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    (&mut f)
        .take(16)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if sniff(&bytes).is_none() {
        return Err(PictureError::NotPicture);
    }
    let len = f.metadata().map_err(unreadable)?.len();
    if len > max_bytes {
        return Err(PictureError::TooLarge);
    }
    f.take(max_bytes)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    decode(&bytes)
}

/// A picture's RGBA pixels (`width` × `height`, 4 bytes each, not
/// premultiplied) as a PNG file's bytes: how a picture pasted from the
/// clipboard is sent.
pub fn encode_png(width: u32, height: u32, rgba: Vec<u8>) -> Result<Vec<u8>, String> {
    let image = image::RgbaImage::from_raw(width, height, rgba)
        .ok_or_else(|| "its pixels do not match its size".to_owned())?;
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([x as u8, y as u8, 0x80, 0xff])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A PNG whose header claims `width` × `height` pixels, with no data.
    pub(crate) fn bomb(width: u32, height: u32) -> Vec<u8> {
        let mut small = png(1, 1);
        // IHDR's width and height follow the signature (8), the chunk's
        // length (4) and type (4); its CRC covers type and data.
        small[16..20].copy_from_slice(&width.to_be_bytes());
        small[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&small[12..29]);
        small[29..33].copy_from_slice(&crc.to_be_bytes());
        small
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn pictures_are_told_by_their_bytes_not_their_names() {
        assert_eq!(sniff(&png(2, 2)), Some(Kind::Png));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), Some(Kind::Jpeg));
        assert_eq!(sniff(b"GIF89a...."), Some(Kind::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Kind::WebP));
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(decode(b"hello, world"), Err(PictureError::NotPicture));
    }

    #[test]
    fn a_picture_decodes_to_its_pixels() {
        let d = decode(&png(3, 2)).unwrap();
        assert_eq!((d.width, d.height), (3, 2));
        assert_eq!(d.rgba.len(), 3 * 2 * 4);
        assert_eq!(&d.rgba[4..8], &[1, 0, 0x80, 0xff]);
    }

    #[test]
    fn a_picture_claiming_to_be_huge_is_refused_without_decoding() {
        assert_eq!(decode(&bomb(100_000, 100_000)), Err(PictureError::TooLarge));
        assert_eq!(decode(&bomb(MAX_SIDE + 1, 10)), Err(PictureError::TooLarge));
        // Cut short: damaged, said so.
        let whole = png(40, 40);
        assert!(matches!(
            decode(&whole[..whole.len() / 2]),
            Err(PictureError::Damaged(_))
        ));
    }

    #[test]
    fn large_pictures_are_scaled_down_to_be_shown() {
        let d = decode(&png(SHOWN_SIDE * 2, 10)).unwrap();
        assert!(d.width <= SHOWN_SIDE && d.height <= SHOWN_SIDE, "{d:?}");
    }
}
