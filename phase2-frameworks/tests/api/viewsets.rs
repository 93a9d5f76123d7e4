//! Topic 2.6's list on every backend: repeated `?tag=` narrows it, and the document says how to send
//! a list; bad input gets an answer in the API's words.

use crate::support;

use common::db::testing::TestDatabase;
use serde_json::{Value, json};

async fn get(url: String) -> Value {
    reqwest::get(url)
        .await
        .expect("phase 2 answers")
        .json()
        .await
        .expect("a JSON body")
}

fn titles(page: &Value) -> Vec<&str> {
    page["results"]
        .as_array()
        .expect("a page of results")
        .iter()
        .filter_map(|book| book["title"].as_str())
        .collect()
}

#[tokio::test]
async fn a_repeated_tag_means_every_one_of_those_tags() {
    for database in TestDatabase::all() {
        let server = support::start_seeded(&database);
        let base = server.base_url();
        let sf = get(format!("{base}/api/books?tag=sf&ordering=year")).await;
        assert_eq!(
            titles(&sf),
            [
                "The Left Hand of Darkness",
                "The Dispossessed",
                "Kindred",
                "Parable of the Sower"
            ],
            "{:?}",
            database.database.backend
        );
        let both = get(format!("{base}/api/books?tag=sf&tag=classic&ordering=year")).await;
        assert_eq!(titles(&both), ["The Left Hand of Darkness", "Kindred"]);
        let none = get(format!("{base}/api/books?tag=sf&tag=humour")).await;
        assert_eq!(none["count"], 0);

        // The next page keeps every tag.
        let first = get(format!("{base}/api/books?tag=sf&tag=classic&page_size=1")).await;
        let next = first["next"].as_str().unwrap();
        assert_eq!(next.matches("tag=").count(), 2, "{next}");
        assert_eq!(titles(&get(next.to_owned()).await), ["Kindred"]);
    }
}

#[tokio::test]
async fn the_document_says_a_list_parameter_is_repeated() {
    let database = TestDatabase::sqlite();
    let server = support::start(&database, |_| {});
    let doc = get(format!("{}/openapi.json", server.base_url())).await;
    let parameters = doc["paths"]["/api/books"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let tag = parameters.iter().find(|p| p["name"] == "tag").unwrap();
    assert_eq!(tag["schema"]["type"], "array");
    assert_eq!(
        (tag["style"].as_str(), tag["explode"].as_bool()),
        (Some("form"), Some(true))
    );
    // Every integer of the document is an int32, as the server reads them.
    let page = parameters.iter().find(|p| p["name"] == "page").unwrap();
    assert_eq!(page["schema"]["format"], "int32");
    assert_eq!(page["schema"]["minimum"], 1);
    let ordering = parameters.iter().find(|p| p["name"] == "ordering").unwrap();
    assert_eq!(
        ordering["schema"]["enum"],
        json!(["id", "-id", "title", "-title", "year", "-year"])
    );
}

/// What no client should read: the names of Rust's types and parsers.
const RUST_WORDS: &[&str] = &[
    "i32",
    "u32",
    "u64",
    "struct ",
    "line 1 column",
    "invalid digit",
    "floating point",
    "expected ",
];

#[tokio::test]
async fn a_misspelt_parameter_is_answered_with_the_ones_the_route_takes() {
    let database = TestDatabase::sqlite();
    let server = support::start(&database, |_| {});
    let problem = get(format!("{}/api/books?pagesize=3", server.base_url())).await;
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["errors"][0]["field"], "pagesize");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail
            .starts_with("Query parameter `pagesize` is not a parameter of this route; it takes "),
        "{detail}"
    );
    for documented in ["`page`", "`page_size`", "`tag`"] {
        assert!(
            detail.contains(documented),
            "{documented} missing from: {detail}"
        );
    }
}

#[tokio::test]
async fn mistakes_are_answered_in_the_apis_words() {
    let database = TestDatabase::sqlite();
    let server = support::start_seeded(&database);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base_url());
    let body = |json: &str| {
        client
            .post(url("/api/books"))
            .bearer_auth(support::ADMIN)
            .header("content-type", "application/json")
            .body(json.to_owned())
    };
    let cases = [
        (
            client.get(url("/api/books/99999999999999999999")),
            400,
            "id",
        ),
        (client.get(url("/api/books/-1")), 404, ""),
        (client.get(url("/api/books?page=two")), 400, "page"),
        // Counts are unsigned in every phase: `-1` is not a page size (400, as phase 1 and 3
        // answer `?limit=-1`); `0` is one that breaks the rule (422).
        (client.get(url("/api/books?page_size=-1")), 400, "page_size"),
        (client.get(url("/api/books?page_size=0")), 422, "page_size"),
        // A misspelt parameter is named, not ignored.
        (client.get(url("/api/books?pagesize=3")), 400, "pagesize"),
        (client.get(url("/api/books?year_min=")), 400, "year_min"),
        (client.get(url("/api/books?year_min=1e3")), 400, "year_min"),
        (client.get(url("/api/books?tag=Sci%20Fi")), 422, "tag"),
        (
            client.get(url("/api/books?ordering=secret")),
            422,
            "ordering",
        ),
        (
            client.get(url("/api/authors-with-books?strategy=lazy")),
            400,
            "strategy",
        ),
        (
            body(r#"{"title":"T","year":99999999999999999999,"author_id":1}"#),
            422,
            "year",
        ),
        (
            body(r#"{"title":"T","year":1999.5,"author_id":1}"#),
            422,
            "year",
        ),
        (
            body(r#"{"title":"T","year":"1999","author_id":1}"#),
            422,
            "year",
        ),
        (body(r#"["x"]"#), 422, "body"),
        (body(r#""a string""#), 422, "body"),
        (body(r#"{"title":"T""#), 400, ""),
        (
            body(r#"{"title":"T","year":1999,"author_id":1,"isbn":"x"}"#),
            422,
            "isbn",
        ),
        (
            body(r#"{"title":"T","year":1999,"author_id":424242}"#),
            409,
            "author_id",
        ),
    ];
    for (request, status, field) in cases {
        let response = request.send().await.unwrap();
        let seen = response.status().as_u16();
        let problem: Value = response.json().await.unwrap();
        assert_eq!(seen, status, "{problem}");
        let mut words = vec![problem["detail"].as_str().unwrap_or_default().to_owned()];
        for error in problem["errors"].as_array().into_iter().flatten() {
            words.push(error["message"].as_str().unwrap().to_owned());
        }
        for rust in RUST_WORDS {
            assert!(
                words.iter().all(|text| !text.contains(rust)),
                "`{rust}` in {problem}"
            );
        }
        // The field is named as on the wire (a dotted path names it in its last part).
        if !field.is_empty() {
            let named = |error: &Value| {
                error["field"]
                    .as_str()
                    .is_some_and(|path| path.rsplit('.').next() == Some(field))
            };
            assert!(
                problem["errors"]
                    .as_array()
                    .is_some_and(|errors| errors.iter().any(named)),
                "{field} is not named in {problem}"
            );
        }
    }
}
