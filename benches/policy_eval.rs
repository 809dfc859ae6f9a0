//! Decision policy evaluation: a 26-rule policy against a realistic `/client/evaluate` fact set,
//! including the JSON → CEL conversion of the facts. Target: median < 50 µs per decision.
//!
//! `cargo bench --bench policy_eval`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use onboarding_adapter::domain::policy::{DEMO_POLICY, DecisionPoint, Policy};
use serde_json::json;

/// The demo policy's seventeen evaluate rules plus nine more, typical of a bank's additions.
fn policy_text() -> String {
    let extra = [
        (
            "passport-validity",
            "minDaysToExpiry != null && minDaysToExpiry < 30",
            "WAIT",
            "DOCUMENT_EXPIRES_SOON",
        ),
        (
            "registry-not-found",
            "!registry.found",
            "WAIT",
            "NOT_IN_REGISTRY",
        ),
        (
            "given-names",
            "registry.givenNamesMatch == false",
            "WAIT",
            "GIVEN_NAMES_MISMATCH",
        ),
        (
            "birth-date",
            "registry.birthDateMatch == false",
            "NOK",
            "BIRTH_DATE_MISMATCH",
        ),
        (
            "too-old",
            "hasExtractedData && age > 120",
            "WAIT",
            "IMPLAUSIBLE_AGE",
        ),
        (
            "no-face",
            "hasExtractedData && !faceImagePresent",
            "WAIT",
            "NO_FACE_IMAGE",
        ),
        (
            "doc-images",
            "documents.exists(d, d.images.exists(i, !i.valid || i.bytes < 1000))",
            "WAIT",
            "DOCUMENT_IMAGE_INVALID",
        ),
        (
            "licence-only",
            r#"documentTypes.all(t, t == "DRIVING_LICENSE")"#,
            "WAIT",
            "PRIMARY_DOCUMENT_REQUIRED",
        ),
        (
            "provider",
            r#"provider != null && !(provider in ["mock", "zenid", "innovatrics"])"#,
            "WAIT",
            "UNKNOWN_PROVIDER",
        ),
    ];
    let mut text = DEMO_POLICY.to_owned();
    for (id, when, outcome, reason) in extra {
        text.push_str(&format!(
            "\n[[evaluate]]\nid = \"{id}\"\nwhen = '{when}'\noutcome = \"{outcome}\"\nreason = \"{reason}\"\n"
        ));
    }
    text
}

fn facts() -> serde_json::Value {
    let document = |kind: &str, country: &str, score: f64| {
        json!({
            "type": kind, "country": country, "status": "ACCEPTED", "score": score,
            "hasData": true, "expired": false, "daysToExpiry": 1200, "issuedInFuture": false,
            "images": [
                {"type": "FRONT", "format": "JPEG", "bytes": 120_000, "valid": true},
                {"type": "BACK", "format": "JPEG", "bytes": 118_000, "valid": true},
            ],
            "rawData": {"documentNumber": "123456789", "issuingAuthority": "Praha 1", "nationality": "CZE"},
        })
    };
    let agree = |sources: &[&str]| {
        json!({"status": "agree", "documents": "agree", "person": "agree", "registry": "agree",
               "sources": sources, "conflicts": []})
    };
    let all = ["documents[0]", "documents[1]", "person", "registry"];
    json!({
        "point": "evaluate", "processId": "0b7c1a5e-4f7e-4d43-9b5f-5d3a9c1e2f10",
        "processType": "onboarding", "userId": "user-1",
        "identityVerificationId": "4e2d9a1c-1b5f-4c6e-8f0a-9d8c7b6a5f4e", "provider": "mock",
        "status": "SUCCESS", "score": 9.0, "legacyCaller": false, "imagesValid": true,
        "imageCount": 4,
        "registry": {"found": true, "givenNamesMatch": true, "surnameMatch": true,
                     "birthDateMatch": true, "mismatch": false},
        "hasExtractedData": true,
        "person": {"givenNames": "Jana", "surname": "Nováková", "dateOfBirth": "1990-05-17"},
        "age": 35,
        "documents": [document("ID_CARD", "CZE", 9.5), document("DRIVING_LICENSE", "CZE", 8.0)],
        "documentCount": 2, "documentTypes": ["ID_CARD", "DRIVING_LICENSE"],
        "documentCountries": ["CZE"], "anyDocumentExpired": false, "anyIssuedInFuture": false,
        "anyDocumentFailed": false, "minDaysToExpiry": 1200, "minDocumentScore": 8.0,
        "faceImagePresent": true,
        "identity": {
            "surname": agree(&all), "givenNames": agree(&all), "birthDate": agree(&all),
            "documentNumber": {"status": "unknown", "documents": "unknown", "person": "unknown",
                               "registry": "unknown", "sources": ["documents[0]", "documents[1]"],
                               "conflicts": []},
            "nationality": {"status": "agree", "documents": "agree", "person": "unknown",
                            "registry": "unknown", "sources": ["documents[0]", "documents[1]"],
                            "conflicts": []},
            "mismatches": [],
        },
    })
}

fn bench(c: &mut Criterion) {
    let policy = Policy::parse(&policy_text(), "bench.toml").unwrap();
    let rules = policy
        .rule_ids(DecisionPoint::Evaluate, Some("onboarding"))
        .len();
    assert_eq!(rules, 26);
    let facts = facts();
    let verdict = policy.decide(DecisionPoint::Evaluate, Some("onboarding"), &facts);
    assert_eq!(verdict.outcome.as_str(), "OK", "{:#?}", verdict.trace);
    c.bench_function("policy_eval/evaluate_26_rules", |b| {
        b.iter(|| {
            policy.decide(
                black_box(DecisionPoint::Evaluate),
                black_box(Some("onboarding")),
                black_box(&facts),
            )
        })
    });
    // The fixed cost of a decision: binding the facts as CEL values, one trivial rule.
    let trivial = Policy::parse(
        "name = \"t\"\n[[evaluate]]\nid = \"t\"\nwhen = \"true\"\noutcome = \"OK\"\nreason = \"T\"\n",
        "trivial.toml",
    )
    .unwrap();
    c.bench_function("policy_eval/facts_binding_1_trivial_rule", |b| {
        b.iter(|| trivial.decide(black_box(DecisionPoint::Evaluate), None, black_box(&facts)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
