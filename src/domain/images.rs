//! Base64 images of evaluate (document images) and approve (the selfie frame): decoded,
//! recognised by signature (JPEG or PNG), held to a size cap. An image that fails any
//! check is a fact (`valid: false`) for the policy, never an error of the call.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// What the bytes are, by their signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ImageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    /// The format of `bytes` by its leading signature, if it is one we accept.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
        if bytes.starts_with(PNG) {
            Some(Self::Png)
        } else if bytes.len() >= 4 && bytes[..3] == [0xFF, 0xD8, 0xFF] {
            Some(Self::Jpeg)
        } else {
            None
        }
    }
}

/// Why an image is not valid (stable codes, shown in the facts and the stored record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageProblem {
    Empty,
    NotBase64,
    TooSmall,
    TooLarge,
    UnknownFormat,
}

impl ImageProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "EMPTY",
            Self::NotBase64 => "NOT_BASE64",
            Self::TooSmall => "TOO_SMALL",
            Self::TooLarge => "TOO_LARGE",
            Self::UnknownFormat => "UNKNOWN_FORMAT",
        }
    }
}

/// Size caps of one decoded image.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub min_bytes: usize,
    pub max_bytes: usize,
}

/// The outcome of checking one image. `bytes` holds the decoded image only when it is
/// valid (it is then kept as evidence).
#[derive(Clone)]
pub struct CheckedImage {
    pub format: Option<ImageFormat>,
    /// Decoded size (0 when it could not be decoded).
    pub size: usize,
    pub problem: Option<ImageProblem>,
    /// SHA-256 of the decoded bytes (of the text sent when it could not be decoded).
    pub sha256: String,
    pub bytes: Option<Vec<u8>>,
}

impl std::fmt::Debug for CheckedImage {
    // Never print image bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedImage")
            .field("format", &self.format)
            .field("size", &self.size)
            .field("problem", &self.problem)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl CheckedImage {
    pub fn valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// Decodes and checks a base64 image. Accepts padded or unpadded standard base64, a
/// `data:image/...;base64,` prefix and embedded line breaks (MIME style).
pub fn check(text: &str, limits: ImageLimits) -> CheckedImage {
    let payload = strip_data_url(text.trim());
    let invalid = |problem, size: usize, digest: String| CheckedImage {
        format: None,
        size,
        problem: Some(problem),
        sha256: digest,
        bytes: None,
    };
    if payload.is_empty() {
        return invalid(ImageProblem::Empty, 0, sha256_hex(b""));
    }
    // Reject before decoding what cannot fit: base64 is 4 characters per 3 bytes.
    if payload.len() / 4 * 3 > limits.max_bytes.saturating_add(3) * 105 / 100 {
        return invalid(
            ImageProblem::TooLarge,
            payload.len() / 4 * 3,
            sha256_hex(payload.as_bytes()),
        );
    }
    let decoded = if payload.contains(['\r', '\n']) {
        let joined: String = payload.split(['\r', '\n']).collect();
        decode(&joined)
    } else {
        decode(payload)
    };
    let Some(bytes) = decoded else {
        return invalid(ImageProblem::NotBase64, 0, sha256_hex(payload.as_bytes()));
    };
    let digest = sha256_hex(&bytes);
    let size = bytes.len();
    let problem = if size == 0 {
        Some(ImageProblem::Empty)
    } else if size > limits.max_bytes {
        Some(ImageProblem::TooLarge)
    } else if size < limits.min_bytes {
        Some(ImageProblem::TooSmall)
    } else {
        None
    };
    let format = ImageFormat::sniff(&bytes);
    let problem = problem.or(format.is_none().then_some(ImageProblem::UnknownFormat));
    CheckedImage {
        format,
        size,
        problem,
        sha256: digest,
        bytes: problem.is_none().then_some(bytes),
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .ok()
}

fn strip_data_url(text: &str) -> &str {
    match text.strip_prefix("data:") {
        Some(rest) => rest
            .split_once(";base64,")
            .map_or(text, |(_, payload)| payload),
        None => text,
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        min_bytes: 8,
        max_bytes: 1024,
    };

    fn jpeg(len: usize) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
        b.resize(len, 0x11);
        b
    }

    fn png(len: usize) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.resize(len, 0x22);
        b
    }

    #[test]
    fn checks_images_table() {
        let b64 = |b: &[u8]| STANDARD.encode(b);
        let cases: Vec<(String, Option<ImageFormat>, Option<ImageProblem>, usize)> = vec![
            (b64(&jpeg(100)), Some(ImageFormat::Jpeg), None, 100),
            (b64(&png(100)), Some(ImageFormat::Png), None, 100),
            (
                STANDARD_NO_PAD.encode(jpeg(101)),
                Some(ImageFormat::Jpeg),
                None,
                101,
            ),
            (
                format!("data:image/png;base64,{}", b64(&png(64))),
                Some(ImageFormat::Png),
                None,
                64,
            ),
            (String::new(), None, Some(ImageProblem::Empty), 0),
            ("   ".into(), None, Some(ImageProblem::Empty), 0),
            (
                "not base64 at all!".into(),
                None,
                Some(ImageProblem::NotBase64),
                0,
            ),
            (
                b64(b"GIF89a-----"),
                None,
                Some(ImageProblem::UnknownFormat),
                11,
            ),
            (
                b64(&jpeg(4)),
                Some(ImageFormat::Jpeg),
                Some(ImageProblem::TooSmall),
                4,
            ),
            (
                b64(&jpeg(1025)),
                Some(ImageFormat::Jpeg),
                Some(ImageProblem::TooLarge),
                1025,
            ),
        ];
        for (text, format, problem, size) in cases {
            let checked = check(&text, LIMITS);
            assert_eq!(checked.problem, problem, "{text:.40}");
            assert_eq!(checked.format, format, "{text:.40}");
            assert_eq!(checked.size, size, "{text:.40}");
            assert_eq!(checked.bytes.is_some(), problem.is_none());
        }
    }

    #[test]
    fn line_broken_base64_is_accepted() {
        let text = STANDARD.encode(jpeg(300));
        let wrapped: Vec<&str> = text
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let checked = check(&wrapped.join("\r\n"), LIMITS);
        assert!(checked.valid());
        assert_eq!(checked.sha256, sha256_hex(&jpeg(300)));
    }

    #[test]
    fn huge_text_is_refused_before_decoding() {
        let text = "A".repeat(1_000_000);
        let checked = check(&text, LIMITS);
        assert_eq!(checked.problem, Some(ImageProblem::TooLarge));
        assert!(checked.bytes.is_none());
    }

    #[test]
    fn debug_never_prints_bytes() {
        let checked = check(&STANDARD.encode(jpeg(100)), LIMITS);
        let printed = format!("{checked:?}");
        assert!(!printed.contains("17, 17"), "{printed}");
        assert!(printed.contains("Jpeg"));
    }
}
