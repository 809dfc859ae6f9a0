use onboarding_adapter::configuration::UnknownUser;
use serde_json::json;

use crate::helpers::{assert_error_body, spawn_app, spawn_app_with};

fn lookup(process_id: &str, client_number: &str, birth_date: &str) -> serde_json::Value {
    json!({
        "processId": process_id,
        "processType": "onboarding",
        "identification": {"clientNumber": client_number, "birthDate": birth_date}
    })
}

#[tokio::test]
async fn a_registry_customer_is_identified_and_the_answer_is_the_same_on_repeat() {
    let app = spawn_app().await;
    app.seed_demo_customers().await;
    let (status, first) = app
        .post_json("/user/lookup", &lookup("p-1", "12345678", "1985-03-02"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(first, json!({"userId": "C-1001", "consentRequired": true}));
    let (_, again) = app
        .post_json("/user/lookup", &lookup("p-1", " 12345678 ", "1985-03-02"))
        .await;
    assert_eq!(again, first);
    let rows = app
        .rows("SELECT user_id, process_type FROM process WHERE process_id = 'p-1'")
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]
            .try_get::<Option<String>>("", "user_id")
            .expect("col"),
        Some("C-1001".into())
    );
}

#[tokio::test]
async fn a_1x_lookup_without_process_type_is_accepted() {
    let app = spawn_app().await;
    app.seed_demo_customers().await;
    let (status, body) = app
        .post_json("/user/lookup", &json!({"processId": "p", "identification": {"clientNumber": 34567890, "birthDate": "1978-06-15"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["userId"], "C-1003");
}

#[tokio::test]
async fn an_unknown_user_is_a_404_with_the_error_body() {
    let app = spawn_app().await;
    app.seed_demo_customers().await;
    for body in [
        lookup("p", "12345678", "1999-01-01"),
        lookup("p", "00000000", "1985-03-02"),
    ] {
        let (status, answer) = app.post_json("/user/lookup", &body).await;
        assert_eq!(status, 404);
        assert_eq!(
            assert_error_body(&answer, "ERROR_GENERIC"),
            "user not found"
        );
    }
}

#[tokio::test]
async fn a_missing_identification_attribute_identifies_nobody_404_naming_it() {
    let app = spawn_app().await;
    let (status, body) = app
        .post_json(
            "/user/lookup",
            &json!({"processId": "p", "identification": {"clientNumber": "1"}}),
        )
        .await;
    assert_eq!(status, 404);
    assert!(assert_error_body(&body, "ERROR_GENERIC").contains("birthDate"));
    assert_eq!(app.count("process").await, 0);
}

#[tokio::test]
async fn a_null_identification_at_target_activation_answers_the_process_user() {
    let app = spawn_app().await;
    app.seed_demo_customers().await;
    app.post_json("/user/lookup", &lookup("p-2", "23456789", "1990-11-20"))
        .await;
    let (status, body) = app
        .post_json(
            "/user/lookup",
            &json!({"processId": "p-2", "processType": "onboarding", "identification": null}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["userId"], "C-1002");
    let (status, _) = app
        .post_json(
            "/user/lookup",
            &json!({"processId": "never-seen", "identification": null}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn consent_required_turns_false_after_approval_and_true_again_after_rejection() {
    let app = spawn_app().await;
    app.seed_demo_customers().await;
    let ask = || app.post_json("/user/lookup", lookup("p-3", "12345678", "1985-03-02"));
    assert_eq!(ask().await.1["consentRequired"], true);
    let store = |approved: bool| {
        app.post(
            "/consent/storage",
            json!({"processId": "p-3", "processType": "onboarding", "userId": "C-1001", "consentType": "GDPR", "approved": approved}),
        )
    };
    assert_eq!(store(true).await.status().as_u16(), 204);
    assert_eq!(ask().await.1["consentRequired"], false);
    assert_eq!(store(false).await.status().as_u16(), 204);
    assert_eq!(ask().await.1["consentRequired"], true);
}

#[tokio::test]
async fn prospect_mode_creates_one_prospect_id_per_identification() {
    let app = spawn_app_with(|s| s.lookup.unknown_user = UnknownUser::Prospect).await;
    let (status, first) = app
        .post_json("/user/lookup", &lookup("p-4", "999", "2000-01-01"))
        .await;
    assert_eq!(status, 200);
    let id = first["userId"].as_str().expect("userId").to_owned();
    assert!(id.starts_with("P-"), "{id}");
    let (_, again) = app
        .post_json("/user/lookup", &lookup("p-5", "999", "2000-01-01"))
        .await;
    assert_eq!(again["userId"], id.as_str());
    let (_, other) = app
        .post_json("/user/lookup", &lookup("p-6", "999", "2000-01-02"))
        .await;
    assert_ne!(other["userId"], id.as_str());
    assert_eq!(app.count("prospect").await, 2);
    // Only a digest of the identification is stored, never the values.
    let rows = app.rows("SELECT lookup_key FROM prospect").await;
    for row in rows {
        let key: String = row.try_get("", "lookup_key").expect("col");
        assert_eq!(key.len(), 64);
        assert!(!key.contains("999"));
    }
}

#[tokio::test]
async fn concurrent_prospect_lookups_agree_on_one_id() {
    let app = spawn_app_with(|s| s.lookup.unknown_user = UnknownUser::Prospect).await;
    let body = lookup("p-7", "4242", "2001-02-03");
    let answers =
        futures_util::future::join_all((0..8).map(|_| app.post_json("/user/lookup", &body))).await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(status, b)| {
            assert_eq!(*status, 200, "{b}");
            b["userId"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.count("prospect").await, 1);
}

#[tokio::test]
async fn imported_customers_are_found_by_lookup_and_a_reimport_updates_them() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("customers.csv");
    std::fs::write(
        &file,
        "userId,clientNumber,birthDate,email\nB-1,555,1970-01-01,B1@Example.com\n",
    )
    .expect("write");
    let rows = onboarding_adapter::import::read(&file).expect("valid file");
    onboarding_adapter::import::import(&app.db, &rows, chrono::Utc::now())
        .await
        .expect("import");
    let (status, body) = app
        .post_json("/user/lookup", lookup("p-i", "555", "1970-01-01"))
        .await;
    assert_eq!((status, body["userId"].clone()), (200, json!("B-1")));
    std::fs::write(&file, "userId,clientNumber,birthDate\nB-1,556,1970-01-01\n").expect("write");
    let rows = onboarding_adapter::import::read(&file).expect("valid file");
    onboarding_adapter::import::import(&app.db, &rows, chrono::Utc::now())
        .await
        .expect("import");
    assert_eq!(
        app.post_json("/user/lookup", lookup("p-i", "555", "1970-01-01"))
            .await
            .0,
        404
    );
    assert_eq!(
        app.post_json("/user/lookup", lookup("p-i", "556", "1970-01-01"))
            .await
            .1["userId"],
        "B-1"
    );
    assert_eq!(app.count("customer").await, 1);
}

/// Two active customers with the same identification: nobody is picked. By default that is
/// a 404; in prospect mode the identification gets its prospect id, as an unknown one does.
#[tokio::test]
async fn an_identification_matching_several_customers_picks_nobody() {
    let twins = |app: &crate::helpers::TestApp| {
        let rows = vec![
            onboarding_adapter::storage::customers::NewCustomer {
                user_id: "T-1".into(),
                client_number: Some("777".into()),
                birth_date: Some("1991-01-01".into()),
                ..Default::default()
            },
            onboarding_adapter::storage::customers::NewCustomer {
                user_id: "T-2".into(),
                client_number: Some("777".into()),
                birth_date: Some("1991-01-01".into()),
                ..Default::default()
            },
        ];
        let db = app.db.clone();
        async move {
            onboarding_adapter::import::import(&db, &rows, chrono::Utc::now())
                .await
                .expect("import");
        }
    };
    let app = spawn_app().await;
    twins(&app).await;
    let (status, body) = app
        .post_json("/user/lookup", lookup("p-t", "777", "1991-01-01"))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(app.count("process").await, 0);

    let app = spawn_app_with(|s| s.lookup.unknown_user = UnknownUser::Prospect).await;
    twins(&app).await;
    let (status, body) = app
        .post_json("/user/lookup", lookup("p-t", "777", "1991-01-01"))
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["userId"].as_str().expect("userId");
    assert!(id.starts_with("P-"), "{id}");
    assert_eq!(app.count("prospect").await, 1);
}
