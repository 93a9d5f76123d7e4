//! Topic 2.4: the served document is complete: every `$ref` resolves to a schema in it.

use crate::support;

use common::db::testing::TestDatabase;
use serde_json::Value;

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_in_the_document_resolves() {
    let database = TestDatabase::sqlite();
    let server = support::start(&database, |_| {});
    let doc: Value = reqwest::get(format!("{}/openapi.json", server.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(
        found.len() > 10,
        "the document refers to only {} schemas",
        found.len()
    );
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .expect("a local schema reference");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{target} does not resolve"
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
