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
//!   HTML `<form>` sends; tags are one comma-separated field;
//! - `multipart/form-data` → `actix_multipart`'s `MultipartForm` derive: text fields and a file part
//!   (the cover), read with a size limit per field and per form;
//! - anything else → 415 Unsupported Media Type, naming the three.
//!
//! Each encoding is converted into the same [`NewBook`] and validated by the same rules. Bodies over
//! the limit are refused with 413 (64 KiB for JSON and forms, 1 MiB for a cover), malformed ones with
//! 400, well-formed ones that break a rule or lack a field with 422.
//!
//! **Why:** JSON for programs, forms for browsers, multipart for files: each has a reason to exist,
//! and the route table says which one a handler gets, so no handler sniffs bodies by hand.

use actix_multipart::MultipartError;
use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as FilePart;
use actix_multipart::form::text::Text;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, guard, web};
use common::extract::{Form, Path, ValidJson};
use common::{ApiError, FieldError};
use serde::Deserialize;
use validator::Validate;

use crate::serialization::Book;
use crate::store::{Cover, Library};
use crate::typed_params::BookId;
use crate::validation::NewBook;

/// The largest JSON or form body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The largest multipart form accepted, in bytes (the cover and the text fields together).
pub const MULTIPART_LIMIT: usize = 1024 * 1024 + 16 * 1024;

/// The image types a cover may have.
const COVER_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

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

async fn create_from_json(
    library: web::Data<Library>,
    ValidJson(new): ValidJson<NewBook>,
) -> Result<HttpResponse, ApiError> {
    Ok(created(&library.create(new, None)?))
}

/// A book as an HTML form sends it: flat fields, tags comma-separated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookForm {
    title: String,
    author: String,
    year: i32,
    isbn13: Option<String>,
    tags: Option<String>,
}

fn split_tags(tags: Option<&str>) -> Vec<String> {
    tags.map(|tags| {
        tags.split(',')
            .map(str::trim)
            .filter(|tag| !tag.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl From<BookForm> for NewBook {
    fn from(form: BookForm) -> Self {
        NewBook {
            tags: split_tags(form.tags.as_deref()),
            title: form.title,
            author: form.author,
            year: form.year,
            isbn13: form.isbn13.filter(|isbn| !isbn.is_empty()),
            format: None,
            publisher: None,
        }
    }
}

async fn create_from_form(
    library: web::Data<Library>,
    Form(form): Form<BookForm>,
) -> Result<HttpResponse, ApiError> {
    let new = NewBook::from(form);
    new.validate()?;
    Ok(created(&library.create(new, None)?))
}

/// A book with a cover file, as `curl -F title=... -F cover=@cover.png` sends it.
#[derive(Debug, MultipartForm)]
struct BookUpload {
    title: Text<String>,
    author: Text<String>,
    /// Read as text so that a non-number is a 422 naming `year`, as with the other encodings.
    year: Text<String>,
    isbn13: Option<Text<String>>,
    tags: Option<Text<String>>,
    #[multipart(limit = "1MiB")]
    cover: Option<FilePart>,
}

impl BookUpload {
    fn into_parts(self) -> Result<(NewBook, Option<Cover>), ApiError> {
        let year = self.year.trim().parse().map_err(|_| {
            ApiError::unprocessable(vec![FieldError::new(
                "year",
                "type",
                format!("`{}` is not a year", self.year.as_str()),
            )])
        })?;
        let new = NewBook {
            title: self.title.into_inner(),
            author: self.author.into_inner(),
            year,
            isbn13: self
                .isbn13
                .map(Text::into_inner)
                .filter(|isbn| !isbn.is_empty()),
            tags: split_tags(self.tags.as_deref().map(String::as_str)),
            format: None,
            publisher: None,
        };
        let cover = match self.cover.filter(|file| !file.data.is_empty()) {
            None => None,
            // The cover is served back later with the type it came with: only raster images, so that
            // an upload cannot become a page with scripts on our origin (HTML, or SVG, which is XML
            // that may carry <script>).
            Some(file) => match file.content_type {
                Some(mime) if COVER_TYPES.contains(&mime.essence_str()) => Some(Cover {
                    content_type: mime.to_string(),
                    file_name: file.file_name,
                    bytes: file.data,
                }),
                _ => {
                    return Err(ApiError::unprocessable(vec![FieldError::new(
                        "cover",
                        "image",
                        "the cover must be image/png, image/jpeg, image/gif or image/webp",
                    )]));
                }
            },
        };
        Ok((new, cover))
    }
}

async fn create_from_multipart(
    library: web::Data<Library>,
    MultipartForm(upload): MultipartForm<BookUpload>,
) -> Result<HttpResponse, ApiError> {
    let (new, cover) = upload.into_parts()?;
    new.validate()?;
    Ok(created(&library.create(new, cover)?))
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

/// Multipart errors as problems: a part over its limit is a 413, a missing field a 422 naming it
/// (as with JSON and forms), anything else malformed a 400.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature `MultipartFormConfig::error_handler` asks for"
)]
pub fn multipart_error(err: MultipartError, _: &HttpRequest) -> actix_web::Error {
    match &err {
        MultipartError::MissingField(field) => ApiError::unprocessable(vec![FieldError::new(
            field.clone(),
            "required",
            "is required",
        )]),
        MultipartError::Payload(PayloadError::Overflow) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("multipart body: {err}"),
        ),
        MultipartError::ContentTypeIncompatible => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("multipart body: {err}"),
        ),
        _ => ApiError::bad_request(format!("multipart body: {err}")),
    }
    .into()
}

/// GET /books/{id}/cover: the uploaded file, with the type it was uploaded with.
pub async fn get_cover(
    library: web::Data<Library>,
    Path(BookId { id }): Path<BookId>,
) -> Result<HttpResponse, ApiError> {
    let cover = library
        .cover(id)
        .ok_or_else(|| ApiError::not_found(format!("book {id} has no cover")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, cover.content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(cover.bytes))
}
