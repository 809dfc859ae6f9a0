use onboarding_adapter::configuration::Settings;
use onboarding_adapter::routes::CALLBACK_PATHS;
use onboarding_adapter::startup::openapi_document;

use crate::helpers::spawn_app;

fn generated() -> serde_json::Value {
    serde_json::to_value(openapi_document(&Settings::default())).expect("serialises")
}

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json exists");
    let rendered = onboarding_adapter::openapi::render(&openapi_document(&Settings::default()))
        .expect("renders");
    assert!(
        committed == rendered,
        "openapi/openapi.json is stale: run `cargo run -- openapi` and commit the result"
    );
}

#[test]
fn every_callback_is_documented_with_basic_auth_and_the_error_statuses() {
    let doc = generated();
    assert!(doc["components"]["securitySchemes"]["basic_auth"]["scheme"] == "basic");
    for path in CALLBACK_PATHS {
        let op = &doc["paths"][path]["post"];
        assert!(op.is_object(), "{path} is documented");
        assert_eq!(
            op["security"][0]["basic_auth"],
            serde_json::json!([]),
            "{path}"
        );
        for status in ["400", "401", "413", "415", "503"] {
            let response = &op["responses"][status];
            assert!(response.is_object(), "{path} documents {status}");
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{path} {status}"
            );
        }
        let schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .expect("request body schema is a component");
        let name = schema_ref.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name]["example"].is_object(),
            "{path}: {name} has an example"
        );
    }
}

#[tokio::test]
async fn the_running_service_serves_the_same_document_and_swagger_ui() {
    let app = spawn_app().await;
    let served: serde_json::Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(served, generated());
    let ui = app
        .client
        .get(format!("{}/swagger-ui/", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(ui.status().as_u16(), 200);
    assert!(ui.text().await.expect("html").contains("swagger"));
}

#[test]
fn documented_paths_carry_their_scope_prefix_and_every_response_a_description() {
    let doc = generated();
    for path in ["/admin/cases", "/admin/cases/{id}/resolve", "/admin/audit"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["paths"]["/cases"].is_null());
    let mut settings = Settings::default();
    settings.server.base_path = "/api/v1".into();
    let prefixed = serde_json::to_value(openapi_document(&settings)).expect("serialises");
    assert!(prefixed["paths"]["/api/v1/user/lookup"]["post"].is_object());
    assert!(prefixed["paths"]["/user/lookup"].is_null());
    assert!(prefixed["paths"]["/health/ready"]["get"].is_object());
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has no description"
                );
            }
        }
    }
}

#[test]
fn the_document_states_the_configured_limits() {
    let mut settings = Settings::default();
    settings.limits.max_documents = 3;
    settings.limits.max_images_per_document = 2;
    settings.limits.max_text_chars = 50;
    let doc = serde_json::to_value(openapi_document(&settings)).expect("serialises");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["DocumentCheckResult"]["properties"]["documents"]["maxItems"],
        3
    );
    assert_eq!(
        schemas["EvaluateRequest"]["properties"]["extractedData"]["maxItems"],
        3
    );
    assert_eq!(
        schemas["DocumentResult"]["properties"]["images"]["maxItems"],
        2
    );
    for (schema, property) in [
        ("Person", "surname"),
        ("DocumentData", "documentNumber"),
        ("DocumentData", "authority"),
        ("DocumentResult", "country"),
        ("DocumentImage", "type"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][property]["maxLength"], 50,
            "{schema}.{property}"
        );
    }
    // The defaults are what the committed document says.
    let default = serde_json::to_value(openapi_document(&Settings::default())).expect("json");
    assert_eq!(
        default["components"]["schemas"]["DocumentCheckResult"]["properties"]["documents"]["maxItems"],
        10
    );
}
