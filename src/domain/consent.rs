//! Consent texts: HTML templates per consent type and language, each with a version that
//! is the SHA-256 of its content, so the exact text a user saw can be proven later.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Texts larger than this are refused at load: the Onboarding Server's client buffers at
/// most 1 MiB of response.
pub const MAX_TEXT_BYTES: usize = 900 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentText {
    pub consent_type: String,
    pub language: String,
    pub html: String,
    pub version: String,
}

#[derive(Debug, Clone, Default)]
pub struct ConsentCatalog {
    /// consent type (upper-case) → language (lower-case) → text
    texts: BTreeMap<String, BTreeMap<String, ConsentText>>,
    fallback_language: String,
}

/// Built-in demo texts (`assets/consent/<TYPE>/<lang>.html`).
const BUILT_IN: &[(&str, &str, &str)] = &[
    (
        "GDPR",
        "en",
        include_str!("../../assets/consent/GDPR/en.html"),
    ),
    (
        "GDPR",
        "cs",
        include_str!("../../assets/consent/GDPR/cs.html"),
    ),
];

pub fn normalise_type(consent_type: &str) -> String {
    consent_type.trim().to_ascii_uppercase()
}

pub fn normalise_language(language: &str) -> String {
    // Accept `cs`, `CS`, `cs-CZ`, `cs_CZ`: the primary subtag decides.
    language
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

impl ConsentCatalog {
    fn empty(fallback_language: &str) -> Self {
        Self {
            texts: BTreeMap::new(),
            fallback_language: normalise_language(fallback_language),
        }
    }

    fn insert(&mut self, consent_type: &str, language: &str, html: String) -> Result<(), String> {
        if html.len() > MAX_TEXT_BYTES {
            return Err(format!(
                "consent text {consent_type}/{language} is larger than {MAX_TEXT_BYTES} bytes"
            ));
        }
        let version = hex::encode(Sha256::digest(html.as_bytes()));
        let consent_type = normalise_type(consent_type);
        let language = normalise_language(language);
        self.texts.entry(consent_type.clone()).or_default().insert(
            language.clone(),
            ConsentText {
                consent_type,
                language,
                html,
                version,
            },
        );
        Ok(())
    }

    /// The built-in demo texts (`GDPR` in `en` and `cs`).
    ///
    /// # Errors
    /// Never in practice; kept fallible like [`ConsentCatalog::from_texts`].
    pub fn built_in(fallback_language: &str) -> Result<Self, String> {
        let mut catalog = Self::empty(fallback_language);
        for (t, l, html) in BUILT_IN {
            catalog.insert(t, l, (*html).to_owned())?;
        }
        catalog.check_fallback()?;
        Ok(catalog)
    }

    /// A catalogue of `(consent type, language, HTML)` texts.
    ///
    /// # Errors
    /// When there is no text, a text is too large, or a consent type has no text in the
    /// fallback language.
    pub fn from_texts(
        texts: impl IntoIterator<Item = (String, String, String)>,
        fallback_language: &str,
    ) -> Result<Self, String> {
        let mut catalog = Self::empty(fallback_language);
        for (consent_type, language, html) in texts {
            catalog.insert(&consent_type, &language, html)?;
        }
        if catalog.texts.is_empty() {
            return Err("no consent texts".into());
        }
        catalog.check_fallback()?;
        Ok(catalog)
    }

    fn check_fallback(&self) -> Result<(), String> {
        for (t, by_language) in &self.texts {
            if !by_language.contains_key(&self.fallback_language) {
                return Err(format!(
                    "consent type {t} has no text in the fallback language `{}`",
                    self.fallback_language
                ));
            }
        }
        Ok(())
    }

    pub fn knows(&self, consent_type: &str) -> bool {
        self.texts.contains_key(&normalise_type(consent_type))
    }

    /// The text for `consent_type` in `language`, or in the fallback language.
    /// `None` when the consent type is unknown.
    pub fn text(&self, consent_type: &str, language: Option<&str>) -> Option<&ConsentText> {
        let by_language = self.texts.get(&normalise_type(consent_type))?;
        language
            .map(normalise_language)
            .and_then(|l| by_language.get(&l))
            .or_else(|| by_language.get(&self.fallback_language))
    }

    pub fn consent_types(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_texts_exist_for_gdpr_in_english_and_czech() {
        let c = ConsentCatalog::built_in("en").expect("built-in");
        let en = c.text("GDPR", Some("en")).expect("en");
        let cs = c.text("gdpr", Some("cs-CZ")).expect("cs");
        assert_eq!(en.language, "en");
        assert_eq!(cs.language, "cs");
        assert_ne!(en.version, cs.version);
        assert_eq!(en.version.len(), 64);
    }

    #[test]
    fn unknown_language_falls_back_and_unknown_type_is_none() {
        let c = ConsentCatalog::built_in("en").expect("built-in");
        assert_eq!(
            c.text("GDPR", Some("de")).map(|t| t.language.as_str()),
            Some("en")
        );
        assert_eq!(
            c.text("GDPR", None).map(|t| t.language.as_str()),
            Some("en")
        );
        assert!(c.text("MARKETING", Some("en")).is_none());
    }

    /// Each text is versioned by the SHA-256 of its HTML, quotes and non-ASCII included.
    #[test]
    fn each_text_is_versioned_by_its_digest() {
        let html = "<p class=\"x\">Souhlasím – \\ \u{1F600}</p>\n";
        let texts = [("gdpr".to_owned(), "EN".to_owned(), html.to_owned())];
        let c = ConsentCatalog::from_texts(texts, "en").expect("valid");
        let text = c.text("GDPR", None).expect("text");
        assert_eq!(text.html, html);
        assert_eq!(text.version, hex::encode(Sha256::digest(html.as_bytes())));
        assert_eq!(
            (text.consent_type.as_str(), text.language.as_str()),
            ("GDPR", "en")
        );
    }

    #[test]
    fn texts_without_the_fallback_language_are_refused() {
        let cs = ("GDPR".to_owned(), "cs".to_owned(), "<p>x</p>".to_owned());
        let err = ConsentCatalog::from_texts([cs.clone()], "en").expect_err("no en");
        assert!(err.contains("fallback language `en`"), "{err}");
        let en = ("GDPR".to_owned(), "en".to_owned(), "<p>y</p>".to_owned());
        let c = ConsentCatalog::from_texts([cs, en], "en").expect("valid");
        assert_eq!(
            c.text("GDPR", Some("cs")).map(|t| t.html.as_str()),
            Some("<p>x</p>")
        );
    }
}
