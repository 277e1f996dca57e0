//! docs/service-api.md against the OpenAPI document the server serves: the same routes, with
//! the same methods, both ways.

use std::collections::BTreeSet;

use jouletrace_server::api::openapi::document;

/// `(METHOD, path)` rows of the reference's route table.
fn documented() -> BTreeSet<(String, String)> {
    let text = include_str!("../../docs/service-api.md");
    text.lines()
        .filter(|l| l.starts_with("| GET") || l.starts_with("| POST") || l.starts_with("| DELETE"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].trim_matches('`').to_owned())
        })
        .collect()
}

#[test]
fn reference_and_openapi_list_the_same_routes() {
    let doc = serde_json::to_value(document()).unwrap();
    let mut in_openapi = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "delete", "put", "patch"].contains(&method.as_str()) {
                in_openapi.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let mut in_docs = documented();
    // The document's own routes are in the reference but not inside the document.
    for served in ["/docs", "/openapi.json"] {
        assert!(
            in_docs.remove(&("GET".to_owned(), served.to_owned())),
            "{served} documented"
        );
    }
    let missing: Vec<_> = in_openapi.difference(&in_docs).collect();
    let extra: Vec<_> = in_docs.difference(&in_openapi).collect();
    assert!(
        missing.is_empty(),
        "in the OpenAPI document, not in docs/service-api.md: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in docs/service-api.md, not in the OpenAPI document: {extra:?}"
    );
}
