//! 1.4 Bodies: one resource, three encodings.
//!
//! **Roadmap:** "Body: JSON vs Form-Data vs URLEncoded."
//!
//! **Python:** FastAPI declares `book: Book` for JSON, `title: str = Form()` for forms and
//! `cover: UploadFile = File()` for multipart, one handler each; Flask reads `request.json`,
//! `request.form` and `request.files`.
//!
//! **Rust:** `POST /books` has one route per encoding, chosen by a `Content-Type` guard:
//! - `application/json` → [`common::extract::ValidJson`]: nested structures, types, the full
//!   [`NewBook`];
//! - `application/x-www-form-urlencoded` → [`common::extract::Form`]: flat `key=value` pairs, what an
//!   HTML `<form>` sends; a list is a repeated key (`tags=sf&tags=classic`);
//! - `multipart/form-data` → `actix_multipart`'s `MultipartForm` derive: text parts and a file part
//!   (the cover), read with a size limit per part and per form;
//! - anything else → 415 Unsupported Media Type, naming the three.
//!
//! Each encoding becomes the same [`NewBook`] and is checked by the same rules, and a mistake reads
//! the same in each: `year=soon` is "must be a whole number, not `soon`" in a form and in
//! multipart, and every failing field is listed in one 422, as for JSON. Bodies over the limit are
//! refused with a 413 that states it (64 KiB for JSON and forms, 1 MiB for a cover), malformed ones
//! with 400.
//!
//! An upload's type is read from its bytes, not from the `Content-Type` its part claims: a client
//! can call anything `image/png`. `infer` looks at the first bytes (a PNG starts `\x89PNG`, a JPEG
//! `FF D8 FF`); a cover that is not a PNG, JPEG, GIF or WebP is a 415, and one that is is served
//! back with the type its bytes have. An HTML page or an SVG (XML that may carry `<script>`) named
//! `cover.png` never comes back from our origin as a page.
//!
//! **Why:** JSON for programs, forms for browsers, multipart for files: each has a reason to exist,
//! and the route table says which one a handler gets, so no handler sniffs bodies by hand.

use actix_multipart::MultipartError;
use actix_multipart::form::bytes::Bytes as FilePart;
use actix_multipart::form::text::{Text, TextError};
use actix_multipart::form::{MultipartForm, MultipartFormConfig};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, guard, web};
use common::extract::{Form, Path, ValidJson, explain, size};
use common::{ApiError, FieldError};
use serde::Deserialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use crate::serialization::Book;
use crate::store::{Cover, Library};
use crate::typed_params::BookId;
use crate::validation::{NewBook, tag_list};

/// The largest JSON or form body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The largest cover accepted, in bytes.
pub const COVER_LIMIT: usize = 1024 * 1024;
/// The largest multipart form accepted, in bytes: a cover and room for the text parts.
pub const MULTIPART_LIMIT: usize = COVER_LIMIT + 16 * 1024;

/// The image types a cover may have, as `infer` names them.
const COVER_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// How a multipart form is read: its limits, and its errors as problems.
pub fn multipart_config() -> MultipartFormConfig {
    MultipartFormConfig::default()
        .total_limit(MULTIPART_LIMIT)
        .memory_limit(MULTIPART_LIMIT)
        .error_handler(multipart_error)
}

/// 201 Created, with the new book's URL in `Location` and the book in the body.
pub fn created(book: &Book) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/books/{}", book.id)))
        .json(book)
}

/// A guard on the media type of the body, ignoring parameters such as `charset`.
fn content_type(accepts: fn(&mime::Mime) -> bool) -> impl guard::Guard {
    guard::fn_guard(move |ctx| ctx.header::<ContentType>().is_some_and(|ct| accepts(&ct.0)))
}

/// The POST routes of `/books`, one per encoding, then the 415 for everything else.
pub fn create_routes() -> [actix_web::Route; 4] {
    [
        web::post()
            .guard(content_type(common::extract::is_json))
            .to(create_from_json),
        web::post()
            .guard(content_type(|m| {
                m.essence_str() == "application/x-www-form-urlencoded"
            }))
            .to(create_from_form),
        web::post()
            .guard(content_type(|m| m.essence_str() == "multipart/form-data"))
            .to(create_from_multipart),
        web::post().to(unsupported_media_type),
    ]
}

/// `POST /books` as JSON. The document shows one operation with three encodings; each is served
/// by its own route (see [`create_routes`]).
#[utoipa::path(
    post,
    path = "/books",
    operation_id = "create_book",
    summary = "Add a book, as JSON, a form or multipart (with a cover)",
    description = "Not idempotent: each POST creates a new book, under a new id.",
    tag = "1.4 bodies",
    request_body(
        description = "A book, in one of three encodings. Forms and multipart are flat: no \
            `format` nor `publisher`; a list is a repeated field (`tags=sf&tags=classic`).",
        content(
            (NewBook = "application/json"),
            (BookForm = "application/x-www-form-urlencoded"),
            (BookUpload = "multipart/form-data"),
        ),
    ),
    responses(
        (status = 201, description = "Created", body = Book,
            headers(("Location" = String, description = "Where the book lives: `/books/{id}`"))),
        (status = 409, description = "Another book has this ISBN, or no ids are left"),
        (status = 413, description = "The body is over 64 KiB (JSON, form), or the cover over 1 MiB"),
        (status = 415, description = "The body is not JSON, a form or multipart, or the cover is \
            not a PNG, JPEG, GIF or WebP image (judged by its bytes)"),
        (status = 422, description = "Every missing, mistyped, unknown or invalid field, at once"),
    ),
)]
pub(crate) async fn create_from_json(
    library: web::Data<Library>,
    ValidJson(new): ValidJson<NewBook>,
) -> Result<HttpResponse, ApiError> {
    Ok(created(&library.create(new, None)?))
}

/// A book as an HTML form sends it: flat fields, a list as a repeated key (`tags=sf&tags=classic`).
/// Every field is read as text, so that each mistake is found and worded as in [`BookUpload`];
/// `common::extract::Form` refuses a field the struct does not have, naming it.
#[derive(Debug, Deserialize)]
pub(crate) struct BookForm {
    title: Option<String>,
    author: Option<String>,
    year: Option<String>,
    isbn13: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// A form's schema is the multipart one without the file: the same fields, with the same rules.
impl PartialSchema for BookForm {
    fn schema() -> RefOr<Schema> {
        let mut schema = BookUpload::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.properties.remove("cover");
            object.description = Some(
                "A book as an HTML form sends it: flat fields, a list as a repeated key \
                 (`tags=sf&tags=classic`)."
                    .to_owned(),
            );
        }
        schema
    }
}

impl ToSchema for BookForm {}

async fn create_from_form(
    library: web::Data<Library>,
    Form(form): Form<BookForm>,
) -> Result<HttpResponse, ApiError> {
    let new = FlatBook {
        title: form.title,
        author: form.author,
        year: form.year,
        isbn13: form.isbn13,
        tags: form.tags,
    }
    .into_new_book()?;
    Ok(created(&library.create(new, None)?))
}

/// A book with a cover file, as `curl -F title=... -F cover=@cover.png` sends it; a list is a
/// repeated part.
// Every part is optional here so that all the missing ones are named at once, not the first.
#[derive(Debug, MultipartForm, ToSchema)]
#[multipart(deny_unknown_fields, duplicate_field = "deny")]
#[serde(deny_unknown_fields)]
pub(crate) struct BookUpload {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    title: Option<Text<String>>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100)]
    author: Option<Text<String>>,
    #[schema(value_type = i32, required = true, minimum = 1450, maximum = 2100)]
    year: Option<Text<String>>,
    #[schema(value_type = String, required = false, pattern = "^97[89][0-9]{10}$")]
    isbn13: Option<Text<String>>,
    #[schema(schema_with = tag_list, required = false)]
    tags: Vec<Text<String>>,
    /// A PNG, JPEG, GIF or WebP image of up to 1 MiB, judged by its bytes; an empty file part
    /// (what a browser sends when no file is chosen) means no cover.
    #[multipart(limit = "1MiB")]
    #[schema(value_type = String, required = false, format = Binary)]
    cover: Option<FilePart>,
}

/// The text fields of a form or multipart book, as sent.
struct FlatBook {
    title: Option<String>,
    author: Option<String>,
    year: Option<String>,
    isbn13: Option<String>,
    tags: Vec<String>,
}

impl FlatBook {
    /// The book, or one 422 naming every missing field, every value that is not of its type and
    /// every rule the other fields break: what `ValidJson` does for a JSON body.
    fn into_new_book(self) -> Result<NewBook, ApiError> {
        let mut shape = Vec::new();
        let mut required = |name: &str, value: Option<String>| {
            value.unwrap_or_else(|| {
                shape.push(FieldError::new(name, "required", "is required"));
                String::new()
            })
        };
        let title = required("title", self.title);
        let author = required("author", self.author);
        let year = self.year.map(|year| parse_year(&year));
        let year = match year {
            Some(Ok(year)) => year,
            Some(Err(error)) => {
                shape.push(error);
                0
            }
            None => {
                shape.push(FieldError::new("year", "required", "is required"));
                0
            }
        };
        let new = NewBook {
            title,
            author,
            year,
            isbn13: self.isbn13,
            tags: self.tags,
            format: None,
            publisher: None,
        };
        let rules = match new.validate() {
            Ok(()) if shape.is_empty() => return Ok(new),
            Ok(()) => Vec::new(),
            Err(broken) => ApiError::from(broken).problem().errors,
        };
        if shape.is_empty() {
            return Err(ApiError::unprocessable(rules));
        }
        // The stand-ins of the wrong fields break rules of their own, which mean nothing.
        let mut errors = rules;
        errors.retain(|rule| !shape.iter().any(|wrong| wrong.field == rule.field));
        errors.extend(shape);
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Err(shape_problem(errors))
    }
}

/// `year` from text, with the words `common::extract` uses for a query or form value.
fn parse_year(text: &str) -> Result<i32, FieldError> {
    text.parse().map_err(|err: std::num::ParseIntError| {
        let explained = explain(&err.to_string());
        FieldError::new(
            "year",
            explained.code,
            format!("{}, not `{text}`", explained.message),
        )
    })
}

/// A 422 for a body of the wrong shape, with the detail `common::extract` writes for one.
fn shape_problem(errors: Vec<FieldError>) -> ApiError {
    let detail = match errors.as_slice() {
        [one] => format!("Field `{}` {}", one.field, one.message),
        many => format!("{} fields are wrong", many.len()),
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail).with_errors(errors)
}

impl BookUpload {
    fn into_parts(self) -> Result<(NewBook, Option<Cover>), ApiError> {
        let cover = self.cover.map(cover).transpose()?.flatten();
        let text = |part: Option<Text<String>>| part.map(Text::into_inner);
        let new = FlatBook {
            title: text(self.title),
            author: text(self.author),
            year: text(self.year),
            isbn13: text(self.isbn13),
            tags: self.tags.into_iter().map(Text::into_inner).collect(),
        }
        .into_new_book()?;
        Ok((new, cover))
    }
}

/// The cover, typed by its bytes; none for an empty file part.
fn cover(file: FilePart) -> Result<Option<Cover>, ApiError> {
    if file.data.is_empty() {
        return Ok(None);
    }
    match infer::get(&file.data).map(|kind| kind.mime_type()) {
        Some(mime) if COVER_TYPES.contains(&mime) => Ok(Some(Cover {
            content_type: mime.to_owned(),
            file_name: file.file_name,
            bytes: file.data,
        })),
        found => {
            let found = found.map_or_else(
                || "are of no known format".to_owned(),
                |mime| format!("are {mime}"),
            );
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the cover must be a PNG, JPEG, GIF or WebP image; its bytes {found}"),
            )
            .with_errors(vec![FieldError::new(
                "cover",
                "media_type",
                "must be a PNG, JPEG, GIF or WebP image",
            )]))
        }
    }
}

async fn create_from_multipart(
    req: HttpRequest,
    library: web::Data<Library>,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    // The form is read whole first, to check what actix-multipart 0.8 asserts instead of checking
    // (that no part has an empty name: a debug build panics on one), then given to the derive.
    let bytes = body
        .to_bytes_limited(MULTIPART_LIMIT)
        .await
        .map_err(|_| too_large())?
        .map_err(|_| ApiError::bad_request("the multipart body ended early"))?;
    if let Some(boundary) = boundary(&req)
        && !no_part_is_unnamed(&bytes, &boundary)
    {
        return Err(ApiError::bad_request("every part of a multipart form needs a name").into());
    }
    let mut payload = actix_web::dev::Payload::from(bytes);
    let MultipartForm(upload) =
        MultipartForm::<BookUpload>::from_request(&req, &mut payload).await?;
    let (new, cover) = upload.into_parts()?;
    Ok(created(
        &library.create(new, cover).map_err(ApiError::from)?,
    ))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the body is over {}, or its cover over {}",
            size(MULTIPART_LIMIT),
            size(COVER_LIMIT)
        ),
    )
}

/// The `boundary` parameter of the request's multipart `Content-Type`.
fn boundary(req: &HttpRequest) -> Option<String> {
    let mime = req.mime_type().ok().flatten()?;
    mime.get_param(mime::BOUNDARY)
        .map(|b| b.as_str().to_owned())
}

/// Whether every part's `Content-Disposition` that gives a `name` gives a non-empty one. Parts
/// start after a line `--boundary`; their headers end at the first empty line.
fn no_part_is_unnamed(body: &[u8], boundary: &str) -> bool {
    let delimiter = format!("\r\n--{boundary}");
    let body = [b"\r\n".as_slice(), body].concat();
    let mut rest = body.as_slice();
    while let Some(at) = find(rest, delimiter.as_bytes()) {
        rest = &rest[at + delimiter.len()..];
        let Some(end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let unnamed = rest[..end].split(|&byte| byte == b'\n').any(|line| {
            let Some(colon) = line.iter().position(|&byte| byte == b':') else {
                return false;
            };
            let (name, value) = line.split_at(colon);
            name.trim_ascii()
                .eq_ignore_ascii_case(b"content-disposition")
                && header::HeaderValue::from_bytes(value[1..].trim_ascii())
                    .ok()
                    .and_then(|value| header::ContentDisposition::from_raw(&value).ok())
                    .is_some_and(|disposition| disposition.get_name() == Some(""))
        });
        if unnamed {
            return false;
        }
        rest = &rest[end..];
    }
    true
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

async fn unsupported_media_type(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let got = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map_or("no Content-Type".into(), |v| {
            String::from_utf8_lossy(v.as_bytes())
        });
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "POST /books takes application/json, application/x-www-form-urlencoded or \
             multipart/form-data, not {got}"
        ),
    ))
}

/// Multipart errors as problems, in the words JSON and forms use: a part over its limit is a 413
/// that states it, an unknown or repeated part a 422 naming it, anything malformed a 400.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature `MultipartFormConfig::error_handler` asks for"
)]
pub fn multipart_error(err: MultipartError, _: &HttpRequest) -> actix_web::Error {
    let field = |name: &str, serde_message: String| {
        let explained = explain(&serde_message);
        shape_problem(vec![FieldError::new(
            name,
            explained.code,
            explained.message,
        )])
    };
    match &err {
        MultipartError::MissingField(name) => field(name, format!("missing field `{name}`")),
        // As `common::extract::Form` words an unknown field of a form.
        MultipartError::UnknownField(name) => shape_problem(vec![FieldError::new(
            name.as_str(),
            "unknown",
            "is not a parameter of this route",
        )]),
        MultipartError::DuplicateField(name) => field(name, format!("duplicate field `{name}`")),
        MultipartError::Payload(PayloadError::Overflow) => too_large(),
        MultipartError::ContentTypeIncompatible => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be multipart/form-data",
        ),
        MultipartError::Field { name, source } => match source.as_error::<TextError>() {
            Some(TextError::ContentType) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the part `{name}` must be text/plain"),
            ),
            Some(TextError::Utf8Error(_)) => {
                ApiError::bad_request(format!("the part `{name}` is not UTF-8 text"))
            }
            _ => ApiError::bad_request(format!("the part `{name}` cannot be read")),
        },
        MultipartError::BoundaryMissing | MultipartError::ContentTypeParse => {
            ApiError::bad_request("the multipart Content-Type names no boundary")
        }
        _ => ApiError::bad_request("the multipart body is malformed or incomplete"),
    }
    .into()
}

/// GET /books/{id}/cover: the uploaded file, with the type its bytes have; nothing (204) for a
/// book without a cover.
#[utoipa::path(
    get,
    path = "/books/{id}/cover",
    tag = "1.4 bodies",
    params(BookId),
    responses(
        (status = 200, description = "The cover's bytes",
            content(
                (Vec<u8> = "image/png"),
                (Vec<u8> = "image/jpeg"),
                (Vec<u8> = "image/gif"),
                (Vec<u8> = "image/webp"),
            ),
            headers(("X-Content-Type-Options" = String, description = "`nosniff`: use our type"))),
        (status = 204, description = "The book has no cover (its `cover` is `null`)"),
        (status = 404, description = "No book has this id"),
    ),
)]
pub async fn get_cover(
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
) -> Result<HttpResponse, ApiError> {
    // The book's cover is part of the book: for a book without one it is empty (204), as its
    // `cover` is `null`; only a book that does not exist has no cover to ask for (404).
    let Some(cover) = library.cover(id)? else {
        return Ok(HttpResponse::NoContent().finish());
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, cover.content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(cover.bytes))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use utoipa::PartialSchema;

    use super::*;

    fn book(year: Option<&str>) -> FlatBook {
        FlatBook {
            title: None,
            author: Some("A".into()),
            year: year.map(str::to_owned),
            isbn13: Some("123".into()),
            tags: vec!["sf".into(), "sf".into()],
        }
    }

    #[test]
    fn a_flat_book_names_every_wrong_field_at_once() {
        let problem = book(Some("soon")).into_new_book().unwrap_err().problem();
        let fields: Vec<(&str, &str)> = problem
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("isbn13", "must be 13 digits starting with 978 or 979"),
                ("tags", "`sf` is given more than once"),
                ("title", "is required"),
                ("year", "must be a whole number, not `soon`"),
            ]
        );
        assert_eq!(problem.detail.as_deref(), Some("4 fields are wrong"));
        assert_eq!(problem.status, 422);
    }

    /// The flat encodings state what `NewBook` states: the same rules, with the same numbers.
    #[test]
    fn form_and_multipart_schemas_state_the_rules_of_a_new_book() {
        let new = serde_json::to_value(NewBook::schema()).unwrap();
        for (name, flat) in [
            ("form", serde_json::to_value(BookForm::schema()).unwrap()),
            (
                "multipart",
                serde_json::to_value(BookUpload::schema()).unwrap(),
            ),
        ] {
            assert_eq!(flat["additionalProperties"], false, "{name}");
            assert_eq!(
                flat["required"],
                serde_json::json!(["title", "author", "year"]),
                "{name}"
            );
            for key in [
                "minLength",
                "maxLength",
                "minimum",
                "maximum",
                "pattern",
                "maxItems",
                "uniqueItems",
            ] {
                for field in ["title", "author", "year", "isbn13", "tags"] {
                    assert_eq!(
                        flat["properties"][field].get(key),
                        new["properties"][field].get(key),
                        "{name}: {field}.{key}"
                    );
                }
            }
            assert_eq!(
                flat["properties"]["tags"]["items"], new["properties"]["tags"]["items"],
                "{name}"
            );
        }
        let multipart = serde_json::to_value(BookUpload::schema()).unwrap();
        assert_eq!(multipart["properties"]["cover"]["format"], "binary");
        assert_eq!(
            multipart["properties"]["year"]["type"],
            Value::from("integer")
        );
    }

    #[test]
    fn a_cover_is_typed_by_its_bytes() {
        let part = |bytes: &'static [u8], claimed: &str| FilePart {
            data: actix_web::web::Bytes::from_static(bytes),
            content_type: claimed.parse().ok(),
            file_name: Some("cover.png".into()),
        };
        let png = include_bytes!("../assets/cover.png");
        let stored = cover(part(png, "text/plain")).unwrap().unwrap();
        assert_eq!(stored.content_type, "image/png");
        let html = cover(part(b"<html><script>alert(1)</script>", "image/png")).unwrap_err();
        assert_eq!(html.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(html.problem().errors[0].field, "cover");
        let pdf = cover(part(b"%PDF-1.4\n%", "image/png")).unwrap_err();
        assert!(pdf.problem().detail.unwrap().contains("application/pdf"));
        assert!(cover(part(b"", "image/png")).unwrap().is_none());
    }

    #[test]
    fn a_part_with_an_empty_name_is_found_and_an_empty_file_name_is_not_one() {
        let body = |disposition: &str| {
            format!("--b\r\nContent-Disposition: {disposition}\r\n\r\nx\r\n--b--\r\n").into_bytes()
        };
        assert!(!no_part_is_unnamed(&body(r#"form-data; name="""#), "b"));
        assert!(no_part_is_unnamed(
            &body(r#"form-data; name="cover"; filename="""#),
            "b"
        ));
        assert!(no_part_is_unnamed(&body(r#"form-data; name="title""#), "b"));
    }
}
