//! Consent: the text served to a process and the user's decision, each recorded with the
//! process in one transaction; and loading the catalogue of texts from its folder.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::Error;
use crate::domain::consent::ConsentCatalog;
use crate::observe::RequestContext;
use crate::storage::consents;
pub use crate::storage::consents::TextServed;
use crate::storage::{Database, processes};

/// Records that `served` was answered to its process, and the process as seen.
///
/// # Errors
/// Database errors (nothing is recorded then).
pub async fn record_served(
    db: &Database,
    served: TextServed<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let txn = db.begin().await?;
    processes::touch(
        &txn,
        processes::ProcessSeen {
            process_id: served.process_id,
            process_type: served.process_type,
            user_id: served.user_id,
            identity_verification_id: None,
            callback: "consent_text",
        },
        now,
    )
    .await?;
    consents::record_served(&txn, served, ctx, now).await?;
    txn.commit().await?;
    Ok(())
}

/// A consent decision as the Onboarding Server sends it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionCall<'a> {
    pub process_id: Option<&'a str>,
    pub process_type: Option<&'a str>,
    pub user_id: Option<&'a str>,
    /// Normalised.
    pub consent_type: &'a str,
    pub approved: bool,
}

/// Appends the decision with the version of the text last served to the process (`None`
/// when it was never served one), and records the process. Answers that version.
///
/// # Errors
/// Database errors (nothing is recorded then).
pub async fn record_decision(
    db: &Database,
    call: DecisionCall<'_>,
    ctx: &RequestContext,
    now: DateTime<Utc>,
) -> Result<Option<String>, Error> {
    let txn = db.begin().await?;
    let text_version = match call.process_id {
        Some(process_id) => {
            processes::touch(
                &txn,
                processes::ProcessSeen {
                    process_id,
                    process_type: call.process_type,
                    user_id: call.user_id,
                    identity_verification_id: None,
                    callback: "consent_storage",
                },
                now,
            )
            .await?;
            consents::last_served_version(&txn, process_id, call.consent_type).await?
        }
        None => None,
    };
    consents::record_decision(
        &txn,
        consents::Decision {
            process_id: call.process_id,
            process_type: call.process_type,
            user_id: call.user_id,
            consent_type: call.consent_type,
            approved: call.approved,
            text_version: text_version.clone(),
        },
        ctx,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(text_version)
}

/// Loads the consent texts `<dir>/<CONSENT_TYPE>/<language>.html`.
///
/// # Errors
/// When the folder cannot be read, a file is too large or not UTF-8, there is no text, or
/// a consent type has no text in the fallback language.
pub fn load_catalog(dir: &Path, fallback_language: &str) -> Result<ConsentCatalog, String> {
    let read =
        |p: &Path| std::fs::read_dir(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let mut texts = Vec::new();
    for type_dir in read(dir)? {
        let type_dir = type_dir.map_err(|e| e.to_string())?.path();
        if !type_dir.is_dir() {
            continue;
        }
        let consent_type = type_dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("bad folder name {}", type_dir.display()))?
            .to_owned();
        for file in read(&type_dir)? {
            let file = file.map_err(|e| e.to_string())?.path();
            if file.extension().and_then(|e| e.to_str()) != Some("html") {
                continue;
            }
            let language = file
                .file_stem()
                .and_then(|n| n.to_str())
                .ok_or_else(|| format!("bad file name {}", file.display()))?
                .to_owned();
            let html = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            texts.push((consent_type.clone(), language, html));
        }
    }
    ConsentCatalog::from_texts(texts, fallback_language)
        .map_err(|e| format!("consent texts in {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_texts_loads_and_needs_the_fallback_language() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("GDPR")).expect("mkdir");
        std::fs::write(dir.path().join("GDPR/cs.html"), "<p>x</p>").expect("write");
        std::fs::write(dir.path().join("GDPR/notes.txt"), "ignored").expect("write");
        let err = load_catalog(dir.path(), "en").expect_err("no en");
        assert!(err.contains("fallback language `en`"), "{err}");
        std::fs::write(dir.path().join("GDPR/en.html"), "<p>y</p>").expect("write");
        let c = load_catalog(dir.path(), "en").expect("valid");
        assert_eq!(
            c.text("GDPR", Some("cs")).map(|t| t.html.as_str()),
            Some("<p>x</p>")
        );
        assert_eq!(c.consent_types().collect::<Vec<_>>(), ["GDPR"]);
    }
}
