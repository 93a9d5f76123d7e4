//! Checks that every crate keeps, whatever it teaches: the conventions `common` gives them all.
//!
//! Phase 1 teaches HTTP methods (1.1), negotiation (1.3) and types at the edge (1.6); every later
//! phase must practise them on all of its routes, not only on the ones that teach them. So these
//! checks are graded for every crate, under those phase-1 topic IDs, and they read the crate's
//! routes from its own `/openapi.json` rather than from a list kept here: a route added to a
//! crate is checked the day it is documented, and a crate still to come inherits the checks.
//!
//! - 1.1: on every documented path, `HEAD` answers as `GET` does, without a body; `OPTIONS`
//!   answers with an `Allow` that lists the path's methods; a method the path lacks is a 405
//!   problem with `Allow` (RFC 9110 §9.3.2, §9.3.7, §15.5.6).
//! - 1.3: `GET /` is the crate's index, HTML for a browser and JSON on request; `/docs/` is served.
//! - 1.6: a corpus of bad requests, made from the document (wrong path and query types, bodies of
//!   the wrong shape or with wrong types), is answered in the API's words: no problem's `detail`
//!   or `errors[].message` carries a Rust type name or a parser's wording.

use std::collections::BTreeSet;

use anyhow::{Context, bail, ensure};
use common::Problem;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::check::{Check, CheckFuture, RateLimited, Target, expect_json, expect_status, header};

/// The topics these checks are graded under, in every crate (all of them phase 1's).
pub const TOPICS: [&str; 3] = ["1.1", "1.3", "1.6"];

/// The checks every crate is graded on. `methods` and `errors` are the crate's 1.1 and 1.6 checks:
/// a crate whose routes need a token passes [`methods_on_every_route`] and
/// [`errors_in_the_apis_words`] one (without it, HEAD would be compared with GET only at the 401,
/// and every request of the corpus would stop there); others pass [`anonymous_methods`] and
/// [`anonymous_errors`].
pub fn checks(
    methods: for<'a> fn(&'a Target) -> CheckFuture<'a>,
    errors: for<'a> fn(&'a Target) -> CheckFuture<'a>,
) -> Vec<Check> {
    vec![
        Check {
            topic: "1.1",
            name: "every documented route: HEAD as GET, OPTIONS with Allow, 405 for the rest",
            body: methods,
        },
        Check {
            topic: "1.3",
            name: "GET / is an index: HTML, or JSON on request; /docs/ is served",
            body: |target| Box::pin(index_and_docs(target)),
        },
        Check {
            topic: "1.6",
            name: "bad requests are answered in the API's words, not Rust's",
            body: errors,
        },
    ]
}

/// The conventions' checks for a crate whose routes need no token.
pub fn anonymous() -> Vec<Check> {
    checks(
        |target| Box::pin(anonymous_methods(target)),
        |target| Box::pin(anonymous_errors(target)),
    )
}

/// The 1.1 check for a crate whose routes need no token.
pub async fn anonymous_methods(target: &Target) -> anyhow::Result<()> {
    methods_on_every_route(target, None).await
}

/// The 1.6 check for a crate whose routes need no token.
pub async fn anonymous_errors(target: &Target) -> anyhow::Result<()> {
    errors_in_the_apis_words(target, None).await
}

/// The conventions' checks as phase 4's demo customer `ada`, for the projects, whose routes take
/// phase 4's tokens.
pub fn as_ada() -> Vec<Check> {
    checks(
        |target| Box::pin(methods_as_ada(target)),
        |target| Box::pin(errors_as_ada(target)),
    )
}

const ADA: (&str, &str) = ("ada", "correct-horse-ada");

async fn methods_as_ada(target: &Target) -> anyhow::Result<()> {
    let ada = crate::check::login(target, ADA).await?;
    methods_on_every_route(target, Some(&ada)).await
}

async fn errors_as_ada(target: &Target) -> anyhow::Result<()> {
    let ada = crate::check::login(target, ADA).await?;
    errors_in_the_apis_words(target, Some(&ada)).await
}

/// A request to the target, with the crate's bearer token if it has one.
fn send_as(
    target: &Target,
    token: Option<&str>,
    method: Method,
    url: &str,
) -> anyhow::Result<reqwest::RequestBuilder> {
    let request = target.request(method, url)?;
    Ok(match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    })
}

// ---- the document ----

/// One documented operation.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    /// As documented: `/books/{id}`.
    path: String,
    /// Its parameters, the path item's included.
    parameters: Vec<Value>,
    /// The `requestBody` object, if any.
    body: Option<Value>,
    /// The statuses it documents: `"200"`, `"4XX"`, ...
    statuses: Vec<String>,
}

impl Operation {
    /// Whether the operation documents that it may answer `status` (a route that fails on
    /// purpose, such as phase 1's `/status/crash`).
    fn documents(&self, status: StatusCode) -> bool {
        let code = status.as_str();
        self.statuses
            .iter()
            .any(|documented| documented == code || documented == &format!("{}XX", &code[..1]))
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "options", "head", "trace",
];

/// The crate's OpenAPI document, and its operations grouped by path.
async fn document(target: &Target) -> anyhow::Result<(Value, Vec<(String, Vec<Operation>)>)> {
    let doc = expect_json(
        target.get("/openapi.json")?.send().await?,
        200,
        "GET /openapi.json",
    )
    .await?;
    let paths = doc["paths"]
        .as_object()
        .filter(|paths| !paths.is_empty())
        .context("the OpenAPI document lists no paths")?;
    let mut grouped = Vec::new();
    for (path, item) in paths {
        let shared = item["parameters"].as_array().cloned().unwrap_or_default();
        let mut operations = Vec::new();
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let mut parameters = shared.clone();
            parameters.extend(
                operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            let parameters = parameters
                .into_iter()
                .map(|parameter| resolve(&doc, &parameter).clone())
                .collect();
            operations.push(Operation {
                method: Method::from_bytes(method.to_ascii_uppercase().as_bytes())?,
                path: path.clone(),
                parameters,
                body: operation
                    .get("requestBody")
                    .map(|body| resolve(&doc, body).clone()),
                statuses: operation["responses"]
                    .as_object()
                    .map(|responses| responses.keys().cloned().collect())
                    .unwrap_or_default(),
            });
        }
        if !operations.is_empty() {
            grouped.push((path.clone(), operations));
        }
    }
    ensure!(
        !grouped.is_empty(),
        "the OpenAPI document has no operations"
    );
    Ok((doc, grouped))
}

/// `value`, or what its `$ref` points to inside `doc`.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    let mut value = value;
    // A reference may lead to another; a few steps are all a real document needs.
    for _ in 0..8 {
        match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => match doc.pointer(pointer) {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

/// What a schema holds, reduced to what a wrong value is chosen by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Number,
    Boolean,
    String,
    Array,
    Object,
    Unknown,
}

/// The kind of `schema`: its `type` (the first that is not `null`), through `$ref`, `oneOf`,
/// `anyOf` and `allOf`.
fn kind(doc: &Value, schema: &Value) -> Kind {
    let schema = resolve(doc, schema);
    let named = match &schema["type"] {
        Value::String(name) => Some(name.as_str()),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .find(|name| *name != "null"),
        _ => None,
    };
    match named {
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("string") => Kind::String,
        Some("array") => Kind::Array,
        Some("object") => Kind::Object,
        _ => ["oneOf", "anyOf", "allOf"]
            .iter()
            .flat_map(|key| schema[*key].as_array().into_iter().flatten())
            .map(|part| kind(doc, part))
            .find(|kind| *kind != Kind::Unknown)
            .unwrap_or(if schema["properties"].is_object() {
                Kind::Object
            } else {
                Kind::Unknown
            }),
    }
}

/// The properties of an object schema, with their kinds (through `$ref` and `allOf`).
fn properties(doc: &Value, schema: &Value) -> Vec<(String, Kind)> {
    let schema = resolve(doc, schema);
    let mut found: Vec<(String, Kind)> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, property)| (name.clone(), kind(doc, property)))
        .collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        found.extend(properties(doc, part));
    }
    found
}

/// A value for path parameter `parameter` that the route takes: an example, the first of an
/// enum, or `1`.
fn plausible(parameter: &Value) -> String {
    let schema = &parameter["schema"];
    let chosen = [
        &parameter["example"],
        &schema["example"],
        &schema["enum"][0],
    ]
    .into_iter()
    .find(|value| !value.is_null());
    match chosen {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => "1".to_owned(),
    }
}

/// `operation`'s path with every parameter filled in: `name` (when given) with `value`, the
/// others with a plausible value.
fn concrete(operation: &Operation, replaced: Option<(&str, &str)>) -> String {
    let mut path = operation.path.clone();
    for parameter in &operation.parameters {
        if parameter["in"] != "path" {
            continue;
        }
        let Some(name) = parameter["name"].as_str() else {
            continue;
        };
        let value = match replaced {
            Some((wanted, value)) if wanted == name => value.to_owned(),
            _ => plausible(parameter),
        };
        path = path.replace(&format!("{{{name}}}"), &value);
    }
    path
}

/// The `Allow` header's methods, upper case.
fn allowed(allow: &str) -> BTreeSet<String> {
    allow
        .split(',')
        .map(|method| method.trim().to_ascii_uppercase())
        .filter(|method| !method.is_empty())
        .collect()
}

/// Fails with every complaint, or with [`RateLimited`] when nothing could be tried.
fn verdict(failures: &[String], tried: usize, limited: usize, what: &str) -> anyhow::Result<()> {
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(6).map(String::as_str).collect();
        let more = failures.len().saturating_sub(shown.len());
        let mut text = shown.join("; ");
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        bail!("{text}");
    }
    if tried == 0 && limited > 0 {
        return Err(RateLimited { what: what.into() }.into());
    }
    Ok(())
}

// ---- 1.1: methods on every route ----

/// HEAD like GET, OPTIONS with `Allow`, and 405 with `Allow` for a method each path lacks, on every
/// path of the crate's document, with `token` as the bearer token if given.
pub async fn methods_on_every_route(target: &Target, token: Option<&str>) -> anyhow::Result<()> {
    let (_, paths) = document(target).await?;
    let mut failures = Vec::new();
    let (mut tried, mut limited) = (0, 0);
    for (path, operations) in &paths {
        let methods: BTreeSet<String> = operations
            .iter()
            .map(|operation| operation.method.as_str().to_owned())
            .collect();
        // Every operation of a path shares its parameters' names; any of them fills the path.
        let url = concrete(&operations[0], None);

        if methods.contains("GET") && !methods.contains("HEAD") {
            match head_like_get(target, token, &url).await? {
                Some(Ok(())) => tried += 1,
                Some(Err(complaint)) => failures.push(format!("{path}: {complaint}")),
                None => limited += 1,
            }
        }

        let options = send_as(target, token, Method::OPTIONS, &url)?
            .send()
            .await?;
        if options.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        } else if !options.status().is_success() {
            failures.push(format!("OPTIONS {url} answered {}", options.status()));
        } else {
            tried += 1;
            match options.headers().get("allow").map(|v| v.to_str()) {
                Some(Ok(allow)) => {
                    let mut expected = methods.clone();
                    if methods.contains("GET") {
                        expected.insert("HEAD".to_owned());
                    }
                    expected.insert("OPTIONS".to_owned());
                    let listed = allowed(allow);
                    let missing: Vec<&String> = expected.difference(&listed).collect();
                    if !missing.is_empty() {
                        failures.push(format!("OPTIONS {url}: Allow `{allow}` lacks {missing:?}"));
                    }
                }
                _ => failures.push(format!("OPTIONS {url}: no Allow header")),
            }
        }

        // GET first: `GET /auth/token` is what a curious learner tries on a POST-only path.
        let Some(lacking) = ["GET", "PATCH", "PUT", "DELETE", "POST", "TRACE"]
            .into_iter()
            .find(|method| !methods.contains(*method))
        else {
            continue;
        };
        let method = Method::from_bytes(lacking.as_bytes())?;
        let refused = send_as(target, token, method, &url)?.send().await?;
        if refused.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            continue;
        }
        tried += 1;
        if let Err(complaint) = method_not_allowed(refused, lacking, &methods).await {
            failures.push(format!("{lacking} {url}: {complaint:#}"));
        }
    }
    verdict(
        &failures,
        tried,
        limited,
        "HEAD, OPTIONS and 405 on every route",
    )
}

/// `HEAD url` against `GET url`: the same status and `Content-Type`, no body, and the length GET
/// sends. `None` when either was a 429, and so says nothing.
async fn head_like_get(
    target: &Target,
    token: Option<&str>,
    url: &str,
) -> anyhow::Result<Option<Result<(), String>>> {
    let get = send_as(target, token, Method::GET, url)?.send().await?;
    let head = send_as(target, token, Method::HEAD, url)?.send().await?;
    if get.status() == StatusCode::TOO_MANY_REQUESTS
        || head.status() == StatusCode::TOO_MANY_REQUESTS
    {
        return Ok(None);
    }
    let content_type = |response: &Response| {
        response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    if head.status() != get.status() {
        return Ok(Some(Err(format!(
            "HEAD answered {}, GET {}",
            head.status(),
            get.status()
        ))));
    }
    if content_type(&head) != content_type(&get) {
        return Ok(Some(Err(format!(
            "HEAD says Content-Type {:?}, GET {:?}",
            content_type(&head),
            content_type(&get)
        ))));
    }
    let announced: Option<usize> = head
        .headers()
        .get("content-length")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let sent = get.bytes().await?.len();
    if !head.bytes().await?.is_empty() {
        return Ok(Some(Err("HEAD sent a body".to_owned())));
    }
    if let Some(announced) = announced
        && announced != sent
    {
        // A body that changes from one request to the next (a counter, a time) may change
        // length too: only a length GET keeps is one HEAD must announce.
        let again = send_as(target, token, Method::GET, url)?
            .send()
            .await?
            .bytes()
            .await?
            .len();
        if again == sent {
            return Ok(Some(Err(format!(
                "HEAD says Content-Length {announced}, GET sends {sent} bytes"
            ))));
        }
    }
    Ok(Some(Ok(())))
}

/// A 405 problem with a `detail` and an `Allow` that lists `methods` and not `tried`.
async fn method_not_allowed(
    response: Response,
    tried: &str,
    methods: &BTreeSet<String>,
) -> anyhow::Result<()> {
    ensure!(
        response.status() == StatusCode::METHOD_NOT_ALLOWED,
        "expected 405, got {}",
        response.status()
    );
    let allow = header(&response, "allow", "the 405")?.to_owned();
    let listed = allowed(&allow);
    ensure!(
        methods.is_subset(&listed) && !listed.contains(tried),
        "Allow `{allow}` should list {methods:?} and not {tried}"
    );
    let problem = problem_of(response)
        .await?
        .context("the 405 is not an application/problem+json document")?;
    ensure!(
        problem.status == 405 && problem.detail.as_deref().is_some_and(|d| !d.is_empty()),
        "the 405 problem should say status 405 and have a detail: {problem:?}"
    );
    Ok(())
}

/// The problem document `response` carries, if it is one.
async fn problem_of(response: Response) -> anyhow::Result<Option<Problem>> {
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(common::problem::CONTENT_TYPE));
    let text = response.text().await?;
    if !is_problem {
        return Ok(None);
    }
    Ok(serde_json::from_str(&text).ok())
}

// ---- 1.3: the front door ----

async fn index_and_docs(target: &Target) -> anyhow::Result<()> {
    let page = target
        .get("/")?
        .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await?;
    expect_status(&page, 200, "GET / as a browser")?;
    let content_type = header(&page, CONTENT_TYPE.as_str(), "GET / as a browser")?.to_owned();
    ensure!(
        content_type.starts_with("text/html"),
        "GET / as a browser: expected text/html, got {content_type}"
    );
    let vary = header(&page, "vary", "GET /")?.to_ascii_lowercase();
    ensure!(
        vary.contains("accept"),
        "GET / answers two types at one URL, so Vary must name Accept: {vary}"
    );
    let html = page.text().await?;
    ensure!(
        html.to_ascii_lowercase().contains("<html") && html.contains("/docs/"),
        "GET / is not an HTML page linking /docs/: {html:.120}"
    );

    let index = target
        .get("/")?
        .header(ACCEPT, "application/json")
        .send()
        .await?;
    expect_status(&index, 200, "GET / with Accept: application/json")?;
    let content_type = header(&index, CONTENT_TYPE.as_str(), "GET / as JSON")?.to_owned();
    ensure!(
        content_type.starts_with("application/json"),
        "GET / with Accept: application/json answered {content_type}"
    );
    let index = expect_json(index, 200, "GET / as JSON").await?;
    let topics = index["topics"]
        .as_array()
        .filter(|topics| !topics.is_empty())
        .with_context(|| format!("the JSON index lists no topics: {index}"))?;
    ensure!(
        topics
            .iter()
            .all(|topic| topic["id"].is_string() && topic["title"].is_string()),
        "every topic of the index has an id and a title: {index}"
    );

    let docs = target.get("/docs/")?.send().await?;
    expect_status(&docs, 200, "GET /docs/")?;
    let content_type = header(&docs, CONTENT_TYPE.as_str(), "GET /docs/")?.to_owned();
    ensure!(
        content_type.starts_with("text/html"),
        "GET /docs/ is not a page: {content_type}"
    );
    Ok(())
}

// ---- 1.6: errors in the API's words ----

/// Words that belong to Rust or to a parser, not to an API: type names (matched as whole words)
/// and phrases of serde, serde_json, actix and `FromStr`.
const RUST_TYPES: &[&str] = &[
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "String",
    "ParseIntError",
    "ParseFloatError",
];
const PARSER_WORDS: &[&str] = &[
    "struct ",
    "enum ",
    "variant",
    "Option<",
    "Vec<",
    "line 1 column",
    " at line ",
    "invalid digit",
    "invalid type:",
    "invalid value:",
    "expected a sequence",
    "unsupported value",
    "floating point",
    "can not parse",
    "cannot parse",
    "EOF while parsing",
    "trailing characters",
    "number too large",
    "too large to fit",
    "serde",
];

/// The Rust word `text` carries, if any.
pub fn rust_wording(text: &str) -> Option<&'static str> {
    if let Some(phrase) = PARSER_WORDS.iter().find(|phrase| text.contains(**phrase)) {
        return Some(phrase);
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    RUST_TYPES.iter().copied().find(|name| {
        text.match_indices(name).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            !before.is_some_and(word) && !after.is_some_and(word)
        })
    })
}

/// One request of the corpus.
#[derive(Debug)]
struct Probe {
    method: Method,
    /// Path and query.
    url: String,
    body: Option<(&'static str, String)>,
    /// Whether a 2xx answer is wrong: the request is malformed for any server of the contract.
    must_refuse: bool,
}

/// Values that are not what a number parameter takes, or overflow any integer type.
const BAD_NUMBERS: [(&str, bool); 4] = [
    ("abc", true),
    ("1.5", true),
    ("99999999999999999999", true),
    // A number, but negative: refused or not, it must be answered in words.
    ("-1", false),
];

/// The corpus for `operation`.
fn probes(doc: &Value, operation: &Operation) -> Vec<Probe> {
    let mut probes = Vec::new();
    let plain = concrete(operation, None);
    let probe = |url: String, body: Option<(&'static str, String)>, must_refuse: bool| Probe {
        method: operation.method.clone(),
        url,
        body,
        must_refuse,
    };
    for parameter in &operation.parameters {
        let Some(name) = parameter["name"].as_str() else {
            continue;
        };
        let schema = &parameter["schema"];
        let parameter_kind = kind(doc, schema);
        let item_kind = kind(doc, &resolve(doc, schema)["items"]);
        let values: Vec<(&str, bool)> = match (parameter_kind, item_kind) {
            (Kind::Integer | Kind::Number, _) | (Kind::Array, Kind::Integer | Kind::Number) => {
                BAD_NUMBERS.to_vec()
            }
            (Kind::Boolean, _) => vec![("maybe", true)],
            (Kind::String, _) if resolve(doc, schema)["enum"].is_array() => {
                vec![("not-one-of-them", true)]
            }
            _ => Vec::new(),
        };
        match parameter["in"].as_str() {
            Some("path") => {
                for (value, must_refuse) in values {
                    probes.push(probe(
                        concrete(operation, Some((name, value))),
                        None,
                        must_refuse,
                    ));
                }
            }
            Some("query") => {
                for (value, must_refuse) in values {
                    probes.push(probe(format!("{plain}?{name}={value}"), None, must_refuse));
                }
                // A single parameter given twice.
                if parameter_kind != Kind::Array {
                    let value = plausible(parameter);
                    probes.push(probe(
                        format!("{plain}?{name}={value}&{name}={value}"),
                        None,
                        false,
                    ));
                }
            }
            _ => {}
        }
    }
    if operation.method == Method::GET {
        probes.push(probe(format!("{plain}?grader_unknown=1"), None, false));
    }
    let content = &operation
        .body
        .as_ref()
        .map_or(Value::Null, |body| body["content"].clone());
    if let Some(media) = content.get("application/json") {
        let schema = &media["schema"];
        let json = |text: String| Some(("application/json", text));
        // Where the body is an object, anything else is malformed; a body cut short always is.
        let object = kind(doc, schema) == Kind::Object;
        for shape in [r#""a string""#, "[1, 2]", "42"] {
            probes.push(probe(plain.clone(), json(shape.to_owned()), object));
        }
        probes.push(probe(plain.clone(), json(r#"{"title": "#.to_owned()), true));
        let fields = properties(doc, schema);
        let wrong: serde_json::Map<String, Value> = fields
            .iter()
            .filter_map(|(name, kind)| {
                let value = match kind {
                    Kind::Integer | Kind::Number => json!("abc"),
                    Kind::String => json!(12345),
                    Kind::Boolean => json!("yes"),
                    Kind::Array => json!("x"),
                    Kind::Object => json!(1),
                    Kind::Unknown => return None,
                };
                Some((name.clone(), value))
            })
            .collect();
        if !wrong.is_empty() {
            probes.push(probe(
                plain.clone(),
                json(Value::Object(wrong).to_string()),
                true,
            ));
        }
        let integers: Vec<&String> = fields
            .iter()
            .filter(|(_, kind)| *kind == Kind::Integer)
            .map(|(name, _)| name)
            .collect();
        if !integers.is_empty() {
            for number in ["99999999999999999999", "1.5", "1e400"] {
                let body = integers
                    .iter()
                    .map(|name| format!("{}: {number}", Value::String((*name).clone())))
                    .collect::<Vec<_>>()
                    .join(", ");
                probes.push(probe(plain.clone(), json(format!("{{{body}}}")), true));
            }
        }
    }
    if let Some(form) = content.get("application/x-www-form-urlencoded") {
        let pairs: Vec<String> = properties(doc, &form["schema"])
            .iter()
            .filter_map(|(name, kind)| match kind {
                Kind::Integer | Kind::Number => Some(format!("{name}=abc")),
                Kind::Boolean => Some(format!("{name}=maybe")),
                _ => None,
            })
            .collect();
        if !pairs.is_empty() {
            probes.push(probe(
                plain,
                Some(("application/x-www-form-urlencoded", pairs.join("&"))),
                true,
            ));
        }
    }
    // A request that a server may accept (a negative number, a repeated parameter) is sent only
    // where accepting it changes nothing: `POST /counters/x?by=-1` would count down a learner's
    // counter.
    if !matches!(operation.method, Method::GET | Method::HEAD) {
        probes.retain(|probe| probe.must_refuse);
    }
    probes
}

/// Sends the corpus of bad requests made from the crate's document (with `token` as a bearer
/// token, when the routes need one) and fails on any answer in Rust's words, any 5xx, any error
/// that is not a problem document, and any malformed request that is accepted.
pub async fn errors_in_the_apis_words(target: &Target, token: Option<&str>) -> anyhow::Result<()> {
    let (doc, paths) = document(target).await?;
    let mut failures = Vec::new();
    let (mut problems, mut limited) = (0, 0);
    for operation in paths.iter().flat_map(|(_, operations)| operations) {
        for probe in probes(&doc, operation) {
            let what = format!(
                "{} {}{}",
                probe.method,
                probe.url,
                probe
                    .body
                    .as_ref()
                    .map_or_else(String::new, |(_, body)| format!(" with {body:.60}"))
            );
            let mut request = target.request(probe.method.clone(), &probe.url)?;
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some((content_type, body)) = probe.body {
                request = request.header(CONTENT_TYPE, content_type).body(body);
            }
            let response = request.send().await?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited += 1;
            }
            if status.is_success() || status.is_redirection() {
                if probe.must_refuse {
                    failures.push(format!("{what} was accepted ({status})"));
                }
                continue;
            }
            if status.is_server_error() && !operation.documents(status) {
                failures.push(format!("{what} answered {status}"));
                continue;
            }
            let Some(problem) = problem_of(response).await? else {
                failures.push(format!("{what}: the {status} is not a problem document"));
                continue;
            };
            if status != StatusCode::TOO_MANY_REQUESTS {
                problems += 1;
            }
            let texts = problem
                .detail
                .iter()
                .chain(problem.errors.iter().map(|error| &error.message));
            for text in texts {
                if let Some(word) = rust_wording(text) {
                    failures.push(format!("{what}: `{word}` in \"{text}\""));
                }
            }
        }
    }
    if problems == 0 && limited == 0 && failures.is_empty() {
        bail!("no request of the corpus was refused: it grades nothing");
    }
    verdict(&failures, problems, limited, "the corpus of bad requests")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_words_are_found_as_words() {
        assert_eq!(
            rust_wording("can not parse \"-1\" to a u64"),
            Some("can not parse")
        );
        assert_eq!(
            rust_wording("floating point 1e+20, expected i32"),
            Some("floating point")
        );
        assert_eq!(rust_wording("expected i32"), Some("i32"));
        assert_eq!(rust_wording("expected struct NewBook"), Some("struct "));
        assert_eq!(rust_wording("`id` must be a positive whole number"), None);
        // Inside a word, a type name is not one.
        assert_eq!(rust_wording("the menu8 item"), None);
        assert_eq!(rust_wording("a string of at most 200 characters"), None);
    }

    #[test]
    fn the_corpus_comes_from_the_document() {
        let doc = json!({
            "paths": {"/books/{id}": {"put": {
                "parameters": [{"name": "id", "in": "path", "schema": {"type": "integer"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Book"}}}}
            }}},
            "components": {"schemas": {"Book": {"type": "object", "properties": {
                "title": {"type": "string"}, "year": {"type": ["integer", "null"]}
            }}}}
        });
        let operation = Operation {
            method: Method::PUT,
            path: "/books/{id}".into(),
            parameters: vec![doc["paths"]["/books/{id}"]["put"]["parameters"][0].clone()],
            body: Some(doc["paths"]["/books/{id}"]["put"]["requestBody"].clone()),
            statuses: vec!["200".into(), "5XX".into()],
        };
        assert!(operation.documents(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!operation.documents(StatusCode::NOT_FOUND));
        let probes = probes(&doc, &operation);
        let urls: Vec<&str> = probes.iter().map(|p| p.url.as_str()).collect();
        assert!(urls.contains(&"/books/abc"), "{urls:?}");
        assert!(urls.contains(&"/books/99999999999999999999"), "{urls:?}");
        // A PUT with `-1` might be accepted, and change something: not sent.
        assert!(!urls.contains(&"/books/-1"), "{urls:?}");
        let bodies: Vec<&str> = probes
            .iter()
            .filter_map(|p| p.body.as_ref().map(|(_, body)| body.as_str()))
            .collect();
        assert!(
            bodies.contains(&r#"{"title":12345,"year":"abc"}"#),
            "{bodies:?}"
        );
        assert!(
            bodies.contains(&r#"{"year": 99999999999999999999}"#),
            "{bodies:?}"
        );
    }
}
