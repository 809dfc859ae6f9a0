//! OTP mail templates: a subject, a plain-text body and an HTML alternative per language
//! and OTP type, as files `<language>/<otp_type>.{subject,txt,html}` (`otp_type` is
//! `activation` or `user_verification`).
//!
//! Built-in `en` and `cs` texts are embedded from `assets/mail/`; `mail.templates_dir`
//! replaces them with a bank's own folder. Everything is checked when the service starts,
//! so a broken template stops it with a message naming the file, instead of failing a
//! customer's delivery later. Placeholders are `{{code}}` and `{{validity_minutes}}`;
//! both must appear in the text and the HTML body (the message always states the code's
//! validity). Values are HTML-escaped in the HTML part.

use std::collections::BTreeMap;
use std::path::Path;

use crate::api::otp::OtpType;
use crate::domain::otp_delivery::normalise_language;

/// Template files larger than this are refused at start-up.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
const MAX_SUBJECT_CHARS: usize = 200;

const OTP_TYPES: [OtpType; 2] = [OtpType::Activation, OtpType::UserVerification];

macro_rules! built_in {
    ($lang:literal, $kind:literal) => {
        (
            $lang,
            $kind,
            include_str!(concat!("../../assets/mail/", $lang, "/", $kind, ".subject")),
            include_str!(concat!("../../assets/mail/", $lang, "/", $kind, ".txt")),
            include_str!(concat!("../../assets/mail/", $lang, "/", $kind, ".html")),
        )
    };
}

/// `(language, otp type file stem, subject, text, html)`.
const BUILT_IN: [(&str, &str, &str, &str, &str); 4] = [
    built_in!("en", "activation"),
    built_in!("en", "user_verification"),
    built_in!("cs", "activation"),
    built_in!("cs", "user_verification"),
];

fn file_stem(otp_type: OtpType) -> &'static str {
    match otp_type {
        OtpType::Activation => "activation",
        OtpType::UserVerification => "user_verification",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Code,
    ValidityMinutes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Segment>);

impl Template {
    /// Parses `source`; `name` only labels error messages.
    fn parse(name: &str, source: &str) -> Result<Self, String> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(format!(
                "mail template {name} is larger than {MAX_TEMPLATE_BYTES} bytes"
            ));
        }
        let mut segments = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            let (text, tail) = rest.split_at(start);
            if !text.is_empty() {
                segments.push(Segment::Text(text.to_owned()));
            }
            let tail = tail.get(2..).unwrap_or_default();
            let Some(end) = tail.find("}}") else {
                return Err(format!("mail template {name} has an unclosed `{{{{`"));
            };
            let placeholder = tail.get(..end).unwrap_or_default().trim();
            segments.push(Segment::Var(match placeholder {
                "code" => Var::Code,
                "validity_minutes" => Var::ValidityMinutes,
                other => {
                    return Err(format!(
                        "mail template {name} uses the unknown placeholder `{{{{{other}}}}}`; \
                         known: `{{{{code}}}}`, `{{{{validity_minutes}}}}`"
                    ));
                }
            }));
            rest = tail.get(end + 2..).unwrap_or_default();
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        Ok(Self(segments))
    }

    fn uses(&self, var: Var) -> bool {
        self.0.contains(&Segment::Var(var))
    }

    fn render(&self, values: &Values<'_>, escape: bool) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Var(Var::Code) if escape => out.push_str(&html_escape(values.code)),
                Segment::Var(Var::Code) => out.push_str(values.code),
                Segment::Var(Var::ValidityMinutes) => {
                    out.push_str(&values.validity_minutes.to_string());
                }
            }
        }
        out
    }
}

fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Clone)]
struct OtpTemplate {
    subject: Template,
    text: Template,
    html: Template,
}

impl OtpTemplate {
    fn parse(label: &str, subject: &str, text: &str, html: &str) -> Result<Self, String> {
        let subject_name = format!("{label}.subject");
        let subject_line = subject.trim_end_matches(['\r', '\n']);
        if subject_line.trim().is_empty() {
            return Err(format!("mail template {subject_name} is empty"));
        }
        if subject_line.contains(['\r', '\n']) {
            return Err(format!(
                "mail template {subject_name} must be a single line"
            ));
        }
        if subject_line.chars().count() > MAX_SUBJECT_CHARS {
            return Err(format!(
                "mail template {subject_name} is longer than {MAX_SUBJECT_CHARS} characters"
            ));
        }
        let template = Self {
            subject: Template::parse(&subject_name, subject_line)?,
            text: Template::parse(&format!("{label}.txt"), text)?,
            html: Template::parse(&format!("{label}.html"), html)?,
        };
        for (part, t) in [("txt", &template.text), ("html", &template.html)] {
            for (var, placeholder) in [
                (Var::Code, "{{code}}"),
                (Var::ValidityMinutes, "{{validity_minutes}}"),
            ] {
                if !t.uses(var) {
                    return Err(format!(
                        "mail template {label}.{part} must contain `{placeholder}`"
                    ));
                }
            }
        }
        Ok(template)
    }
}

/// The values put into a template.
#[derive(Clone, Copy)]
pub struct Values<'a> {
    pub code: &'a str,
    pub validity_minutes: u32,
}

/// A message ready to send. It holds the OTP code: never log or store it.
pub struct Rendered {
    pub language: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

/// Every language's templates for both OTP types, and the fallback language.
#[derive(Debug, Clone)]
pub struct MailTemplates {
    by_language: BTreeMap<String, BTreeMap<&'static str, OtpTemplate>>,
    fallback_language: String,
}

impl MailTemplates {
    /// The built-in templates, or the folder's when one is configured.
    ///
    /// # Errors
    /// A message naming the broken file or the missing fallback language.
    pub fn load(dir: Option<&Path>, fallback_language: &str) -> Result<Self, String> {
        match dir {
            Some(dir) => Self::from_dir(dir, fallback_language),
            None => Self::built_in(fallback_language),
        }
    }

    /// The built-in `en` and `cs` templates.
    ///
    /// # Errors
    /// When the fallback language is neither `en` nor `cs`.
    pub fn built_in(fallback_language: &str) -> Result<Self, String> {
        let mut by_language: BTreeMap<String, BTreeMap<&'static str, OtpTemplate>> =
            BTreeMap::new();
        for (language, kind, subject, text, html) in BUILT_IN {
            let label = format!("(built-in) {language}/{kind}");
            by_language
                .entry(language.to_owned())
                .or_default()
                .insert(kind, OtpTemplate::parse(&label, subject, text, html)?);
        }
        Self::checked(by_language, fallback_language, "the built-in templates")
    }

    /// Loads `<dir>/<language>/<otp_type>.{subject,txt,html}`; every language folder must
    /// hold all six files. Other files are ignored.
    ///
    /// # Errors
    /// A message naming the folder or file that is missing, unreadable or invalid.
    pub fn from_dir(dir: &Path, fallback_language: &str) -> Result<Self, String> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read mail templates folder {}: {e}", dir.display()))?;
        let mut by_language = BTreeMap::new();
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot read mail templates folder {}: {e}", dir.display()))?
                .path();
            if !path.is_dir() {
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| format!("mail template folder {} is not UTF-8", path.display()))?;
            let language = normalise_language(name);
            if language != name || language.is_empty() {
                return Err(format!(
                    "mail template folder {} must be named by a lower-case language code such as `en`",
                    path.display()
                ));
            }
            let mut templates = BTreeMap::new();
            for otp_type in OTP_TYPES {
                let stem = file_stem(otp_type);
                let read = |ext: &str| {
                    let file = path.join(format!("{stem}.{ext}"));
                    std::fs::read_to_string(&file)
                        .map_err(|e| format!("cannot read mail template {}: {e}", file.display()))
                };
                let label = path.join(stem).display().to_string();
                let template =
                    OtpTemplate::parse(&label, &read("subject")?, &read("txt")?, &read("html")?)?;
                templates.insert(stem, template);
            }
            by_language.insert(language, templates);
        }
        Self::checked(by_language, fallback_language, &dir.display().to_string())
    }

    fn checked(
        by_language: BTreeMap<String, BTreeMap<&'static str, OtpTemplate>>,
        fallback_language: &str,
        origin: &str,
    ) -> Result<Self, String> {
        if by_language.is_empty() {
            return Err(format!("no mail templates found in {origin}"));
        }
        let fallback_language = normalise_language(fallback_language);
        if !by_language.contains_key(&fallback_language) {
            return Err(format!(
                "mail.fallback_language `{fallback_language}` has no templates in {origin} (languages: {})",
                by_language.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(Self {
            by_language,
            fallback_language,
        })
    }

    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.by_language.keys().map(String::as_str)
    }

    /// The first candidate language that has templates, else the fallback language.
    pub fn language<'a>(&self, candidates: impl IntoIterator<Item = Option<&'a str>>) -> String {
        candidates
            .into_iter()
            .flatten()
            .map(normalise_language)
            .find(|l| self.by_language.contains_key(l))
            .unwrap_or_else(|| self.fallback_language.clone())
    }

    /// Renders the message for `otp_type` in `language` (or the fallback language).
    pub fn render(&self, language: &str, otp_type: OtpType, values: &Values<'_>) -> Rendered {
        let language = self.language([Some(language)]);
        let template = self
            .by_language
            .get(&language)
            .and_then(|t| t.get(file_stem(otp_type)));
        match template {
            Some(t) => Rendered {
                subject: t.subject.render(values, false),
                text: t.text.render(values, false),
                html: t.html.render(values, true),
                language,
            },
            // Unreachable: `checked` guarantees both types for every language.
            None => Rendered {
                language,
                subject: String::new(),
                text: String::new(),
                html: String::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: Values<'static> = Values {
        code: "48213907",
        validity_minutes: 5,
    };

    #[test]
    fn built_in_templates_render_in_english_and_czech_with_code_and_validity() {
        let t = MailTemplates::built_in("en").expect("built-in");
        let en = t.render("en", OtpType::Activation, &VALUES);
        let cs = t.render("cs", OtpType::UserVerification, &VALUES);
        assert_eq!(en.subject, "Your mobile banking activation code");
        assert_eq!(cs.subject, "Kód pro ověření totožnosti");
        for r in [&en, &cs] {
            assert!(r.text.contains("48213907") && r.html.contains("48213907"));
            assert!(r.text.contains(" 5 min") && r.html.contains(" 5 min"));
        }
        assert!(cs.html.contains(r#"<html lang="cs">"#));
    }

    #[test]
    fn language_picks_the_first_candidate_with_templates_else_the_fallback() {
        let t = MailTemplates::built_in("en").expect("built-in");
        assert_eq!(t.language([Some("cs-CZ")]), "cs");
        assert_eq!(t.language([Some("de"), Some("cs")]), "cs");
        assert_eq!(t.language([None, Some("xx")]), "en");
        assert_eq!(t.render("de", OtpType::Activation, &VALUES).language, "en");
    }

    #[test]
    fn values_are_html_escaped_only_in_the_html_part() {
        let t = MailTemplates::built_in("en").expect("built-in");
        let r = t.render(
            "en",
            OtpType::Activation,
            &Values {
                code: "<b>&'\"",
                validity_minutes: 3,
            },
        );
        assert!(r.text.contains("<b>&'\""));
        assert!(r.html.contains("&lt;b&gt;&amp;&#39;&quot;"));
        assert!(!r.html.contains("<b>&"));
    }

    #[test]
    fn broken_templates_are_refused_with_a_message_naming_the_problem() {
        let ok_text = "{{code}} {{validity_minutes}}";
        for (subject, text, expected) in [
            (
                "S",
                "{{ code }} {{validity_minutes}",
                "t.txt has an unclosed `{{`",
            ),
            (
                "S",
                "{{code}} {{validity}}",
                "t.txt uses the unknown placeholder `{{validity}}`",
            ),
            ("S", "{{validity_minutes}}", "t.txt must contain `{{code}}`"),
            ("S", "{{code}}", "t.txt must contain `{{validity_minutes}}`"),
            ("", ok_text, "t.subject is empty"),
            ("a\nb", ok_text, "t.subject must be a single line"),
        ] {
            let err = OtpTemplate::parse("t", subject, text, ok_text).expect_err(expected);
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
        assert!(OtpTemplate::parse("t", "Subject\n", ok_text, ok_text).is_ok());
    }

    #[test]
    fn a_template_folder_replaces_the_built_ins_and_must_be_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let de = dir.path().join("de");
        std::fs::create_dir(&de).expect("mkdir");
        let body = "Code {{code}}, {{validity_minutes}} Minuten";
        for stem in ["activation", "user_verification"] {
            std::fs::write(de.join(format!("{stem}.subject")), "Ihr Code\n").expect("write");
            std::fs::write(de.join(format!("{stem}.txt")), body).expect("write");
            std::fs::write(de.join(format!("{stem}.html")), body).expect("write");
        }
        let t = MailTemplates::from_dir(dir.path(), "de").expect("valid folder");
        assert_eq!(t.languages().collect::<Vec<_>>(), vec!["de"]);
        assert_eq!(
            t.render("cs", OtpType::Activation, &VALUES).subject,
            "Ihr Code"
        );

        let err = MailTemplates::from_dir(dir.path(), "en").expect_err("no en");
        assert!(
            err.contains("mail.fallback_language `en` has no templates"),
            "{err}"
        );

        std::fs::remove_file(de.join("user_verification.html")).expect("rm");
        let err = MailTemplates::from_dir(dir.path(), "de").expect_err("incomplete");
        assert!(
            err.contains("cannot read mail template") && err.contains("user_verification.html"),
            "{err}"
        );
    }
}
