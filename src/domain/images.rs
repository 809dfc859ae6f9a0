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

/// A base64 image of a request (document image, selfie frame), decoded while the JSON is
/// read: the base64 text is never kept as a string of its own, so a call with megabytes of
/// images holds them once, decoded. Accepts padded or unpadded standard base64, a
/// `data:image/...;base64,` prefix and embedded line breaks (MIME style). Text that is not
/// base64 is not an error of the call: it becomes an invalid image, a fact for the policy.
///
/// It serialises (for the call's digest and stored summary) as `sha256:` and the SHA-256 of
/// the decoded bytes (of the text when it is not base64), never as the image itself.
#[derive(Clone)]
pub struct Base64Image {
    content: Content,
    /// SHA-256 (hex) of the decoded bytes; of the text sent when it is not base64.
    sha256: String,
}

#[derive(Clone)]
enum Content {
    Empty,
    NotBase64,
    Decoded(Vec<u8>),
}

impl Base64Image {
    pub fn from_text(text: &str) -> Self {
        let payload = strip_data_url(text.trim());
        if payload.is_empty() {
            return Self {
                content: Content::Empty,
                sha256: sha256_hex(b""),
            };
        }
        let decoded = if payload.contains(['\r', '\n']) {
            let joined: String = payload.split(['\r', '\n']).collect();
            decode(&joined)
        } else {
            decode(payload)
        };
        match decoded {
            Some(bytes) if !bytes.is_empty() => Self {
                sha256: sha256_hex(&bytes),
                content: Content::Decoded(bytes),
            },
            Some(_) => Self {
                content: Content::Empty,
                sha256: sha256_hex(b""),
            },
            None => Self {
                content: Content::NotBase64,
                sha256: sha256_hex(payload.as_bytes()),
            },
        }
    }

    /// Checks the image against the size caps and recognises its format; the decoded bytes
    /// move into the result when the image is valid.
    pub fn check(self, limits: ImageLimits) -> CheckedImage {
        let invalid = |problem, sha256| CheckedImage {
            format: None,
            size: 0,
            problem: Some(problem),
            sha256,
            bytes: None,
        };
        let bytes = match self.content {
            Content::Empty => return invalid(ImageProblem::Empty, self.sha256),
            Content::NotBase64 => return invalid(ImageProblem::NotBase64, self.sha256),
            Content::Decoded(bytes) => bytes,
        };
        let size = bytes.len();
        let problem = if size > limits.max_bytes {
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
            sha256: self.sha256,
            bytes: problem.is_none().then_some(bytes),
        }
    }
}

impl std::fmt::Debug for Base64Image {
    // Never print image bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let content = match &self.content {
            Content::Empty => "empty".to_owned(),
            Content::NotBase64 => "not base64".to_owned(),
            Content::Decoded(bytes) => format!("{} bytes", bytes.len()),
        };
        f.debug_struct("Base64Image")
            .field("content", &content)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl serde::Serialize for Base64Image {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("sha256:{}", self.sha256))
    }
}

impl<'de> serde::Deserialize<'de> for Base64Image {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Base64Image;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a base64 string")
            }

            // serde_json lends the text straight from the request body when it holds no
            // escapes: decoded from there, it is never copied.
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Base64Image, E> {
                Ok(Base64Image::from_text(text))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// Decodes and checks a base64 image (see [`Base64Image`]).
pub fn check(text: &str, limits: ImageLimits) -> CheckedImage {
    Base64Image::from_text(text).check(limits)
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
    fn oversized_image_is_refused_and_not_kept() {
        let text = "A".repeat(1_000_000);
        let checked = check(&text, LIMITS);
        assert_eq!(checked.problem, Some(ImageProblem::TooLarge));
        assert_eq!(checked.size, 750_000);
        assert!(checked.bytes.is_none());
    }

    #[test]
    fn reads_from_json_and_serialises_only_its_digest() {
        let jpeg = jpeg(100);
        let json = format!(
            r#"{{"a": "{}", "b": "data:image/jpeg;base64,{}", "c": "%%"}}"#,
            STANDARD.encode(&jpeg),
            STANDARD.encode(&jpeg)
        );
        let images: std::collections::BTreeMap<String, Base64Image> =
            serde_json::from_str(&json).unwrap();
        let digest = format!("sha256:{}", sha256_hex(&jpeg));
        // The same image in either spelling is the same image.
        assert_eq!(serde_json::to_value(&images["a"]).unwrap(), digest.as_str());
        assert_eq!(serde_json::to_value(&images["b"]).unwrap(), digest.as_str());
        assert_eq!(
            serde_json::to_value(&images["c"]).unwrap(),
            format!("sha256:{}", sha256_hex(b"%%")).as_str()
        );
        assert_eq!(
            images["c"].clone().check(LIMITS).problem,
            Some(ImageProblem::NotBase64)
        );
        assert!(images["a"].clone().check(LIMITS).valid());
        // JSON escapes (`\/`) are read like any other string.
        let escaped: Base64Image = serde_json::from_str(&format!(
            "\"{}\"",
            STANDARD
                .encode([0xFF, 0xD8, 0xFF, 0xFF, 0xFF])
                .replace('/', "\\/")
        ))
        .unwrap();
        assert_eq!(
            escaped
                .check(ImageLimits {
                    min_bytes: 1,
                    max_bytes: 10
                })
                .size,
            5
        );
        assert!(serde_json::from_str::<Base64Image>("42").is_err());
        let printed = format!("{:?}", images["a"]);
        assert!(
            printed.contains("100 bytes") && !printed.contains("255"),
            "{printed}"
        );
    }

    #[test]
    fn debug_never_prints_bytes() {
        let checked = check(&STANDARD.encode(jpeg(100)), LIMITS);
        let printed = format!("{checked:?}");
        assert!(!printed.contains("17, 17"), "{printed}");
        assert!(printed.contains("Jpeg"));
    }
}
