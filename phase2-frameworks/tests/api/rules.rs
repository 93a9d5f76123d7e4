//! Every rule is written twice, `#[validate(...)]` to enforce it and `#[schema(...)]`/`#[param(...)]`
//! to document it (topic 2.1 says why). This proves the two agree: for every field of every shape
//! the API reads, the values at and around each documented bound (and a fixed set of probes, so a
//! rule the document forgot is caught too) are accepted by the Rust side exactly when the schema
//! accepts them.

use phase2_frameworks::dependencies::PageParams;
use phase2_frameworks::fastapi_core::NewAuthorBook;
use phase2_frameworks::serializers::{
    AuthorFilter, AuthorPatch, AuthorWrite, BookFilter, BookPatch, BookWrite,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use utoipa::openapi::path::ParameterIn;
use utoipa::{IntoParams, PartialSchema};
use validator::Validate;

/// What the Rust side says: serde reads it and `validator` passes it.
fn rust_accepts<T: DeserializeOwned + Validate>(value: &Value) -> bool {
    let body = serde_json::to_vec(value).expect("a JSON value serializes");
    common::extract::decode_valid_json::<T>(&body).is_ok()
}

/// A character class of a `^[...]*$` pattern: whether it is negated, and its ranges.
fn class(pattern: &str) -> (bool, Vec<(char, char)>) {
    let inner = pattern
        .strip_prefix("^[")
        .and_then(|rest| rest.strip_suffix("]*$"))
        .unwrap_or_else(|| panic!("this test reads patterns of the form ^[...]*$, not {pattern}"));
    let (negated, inner) = match inner.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let mut chars = Vec::new();
    let mut rest = inner.chars().peekable();
    while let Some(c) = rest.next() {
        let c = if c == '\\' {
            match rest.next() {
                Some('u') => {
                    let hex: String = rest.by_ref().take(4).collect();
                    u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or_else(|| panic!("`\\u{hex}` in {pattern} is not a character"))
                }
                Some(other) => other,
                None => panic!("a pattern ends in a backslash: {pattern}"),
            }
        } else {
            c
        };
        chars.push(c);
    }
    // Pairs joined by an unescaped `-` are ranges; a `-` at either end is itself. (The patterns here
    // escape nothing but `\u`, so a literal `-` inside is a range marker.)
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            ranges.push((chars[i], chars[i + 2]));
            i += 3;
        } else {
            ranges.push((chars[i], chars[i]));
            i += 1;
        }
    }
    (negated, ranges)
}

fn matches_pattern(pattern: &str, text: &str) -> bool {
    let (negated, ranges) = class(pattern);
    text.chars().all(|c| {
        let inside = ranges.iter().any(|(low, high)| (*low..=*high).contains(&c));
        inside != negated
    })
}

fn has_type(schema: &Value, name: &str) -> bool {
    match &schema["type"] {
        Value::String(one) => one == name,
        Value::Array(many) => many.iter().any(|t| t == name),
        _ => false,
    }
}

/// What the schema says of one value (the keywords this API's documents use).
fn schema_accepts(schema: &Value, value: &Value) -> bool {
    let number = |key: &str| schema[key].as_f64();
    match value {
        Value::Null => has_type(schema, "null"),
        Value::Number(n) => {
            let n = n.as_f64().expect("a JSON number is an f64");
            let integer = n.fract() == 0.0;
            let int32 = schema["format"] != "int32"
                || (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&n);
            (has_type(schema, "number") || (has_type(schema, "integer") && integer))
                && int32
                && number("minimum").is_none_or(|min| n >= min)
                && number("maximum").is_none_or(|max| n <= max)
        }
        Value::String(text) => {
            let length = text.chars().count() as f64;
            has_type(schema, "string")
                && number("minLength").is_none_or(|min| length >= min)
                && number("maxLength").is_none_or(|max| length <= max)
                && schema["pattern"]
                    .as_str()
                    .is_none_or(|pattern| matches_pattern(pattern, text))
                && schema["enum"]
                    .as_array()
                    .is_none_or(|choices| choices.contains(value))
        }
        Value::Array(items) => {
            has_type(schema, "array")
                && number("maxItems").is_none_or(|max| items.len() as f64 <= max)
                && number("minItems").is_none_or(|min| items.len() as f64 >= min)
                && items
                    .iter()
                    .all(|item| schema_accepts(&schema["items"], item))
        }
        Value::Bool(_) => has_type(schema, "boolean"),
        Value::Object(_) => has_type(schema, "object"),
    }
}

/// Characters on either side of every class boundary that matters here.
const PROBE_CHARS: &[char] = &[
    '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{e}', '\u{1f}', ' ', '-', '0',
    '9', 'A', 'Z', '_', 'a', 'z', '\u{7e}', '\u{7f}', '\u{80}', '\u{9f}', '\u{a0}', 'é', '€',
    '\u{2028}', '😀',
];

/// Lengths and numbers around every bound this API has, and the ends of `i32`.
const PROBE_LENGTHS: &[usize] = &[
    0, 1, 2, 29, 30, 31, 99, 100, 101, 199, 200, 201, 1999, 2000, 2001,
];
const PROBE_NUMBERS: &[i64] = &[
    -2_147_483_649,
    -2_147_483_648,
    -1,
    0,
    1,
    2,
    99,
    100,
    101,
    1449,
    1450,
    2100,
    2101,
    2_147_483_647,
    2_147_483_648,
];

/// A value the schema accepts, to fill the fields not under test.
fn valid(schema: &Value) -> Value {
    if has_type(schema, "integer") {
        return json!(schema["minimum"].as_i64().unwrap_or(1));
    }
    if has_type(schema, "array") {
        return json!([]);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let length = schema["minLength"].as_u64().unwrap_or(1).max(1) as usize;
    json!("a".repeat(length))
}

/// The values to try for a field with `schema`; `floats` adds whole and fractional numbers written
/// as JSON floats (`1950.0`), which only a JSON body can hold.
fn candidates(schema: &Value, floats: bool) -> Vec<Value> {
    let mut out = Vec::new();
    if has_type(schema, "integer") {
        let mut numbers: Vec<i64> = PROBE_NUMBERS.to_vec();
        for key in ["minimum", "maximum"] {
            if let Some(bound) = schema[key].as_i64() {
                numbers.extend([bound - 1, bound, bound + 1]);
            }
        }
        out.extend(numbers.into_iter().map(|n| json!(n)));
        if floats {
            out.push(json!(1950.0));
            out.push(json!(1950.5));
        }
    }
    if has_type(schema, "string") {
        let mut lengths = PROBE_LENGTHS.to_vec();
        for key in ["minLength", "maxLength"] {
            if let Some(bound) = schema[key].as_u64() {
                let bound = bound as usize;
                lengths.extend([bound.saturating_sub(1), bound, bound + 1]);
            }
        }
        out.extend(lengths.into_iter().map(|n| json!("a".repeat(n))));
        let filler = valid(schema);
        let filler = filler.as_str().unwrap_or("a");
        for c in PROBE_CHARS {
            out.push(json!(c.to_string()));
            out.push(json!(format!("{filler}{c}")));
        }
    }
    if has_type(schema, "array") {
        let item = valid(&schema["items"]);
        for length in [0, 1, 9, 10, 11, 30] {
            out.push(Value::Array(vec![item.clone(); length]));
        }
        out.extend(
            candidates(&schema["items"], floats)
                .into_iter()
                .map(|one| json!([one])),
        );
    }
    if has_type(schema, "null") {
        out.push(Value::Null);
    }
    out
}

/// Checks every field of `T`, whose fields have the schemas in `properties`.
fn agree<T: DeserializeOwned + Validate>(
    name: &str,
    properties: &Map<String, Value>,
    required: &[String],
    floats: bool,
) {
    let base: Map<String, Value> = properties
        .iter()
        .filter(|(field, _)| required.contains(field))
        .map(|(field, schema)| (field.clone(), valid(schema)))
        .collect();
    assert!(
        rust_accepts::<T>(&Value::Object(base.clone())),
        "{name}: the base value {base:?} is refused"
    );
    let mut checked = 0;
    for (field, schema) in properties {
        for candidate in candidates(schema, floats) {
            let mut body = base.clone();
            body.insert(field.clone(), candidate.clone());
            let documented = schema_accepts(schema, &candidate);
            let enforced = rust_accepts::<T>(&Value::Object(body));
            let shown = candidate.to_string();
            let shown = if shown.len() > 80 {
                format!("{}... ({} chars)", &shown[..40], shown.len())
            } else {
                shown
            };
            assert_eq!(
                enforced,
                documented,
                "{name}.{field} = {shown}: the schema {} it, the server {} it",
                if documented { "accepts" } else { "refuses" },
                if enforced { "accepts" } else { "refuses" },
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{name}: only {checked} values checked");
}

/// A body shape: its schema's properties.
fn body<T: PartialSchema + DeserializeOwned + Validate>(name: &str) {
    let schema = serde_json::to_value(T::schema()).expect("a schema is JSON");
    let properties = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} has no properties"));
    let required: Vec<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|field| field.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        schema["additionalProperties"], false,
        "{name} refuses unknown fields: the schema must say so"
    );
    let mut with_unknown = Map::new();
    for field in &required {
        with_unknown.insert(field.clone(), valid(&properties[field]));
    }
    with_unknown.insert("unknown_field".into(), json!(1));
    assert!(
        !rust_accepts::<T>(&Value::Object(with_unknown)),
        "{name} takes an unknown field"
    );
    agree::<T>(name, properties, &required, true);
}

/// Query parameters: each parameter's schema.
fn params<T: IntoParams + DeserializeOwned + Validate>(name: &str) {
    let mut properties = Map::new();
    for parameter in T::into_params(|| Some(ParameterIn::Query)) {
        let parameter = serde_json::to_value(parameter).expect("a parameter is JSON");
        properties.insert(
            parameter["name"]
                .as_str()
                .expect("a named parameter")
                .to_owned(),
            parameter["schema"].clone(),
        );
    }
    // Query parameters are optional: absent is the base; given, they are present, never null.
    for schema in properties.values_mut() {
        if let Value::Array(types) = &mut schema["type"] {
            types.retain(|t| t != "null");
        }
    }
    agree::<T>(name, &properties, &[], false);
}

#[test]
fn body_rules_and_their_schemas_agree() {
    body::<AuthorWrite>("AuthorWrite");
    body::<AuthorPatch>("AuthorPatch");
    body::<BookWrite>("BookWrite");
    body::<BookPatch>("BookPatch");
    body::<NewAuthorBook>("NewAuthorBook");
}

#[test]
fn query_rules_and_their_schemas_agree() {
    params::<PageParams>("PageParams");
    params::<BookFilter>("BookFilter");
    params::<AuthorFilter>("AuthorFilter");
}

#[test]
fn the_pattern_reader_reads_what_json_schema_means() {
    let printable = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";
    assert!(matches_pattern(printable, "Le Guin\n\t"));
    assert!(!matches_pattern(printable, "nul\0"));
    assert!(!matches_pattern(printable, "\u{9f}"));
    assert!(matches_pattern("^[a-z0-9-]*$", "new-wave-2"));
    assert!(!matches_pattern("^[a-z0-9-]*$", "Sci Fi"));
}
