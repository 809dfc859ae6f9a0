//! The fact set a decision policy reads: taken from an evaluate or approve call and
//! derived in Rust (age, expiry, registry match, identity consistency, image checks) against
//! an injected date, so the policy's CEL stays simple and a decision can be replayed.
//!
//! The facts are a JSON object; every top-level key is a CEL variable. Unknown values are
//! `null`, so a rule that compares them fails to evaluate and the policy answers WAIT
//! (fail-safe). The key names are part of the policy contract (see `assets/policy/demo.toml`
//! and the README); changing one breaks banks' policies.

use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value, json};

use super::identity::{self, normalise_name, parse_date};
use super::images::CheckedImage;
use super::verification::{
    ApproveInput, CallInput, CheckStatus, DocumentDataInput, DocumentInput, EvaluateInput,
    PersonInput, RawDataInput, RegistryPerson,
};

/// Checked images of one evaluate call: `documents[i][j]` is image `j` of document `i`.
pub type DocumentImages = Vec<Vec<CheckedImage>>;

/// Facts of a `/client/evaluate` call.
pub fn evaluate(
    input: &EvaluateInput<'_>,
    images: &DocumentImages,
    registry: Option<&RegistryPerson>,
    today: NaiveDate,
) -> Value {
    let check = input.document_check.as_ref();
    let documents = check.map_or(&[][..], |c| c.documents.as_slice());
    let person = extracted_person(check.and_then(|c| c.person), documents);
    let has_extracted_data =
        person.is_some() || documents.iter().any(|d| has_data(d.data.as_ref()));

    let mut docs = Vec::with_capacity(documents.len());
    let mut countries = Vec::new();
    let mut types = Vec::new();
    let (mut any_expired, mut any_future, mut any_failed, mut face) = (false, false, false, false);
    let mut min_days: Option<i64> = None;
    let mut min_score: Option<f64> = None;
    let (mut image_count, mut images_valid) = (0_usize, true);
    for (i, doc) in documents.iter().enumerate() {
        let data = doc.data.as_ref();
        let expiry = data.and_then(|d| parse_date(d.date_of_expiry));
        let issue = data.and_then(|d| parse_date(d.date_of_issue));
        let expired = expiry.map(|e| e < today);
        let days_to_expiry = expiry.map(|e| (e - today).num_days());
        let issued_in_future = issue.map(|d| d > today);
        any_expired |= expired == Some(true);
        any_future |= issued_in_future == Some(true);
        any_failed |= doc.status == Some(CheckStatus::Failure);
        if let Some(days) = days_to_expiry {
            min_days = Some(min_days.map_or(days, |m| m.min(days)));
        }
        if let Some(score) = doc.score {
            min_score = Some(min_score.map_or(score, |m| m.min(score)));
        }
        let country = doc.country.map(|c| c.trim().to_uppercase());
        if let Some(c) = &country
            && !c.is_empty()
            && !countries.contains(c)
        {
            countries.push(c.clone());
        }
        let kind = doc.document_type;
        if !types.contains(&kind) {
            types.push(kind);
        }
        let checked = images.get(i).map_or(&[][..], Vec::as_slice);
        let mut doc_images = Vec::with_capacity(doc.image_types.len());
        for (j, image_type) in doc.image_types.iter().enumerate() {
            let image_type = image_type.map(normalise_image_type);
            let c = checked.get(j);
            let valid = c.is_some_and(CheckedImage::valid);
            image_count += 1;
            images_valid &= valid;
            face |= valid && image_type == Some("FACE");
            doc_images.push(json!({
                "type": image_type,
                "format": c.and_then(|c| c.format).map(|f| f.as_str()),
                "bytes": c.map_or(0, |c| c.size),
                "valid": valid,
                "problem": c.and_then(|c| c.problem).map(|p| p.as_str()),
            }));
        }
        docs.push(json!({
            "type": kind,
            "country": country,
            "status": doc.status.map(CheckStatus::as_str),
            "score": doc.score,
            "hasData": has_data(data),
            "expired": expired,
            "daysToExpiry": days_to_expiry,
            "issuedInFuture": issued_in_future,
            "images": doc_images,
            "rawData": raw_data(doc.raw_data),
        }));
    }

    let birth_date = person.and_then(|p| parse_date(p.date_of_birth));
    let mut facts = common(CommonFacts {
        point: "evaluate",
        call: &input.call,
        score: None,
        legacy_caller: input.call.process_type.is_none() && input.document_check.is_none(),
        image_count,
        images_valid,
        registry: registry_facts(registry, person.as_ref()),
    });
    facts.extend([
        ("hasExtractedData".into(), json!(has_extracted_data)),
        (
            "person".into(),
            person.map_or(Value::Null, |p| {
                json!({
                    "givenNames": p.given_names,
                    "surname": p.surname,
                    "dateOfBirth": p.date_of_birth,
                })
            }),
        ),
        ("age".into(), json!(birth_date.map(|b| age_on(b, today)))),
        (
            "identity".into(),
            identity::facts(identity::Sources {
                person: check.and_then(|c| c.person.as_ref()),
                documents,
                registry,
            }),
        ),
        ("documents".into(), Value::Array(docs)),
        ("documentCount".into(), json!(documents.len())),
        ("documentTypes".into(), json!(types)),
        ("documentCountries".into(), json!(countries)),
        ("anyDocumentExpired".into(), json!(any_expired)),
        ("anyIssuedInFuture".into(), json!(any_future)),
        ("anyDocumentFailed".into(), json!(any_failed)),
        ("minDaysToExpiry".into(), json!(min_days)),
        ("minDocumentScore".into(), json!(min_score)),
        ("faceImagePresent".into(), json!(face)),
        ("extractedData".into(), json!(input.extracted_data)),
    ]);
    Value::Object(facts)
}

/// Facts of a `/client/approve` call. `frame` is the checked selfie when one was sent.
pub fn approve(
    input: &ApproveInput<'_>,
    frame: Option<&CheckedImage>,
    registry: Option<&RegistryPerson>,
) -> Value {
    let mut facts = common(CommonFacts {
        point: "approve",
        call: &input.call,
        score: input.score,
        legacy_caller: false,
        image_count: usize::from(frame.is_some()),
        images_valid: frame.is_none_or(CheckedImage::valid),
        registry: registry_facts(registry, None),
    });
    facts.insert(
        "presence".into(),
        json!({
            "framePresent": frame.is_some(),
            "frameValid": frame.map(CheckedImage::valid),
            "frameBytes": frame.map(|f| f.size),
            "frameFormat": frame.and_then(|f| f.format).map(|f| f.as_str()),
            "frameProblem": frame.and_then(|f| f.problem).map(|p| p.as_str()),
        }),
    );
    Value::Object(facts)
}

struct CommonFacts<'a> {
    point: &'static str,
    call: &'a CallInput<'a>,
    score: Option<f64>,
    legacy_caller: bool,
    image_count: usize,
    images_valid: bool,
    registry: Value,
}

fn common(c: CommonFacts<'_>) -> Map<String, Value> {
    let call = c.call;
    let mut m = Map::new();
    m.extend([
        ("point".into(), json!(c.point)),
        ("processId".into(), json!(call.process_id)),
        ("processType".into(), json!(call.process_type)),
        ("userId".into(), json!(call.user_id)),
        (
            "identityVerificationId".into(),
            json!(call.identity_verification_id),
        ),
        ("provider".into(), json!(call.provider)),
        ("status".into(), json!(call.status.map(CheckStatus::as_str))),
        ("score".into(), json!(c.score)),
        ("legacyCaller".into(), json!(c.legacy_caller)),
        ("imageCount".into(), json!(c.image_count)),
        ("imagesValid".into(), json!(c.images_valid)),
        ("registry".into(), c.registry),
    ]);
    m
}

/// `FACE_IMAGE` (some builds) is `FACE`; other types as sent.
fn normalise_image_type(t: &str) -> &str {
    if t == "FACE_IMAGE" { "FACE" } else { t }
}

/// The person data: `documentCheckResult.person` when sent, otherwise the first non-null
/// value of each field across the documents (what the Onboarding Server does itself).
fn extracted_person<'a>(
    person: Option<PersonInput<'a>>,
    documents: &[DocumentInput<'a>],
) -> Option<PersonInput<'a>> {
    let mut p = person.unwrap_or_default();
    for data in documents.iter().filter_map(|d| d.data.as_ref()) {
        fill(&mut p.given_names, data.given_names);
        fill(&mut p.surname, data.surname);
        fill(&mut p.date_of_birth, data.date_of_birth);
    }
    let any = [p.given_names, p.surname, p.date_of_birth]
        .into_iter()
        .any(|v| v.is_some_and(|s| !s.trim().is_empty()));
    any.then_some(p)
}

fn fill<'a>(slot: &mut Option<&'a str>, value: Option<&'a str>) {
    if slot.is_none_or(|s| s.trim().is_empty())
        && let Some(v) = value
    {
        *slot = Some(v);
    }
}

fn has_data(data: Option<&DocumentDataInput<'_>>) -> bool {
    data.is_some_and(|d| {
        [
            d.given_names,
            d.surname,
            d.date_of_birth,
            d.place_of_birth,
            d.sex,
            d.nationality,
            d.personal_number,
            d.document_number,
            d.date_of_issue,
            d.date_of_expiry,
            d.authority,
        ]
        .into_iter()
        .any(|v| v.is_some_and(|s| !s.trim().is_empty()))
    })
}

/// `rawData` as an object whether it came as a JSON string or an object; a string that is
/// not a JSON object is kept as `{"text": …}` so nothing is lost and rules see a map.
fn raw_data(raw: Option<RawDataInput<'_>>) -> Value {
    match raw {
        None => Value::Null,
        Some(RawDataInput::Object(map)) => Value::Object(map.clone()),
        Some(RawDataInput::Text(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(_) | Err(_) => json!({ "text": text }),
        },
    }
}

fn registry_facts(registry: Option<&RegistryPerson>, extracted: Option<&PersonInput<'_>>) -> Value {
    let Some(r) = registry else {
        return json!({
            "found": false, "givenNamesMatch": null, "surnameMatch": null,
            "birthDateMatch": null, "mismatch": false,
        });
    };
    let given = extracted.and_then(|p| names_match(r.given_names.as_deref(), p.given_names));
    let surname = extracted.and_then(|p| names_match(r.surname.as_deref(), p.surname));
    let birth = extracted.and_then(|p| {
        match (
            parse_date(r.birth_date.as_deref()),
            parse_date(p.date_of_birth),
        ) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        }
    });
    let mismatch = [given, surname, birth].contains(&Some(false));
    json!({
        "found": true,
        "givenNamesMatch": given,
        "surnameMatch": surname,
        "birthDateMatch": birth,
        "mismatch": mismatch,
    })
}

/// Compares two names after normalisation; `None` when either side is unknown.
pub fn names_match(registry: Option<&str>, extracted: Option<&str>) -> Option<bool> {
    let a = normalise_name(registry?);
    let b = normalise_name(extracted?);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(a == b)
}

/// Full years from `birth` to `today` (0 before the first birthday; negative never).
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> i64 {
    let mut years = i64::from(today.year() - birth.year());
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::domain::images::{self, ImageLimits};
    use crate::domain::verification::DocumentCheckInput;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn age_table() {
        for (birth, today, age) in [
            ("2000-03-02", "2018-03-01", 17),
            ("2000-03-02", "2018-03-02", 18),
            ("2000-02-29", "2018-02-28", 17),
            ("2000-02-29", "2018-03-01", 18),
            ("1985-03-02", "2026-11-23", 41),
            ("2030-01-01", "2026-11-23", 0),
        ] {
            assert_eq!(age_on(date(birth), date(today)), age, "{birth} {today}");
        }
    }

    #[test]
    fn name_normalisation_table() {
        for (a, b, same) in [
            ("Jiří", "JIRI", true),
            ("  Jan   Petr ", "jan petr", true),
            ("Novák-Dvořák", "NOVAK-DVORAK", true),
            ("Łukasz", "LUKASZ", true),
            ("Straße", "STRASE", true),
            ("Jan", "Jana", false),
            ("Jan Petr", "JanPetr", false),
        ] {
            assert_eq!(normalise_name(a) == normalise_name(b), same, "{a} vs {b}");
        }
        assert_eq!(names_match(None, Some("Jan")), None);
        assert_eq!(names_match(Some("Jan"), Some("  ")), None);
        assert_eq!(names_match(Some("Jan"), Some("JAN")), Some(true));
    }

    #[test]
    fn date_parsing_table() {
        assert_eq!(parse_date(Some("2030-01-15")), Some(date("2030-01-15")));
        assert_eq!(
            parse_date(Some("2030-01-15T00:00:00Z")),
            Some(date("2030-01-15"))
        );
        assert_eq!(parse_date(Some("15.01.2030")), None);
        assert_eq!(parse_date(Some("2030-02-30")), None);
        assert_eq!(parse_date(Some("")), None);
        assert_eq!(parse_date(None), None);
    }

    fn call() -> CallInput<'static> {
        CallInput {
            process_id: "p",
            process_type: Some("onboarding"),
            user_id: "u",
            identity_verification_id: "iv",
            provider: None,
            status: Some(CheckStatus::Success),
        }
    }

    fn document(document_type: &'static str) -> DocumentInput<'static> {
        DocumentInput {
            document_type,
            country: None,
            status: Some(CheckStatus::Success),
            score: None,
            data: None,
            image_types: vec![],
            raw_data: None,
        }
    }

    fn evaluate_input(documents: Vec<DocumentInput<'static>>) -> EvaluateInput<'static> {
        EvaluateInput {
            call: call(),
            document_check: Some(DocumentCheckInput {
                person: None,
                documents,
            }),
            extracted_data: vec![],
        }
    }

    fn with_data(data: DocumentDataInput<'static>) -> EvaluateInput<'static> {
        evaluate_input(vec![DocumentInput {
            country: Some("cze"),
            score: Some(10.0),
            data: Some(data),
            raw_data: Some(RawDataInput::Text("{\"verification\":{\"ok\":true}}")),
            ..document("DRIVING_LICENSE")
        }])
    }

    fn registry() -> RegistryPerson {
        RegistryPerson {
            given_names: Some("Jan".into()),
            surname: Some("Novák".into()),
            birth_date: Some("1985-03-02".into()),
        }
    }

    #[test]
    fn derived_document_facts() {
        let today = date("2026-11-23");
        let cases = [
            // (expiry, issue, expired, days, future)
            (
                "2026-11-22",
                "2020-01-01",
                Some(true),
                Some(-1),
                Some(false),
            ),
            (
                "2026-11-23",
                "2026-11-23",
                Some(false),
                Some(0),
                Some(false),
            ),
            (
                "2027-11-23",
                "2026-11-24",
                Some(false),
                Some(365),
                Some(true),
            ),
        ];
        for (expiry, issue, expired, days, future) in cases {
            let req = with_data(DocumentDataInput {
                date_of_expiry: Some(expiry),
                date_of_issue: Some(issue),
                ..Default::default()
            });
            let f = evaluate(&req, &vec![vec![]], None, today);
            let doc = &f["documents"][0];
            assert_eq!(doc["expired"], json!(expired), "{expiry}");
            assert_eq!(doc["daysToExpiry"], json!(days), "{expiry}");
            assert_eq!(doc["issuedInFuture"], json!(future), "{issue}");
            assert_eq!(f["anyDocumentExpired"], json!(expired == Some(true)));
            assert_eq!(f["anyIssuedInFuture"], json!(future == Some(true)));
            assert_eq!(f["minDaysToExpiry"], json!(days));
            assert_eq!(doc["type"], "DRIVING_LICENSE");
            assert_eq!(doc["country"], "CZE");
            assert_eq!(doc["rawData"], json!({"verification": {"ok": true}}));
            assert_eq!(f["documentCountries"], json!(["CZE"]));
            assert_eq!(f["hasExtractedData"], json!(true));
        }
    }

    #[test]
    fn registry_match_facts() {
        let today = date("2026-11-23");
        let reg = registry();
        let jan_novak = DocumentDataInput {
            given_names: Some("JAN"),
            surname: Some("NOVAK"),
            date_of_birth: Some("1985-03-02"),
            ..Default::default()
        };
        let same = with_data(jan_novak);
        let f = evaluate(&same, &vec![vec![]], Some(&reg), today);
        assert_eq!(
            f["registry"],
            json!({"found": true, "givenNamesMatch": true, "surnameMatch": true,
                   "birthDateMatch": true, "mismatch": false})
        );
        assert_eq!(f["age"], json!(41));
        let other = with_data(DocumentDataInput {
            date_of_birth: Some("1985-03-03"),
            ..jan_novak
        });
        let f = evaluate(&other, &vec![vec![]], Some(&reg), today);
        assert_eq!(f["registry"]["birthDateMatch"], json!(false));
        assert_eq!(f["registry"]["mismatch"], json!(true));
        let f = evaluate(&other, &vec![vec![]], None, today);
        assert_eq!(f["registry"]["found"], json!(false));
        assert_eq!(f["registry"]["mismatch"], json!(false));
    }

    #[test]
    fn identity_facts_compare_the_person_as_sent_not_as_filled_in() {
        let today = date("2026-11-23");
        let req = with_data(DocumentDataInput {
            given_names: Some("JAN"),
            surname: Some("NOVAK"),
            date_of_birth: Some("2015-03-02"),
            ..Default::default()
        });
        let f = evaluate(&req, &vec![vec![]], Some(&registry()), today);
        // `person` is filled in from the document, but was not sent: nothing to compare.
        assert_eq!(f["person"]["dateOfBirth"], json!("2015-03-02"));
        assert_eq!(f["identity"]["birthDate"]["person"], json!("unknown"));
        assert_eq!(f["identity"]["birthDate"]["registry"], json!("disagree"));
        assert_eq!(f["identity"]["surname"]["status"], json!("agree"));
        assert_eq!(f["identity"]["mismatches"], json!(["birthDate"]));

        let mut sent = req.clone();
        if let Some(check) = sent.document_check.as_mut() {
            check.person = Some(PersonInput {
                date_of_birth: Some("1985-03-02"),
                ..Default::default()
            });
        }
        let f = evaluate(&sent, &vec![vec![]], None, today);
        assert_eq!(f["identity"]["birthDate"]["person"], json!("disagree"));
        assert_eq!(
            f["identity"]["birthDate"]["conflicts"],
            json!([["documents[0]", "person"]])
        );
        assert_eq!(f["identity"]["birthDate"]["registry"], json!("unknown"));
    }

    #[test]
    fn missing_extracted_data_is_a_fact() {
        let req = evaluate_input(vec![document("ID_CARD")]);
        let f = evaluate(&req, &vec![vec![]], Some(&registry()), date("2026-11-23"));
        assert_eq!(f["hasExtractedData"], json!(false));
        assert_eq!(f["age"], Value::Null);
        assert_eq!(f["person"], Value::Null);
        assert_eq!(f["registry"]["mismatch"], json!(false));
        assert_eq!(f["documents"][0]["expired"], Value::Null);
        assert_eq!(f["legacyCaller"], json!(false));
        assert_eq!(f["imagesValid"], json!(true));
        assert_eq!(f["identity"]["mismatches"], json!([]));
        assert_eq!(f["identity"]["birthDate"]["status"], json!("unknown"));
    }

    #[test]
    fn legacy_request_facts() {
        let req = EvaluateInput {
            call: CallInput {
                process_type: None,
                provider: Some("zenid"),
                status: None,
                ..call()
            },
            document_check: None,
            extracted_data: vec!["a", "b"],
        };
        let f = evaluate(&req, &vec![], None, date("2026-11-23"));
        assert_eq!(f["legacyCaller"], json!(true));
        assert_eq!(f["documentCount"], json!(0));
        assert_eq!(f["extractedData"], json!(["a", "b"]));
        assert_eq!(f["processType"], Value::Null);
    }

    #[test]
    fn image_facts() {
        let limits = ImageLimits {
            min_bytes: 8,
            max_bytes: 4096,
        };
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
        jpeg.resize(200, 1);
        let good = base64::engine::general_purpose::STANDARD.encode(&jpeg);
        let req = evaluate_input(vec![DocumentInput {
            image_types: vec![Some("FACE_IMAGE"), Some("DOCUMENT_FRONT_SIDE")],
            ..document("PASSPORT")
        }]);
        let checked = vec![vec![
            images::check(&good, limits),
            images::check("%%%", limits),
        ]];
        let f = evaluate(&req, &checked, None, date("2026-11-23"));
        assert_eq!(f["imageCount"], json!(2));
        assert_eq!(f["imagesValid"], json!(false));
        assert_eq!(f["faceImagePresent"], json!(true));
        let imgs = &f["documents"][0]["images"];
        assert_eq!(
            imgs[0],
            json!({"type": "FACE", "format": "JPEG", "bytes": 200, "valid": true, "problem": null})
        );
        assert_eq!(imgs[1]["problem"], json!("NOT_BASE64"));
    }

    #[test]
    fn approve_facts() {
        let req = ApproveInput {
            call: CallInput {
                provider: Some("iproov"),
                ..call()
            },
            score: Some(10.0),
        };
        let f = approve(&req, None, None);
        assert_eq!(f["score"], json!(10.0));
        assert_eq!(f["status"], json!("SUCCESS"));
        assert_eq!(f["presence"]["framePresent"], json!(false));
        assert_eq!(f["presence"]["frameValid"], Value::Null);
        assert_eq!(f["imagesValid"], json!(true));
        let bad = images::check(
            "AAAA",
            ImageLimits {
                min_bytes: 8,
                max_bytes: 10,
            },
        );
        let f = approve(&req, Some(&bad), None);
        assert_eq!(f["presence"]["frameValid"], json!(false));
        assert_eq!(f["imagesValid"], json!(false));
    }
}
