//! 3.7 MongoDB: documents, with the official async driver.
//!
//! **Roadmap:** "MongoDB: Using `Motor` (async driver) or `PyMongo`."
//!
//! **Python:** Motor: `await db.reading_lists.insert_one({...})`, `find({"owner": o},
//! {"books": 0})`, `update_one({"_id": id}, {"$push": {...}})`, `aggregate([...])`; documents are
//! dicts, so a typo in a field name is found in production.
//!
//! **Rust:** the `mongodb` crate is async on tokio, and a collection is typed: `Collection<ReadingList>`
//! serializes and deserializes [`ReadingList`] with serde, so a document has the shape of a struct.
//! Shown here, on reading lists (an owner's named list of books, with tags):
//! - insert, and find with a filter and a *projection* (the list summaries leave out the books);
//! - update with operators (`$push` books, `$addToSet` tags, `$set` a name), returning the new
//!   document;
//! - delete;
//! - a unique index on `(owner, name)`, whose violation (error 11000) becomes a 409 problem;
//! - an aggregation pipeline (`$unwind` the tags, `$group` and count, `$sort`): lists per tag.
//!
//! Routes, under `/mongo`: `POST|GET /reading-lists`, `GET|PATCH|DELETE /reading-lists/{id}`,
//! `GET /stats/tags`. Without `MONGODB_URL` every request under `/mongo` answers 503, naming the
//! variable (there is no in-process MongoDB), and the OpenAPI document lists these routes only once
//! it is set. Tests and CI run them against SecantusDB, a server that speaks MongoDB's wire
//! protocol (`pip install secantusdb`; `secantusd-py --port 27017 --storage-path :memory:`); it
//! answered every driver call used here, index errors (code 11000) included.
//!
//! **Why:** the document's shape is checked at compile time on both sides of the wire, and the
//! driver's futures compose with actix's handlers without a thread per request.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use common::extract::{Path, Query, ValidJson};
use common::{ApiError, FieldError};
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A reading list, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingList {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub owner: String,
    pub name: String,
    #[serde(default)]
    pub books: Vec<ListedBook>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What `common::rules::printable` allows, as a pattern: no control character but tab, line
/// feed and carriage return.
pub const PRINTABLE: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// A book on a list: documents nest, and need no join. Each rule is written twice, side by side:
/// `validate` for the server, `schema` for the document (a test checks that they agree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListedBook {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: String,
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub author: String,
}

/// A tag, as `common::rules::slugs` allows it, in the document: a list of tags is a `Vec<String>`
/// that `validate` checks, and this type only describes one of its items.
#[derive(Debug)]
pub struct Tag;

impl utoipa::PartialSchema for Tag {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some("1 to 30 of `a-z`, `0-9` and `-`"))
            .min_length(Some(1))
            .max_length(Some(30))
            .pattern(Some("^[a-z0-9-]*$"))
            .examples(["sf"])
            .into()
    }
}

impl ToSchema for Tag {}

/// A reading list as the API shows it: the id as text.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingListOut {
    /// 24 hexadecimal digits.
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    owner: String,
    name: String,
    /// Left out of the summaries of `GET /mongo/reading-lists`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    books: Option<Vec<ListedBook>>,
    tags: Vec<String>,
}

impl From<ReadingList> for ReadingListOut {
    fn from(list: ReadingList) -> Self {
        Self {
            id: list.id.to_hex(),
            owner: list.owner,
            name: list.name,
            books: Some(list.books),
            tags: list.tags,
        }
    }
}

/// The summary the list route reads, through a projection that leaves the books out.
#[derive(Debug, Deserialize)]
struct Summary {
    #[serde(rename = "_id")]
    id: ObjectId,
    owner: String,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// The reading lists collection.
#[derive(Debug, Clone)]
pub struct ReadingLists {
    collection: Collection<ReadingList>,
}

impl ReadingLists {
    /// Connects to `url`, uses database `database`, and makes sure the unique index exists.
    pub async fn connect(url: &str, database: &str) -> anyhow::Result<Self> {
        let shown = common::config::redact_url(url);
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|err| anyhow::anyhow!("{shown} is not a MongoDB URL: {}", err.kind))?;
        options.app_name = Some("phase3-db".into());
        options.server_selection_timeout = Some(Duration::from_secs(5));
        let client = mongodb::Client::with_options(options)?;
        let collection = client
            .database(database)
            .collection::<ReadingList>("reading_lists");
        let unique = IndexModel::builder()
            .keys(doc! {"owner": 1, "name": 1})
            .options(
                IndexOptions::builder()
                    .unique(true)
                    .name("owner_name".to_owned())
                    .build(),
            )
            .build();
        collection
            .create_index(unique)
            .await
            .map_err(|err| unreachable_at(&shown, &err))?;
        Ok(Self { collection })
    }

    /// The name of the database the lists are in.
    pub fn database_name(&self) -> String {
        self.collection.namespace().db
    }

    /// Drops the whole database this collection lives in: for tests that made their own.
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        Ok(self
            .collection
            .client()
            .database(&self.collection.namespace().db)
            .drop()
            .await?)
    }
}

/// The driver's account of a failed first contact (its whole view of the topology) as one line.
fn unreachable_at(shown: &str, err: &mongodb::error::Error) -> anyhow::Error {
    let reason = match &*err.kind {
        ErrorKind::ServerSelection { message, .. } if message.contains("Connection refused") => {
            "the server refused the connection (is MongoDB running there?)".to_owned()
        }
        ErrorKind::ServerSelection { .. } => "no server answered within 5 s".to_owned(),
        other => other.to_string(),
    };
    anyhow::anyhow!("cannot connect to MongoDB at {shown}: {reason}")
}

/// MongoDB when configured; `None` makes every route a 503.
#[derive(Debug, Clone, Default)]
pub struct Mongo(pub Option<ReadingLists>);

/// What the routes answer without `MONGODB_URL`.
pub const NOT_CONFIGURED: &str =
    "MongoDB is not configured: set MONGODB_URL (for example mongodb://127.0.0.1:27017)";

/// The routes under `/mongo`: with MongoDB, the handlers below; without it, a 503 naming
/// `MONGODB_URL` for every method and path there, so that no request under `/mongo` gets a 404 or
/// 405 that would send a learner looking in the wrong place.
pub fn routes(cfg: &mut web::ServiceConfig, configured: bool) {
    if configured {
        cfg.service(create)
            .service(summaries)
            .service(retrieve)
            .service(change)
            .service(remove)
            .service(tag_stats);
    } else {
        cfg.service(web::scope("/mongo").default_service(web::to(not_configured)));
    }
}

async fn not_configured() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        NOT_CONFIGURED,
    ))
}

fn lists(mongo: &Mongo) -> Result<&ReadingLists, ApiError> {
    mongo
        .0
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, NOT_CONFIGURED))
}

fn failed(err: mongodb::error::Error) -> ApiError {
    // A duplicate key is error 11000: a write error from insert, a command error from
    // findAndModify (a rename onto a taken name).
    let duplicate = match &*err.kind {
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == 11000,
        ErrorKind::Command(command) => command.code == 11000,
        _ => false,
    };
    if duplicate {
        return ApiError::conflict("this owner already has a list with that name");
    }
    if matches!(
        &*err.kind,
        ErrorKind::ServerSelection { .. } | ErrorKind::Io(_)
    ) {
        tracing::error!(error = %err, "MongoDB is unreachable");
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "MongoDB is unreachable");
    }
    ApiError::internal(err)
}

fn object_id(id: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse_str(id).map_err(|_| {
        ApiError::bad_request(format!("`{id}` is not a list id")).with_errors(vec![
            FieldError::new("id", "type", "a list id is 24 hexadecimal digits"),
        ])
    })
}

/// The body of `POST /mongo/reading-lists`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewList {
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub owner: String,
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[serde(default)]
    #[validate(length(max = 100), nested)]
    #[schema(max_items = 100)]
    pub books: Vec<ListedBook>,
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    #[schema(max_items = 10, value_type = Vec<Tag>)]
    pub tags: Vec<String>,
}

/// The answer when MongoDB is not configured, or does not answer.
const UNAVAILABLE: &str = "MongoDB is not configured (set MONGODB_URL), or does not answer";

/// `POST /mongo/reading-lists`: a new list; 409 when the owner has one of that name.
#[utoipa::path(
    tag = "3.7 MongoDB",
    request_body = NewList,
    responses(
        (status = 201, description = "Created", body = ReadingListOut,
            headers(("Location" = String, description = "The new list: `/mongo/reading-lists/{id}`"))),
        (status = 409, description = "The owner already has a list of this name"),
        (status = 503, description = UNAVAILABLE)
    )
)]
#[post("/mongo/reading-lists")]
pub(crate) async fn create(
    mongo: web::Data<Mongo>,
    ValidJson(new): ValidJson<NewList>,
) -> Result<HttpResponse, ApiError> {
    let list = ReadingList {
        id: ObjectId::new(),
        owner: new.owner,
        name: new.name,
        books: new.books,
        tags: new.tags,
    };
    lists(&mongo)?
        .collection
        .insert_one(&list)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/mongo/reading-lists/{}", list.id.to_hex()),
        ))
        .json(ReadingListOut::from(list)))
}

/// The filters of `GET /mongo/reading-lists`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this owner's lists.
    owner: Option<String>,
    /// Only lists with this tag.
    tag: Option<String>,
}

/// `GET /mongo/reading-lists?owner=&tag=`: summaries (no books), by name.
#[utoipa::path(
    tag = "3.7 MongoDB",
    params(ListQuery),
    responses(
        (status = 200, description = "Up to 100 lists, by name, without their books", body = [ReadingListOut]),
        (status = 503, description = UNAVAILABLE)
    )
)]
#[get("/mongo/reading-lists")]
pub(crate) async fn summaries(
    mongo: web::Data<Mongo>,
    Query(query): Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut filter = Document::new();
    if let Some(owner) = query.owner {
        filter.insert("owner", owner);
    }
    if let Some(tag) = query.tag {
        // A scalar matches any element of an array field.
        filter.insert("tags", tag);
    }
    let found: Vec<Summary> = lists(&mongo)?
        .collection
        .clone_with_type::<Summary>()
        .find(filter)
        .projection(doc! {"books": 0})
        .sort(doc! {"name": 1, "_id": 1})
        .limit(100)
        .await
        .map_err(failed)?
        .try_collect()
        .await
        .map_err(failed)?;
    let out: Vec<ReadingListOut> = found
        .into_iter()
        .map(|s| ReadingListOut {
            id: s.id.to_hex(),
            owner: s.owner,
            name: s.name,
            books: None,
            tags: s.tags,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// A list's id: 24 hexadecimal digits, as MongoDB's `ObjectId` prints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ListId {
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    id: String,
}

/// `GET /mongo/reading-lists/{id}`.
#[utoipa::path(
    tag = "3.7 MongoDB",
    params(ListId),
    responses(
        (status = 200, description = "The list, with its books", body = ReadingListOut),
        (status = 400, description = "The id is not 24 hexadecimal digits"),
        (status = 404, description = "No list has this id"),
        (status = 503, description = UNAVAILABLE)
    )
)]
#[get("/mongo/reading-lists/{id}")]
pub(crate) async fn retrieve(
    mongo: web::Data<Mongo>,
    Path(ListId { id }): Path<ListId>,
) -> Result<HttpResponse, ApiError> {
    let lists = lists(&mongo)?;
    let list = lists
        .collection
        .find_one(doc! {"_id": object_id(&id)?})
        .await
        .map_err(failed)?
        .ok_or_else(|| ApiError::not_found(format!("no reading list {id}")))?;
    Ok(HttpResponse::Ok().json(ReadingListOut::from(list)))
}

/// The body of `PATCH /mongo/reading-lists/{id}`: each part optional.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChanges {
    /// A new name (`$set`).
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    /// Books to append (`$push`).
    #[serde(default)]
    #[validate(length(max = 100), nested)]
    #[schema(max_items = 100)]
    pub add_books: Vec<ListedBook>,
    /// Tags to add where missing (`$addToSet`).
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    #[schema(max_items = 10, value_type = Vec<Tag>)]
    pub add_tags: Vec<String>,
}

/// `PATCH /mongo/reading-lists/{id}`: `$set` the name, `$push` books, `$addToSet` tags.
#[utoipa::path(
    tag = "3.7 MongoDB",
    params(ListId),
    request_body = ListChanges,
    responses(
        (status = 200, description = "The list as changed", body = ReadingListOut),
        (status = 400, description = "The id is not 24 hexadecimal digits, or the body is not JSON"),
        (status = 404, description = "No list has this id"),
        (status = 409, description = "The owner already has a list of the new name"),
        (status = 503, description = UNAVAILABLE)
    )
)]
#[patch("/mongo/reading-lists/{id}")]
pub(crate) async fn change(
    mongo: web::Data<Mongo>,
    Path(ListId { id }): Path<ListId>,
    ValidJson(changes): ValidJson<ListChanges>,
) -> Result<HttpResponse, ApiError> {
    let lists = lists(&mongo)?;
    let mut update = Document::new();
    if let Some(name) = changes.name {
        update.insert("$set", doc! {"name": name});
    }
    if !changes.add_books.is_empty() {
        let books = mongodb::bson::to_bson(&changes.add_books).map_err(ApiError::internal)?;
        update.insert("$push", doc! {"books": {"$each": books}});
    }
    if !changes.add_tags.is_empty() {
        update.insert("$addToSet", doc! {"tags": {"$each": changes.add_tags}});
    }
    let filter = doc! {"_id": object_id(&id)?};
    let list = if update.is_empty() {
        lists.collection.find_one(filter).await
    } else {
        lists
            .collection
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await
    }
    .map_err(failed)?
    .ok_or_else(|| ApiError::not_found(format!("no reading list {id}")))?;
    Ok(HttpResponse::Ok().json(ReadingListOut::from(list)))
}

/// `DELETE /mongo/reading-lists/{id}`.
#[utoipa::path(
    tag = "3.7 MongoDB",
    params(ListId),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not 24 hexadecimal digits"),
        (status = 404, description = "No list has this id"),
        (status = 503, description = UNAVAILABLE)
    )
)]
#[delete("/mongo/reading-lists/{id}")]
pub(crate) async fn remove(
    mongo: web::Data<Mongo>,
    Path(ListId { id }): Path<ListId>,
) -> Result<HttpResponse, ApiError> {
    let deleted = lists(&mongo)?
        .collection
        .delete_one(doc! {"_id": object_id(&id)?})
        .await
        .map_err(failed)?
        .deleted_count;
    if deleted == 0 {
        return Err(ApiError::not_found(format!("no reading list {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize)]
struct TagCount {
    #[serde(rename = "_id")]
    tag: String,
    lists: i64,
}

/// A tag and how many lists carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagLists {
    tag: String,
    #[schema(minimum = 1)]
    lists: i64,
}

/// `GET /mongo/stats/tags`: how many lists carry each tag, most first (an aggregation pipeline).
#[utoipa::path(
    tag = "3.7 MongoDB",
    responses(
        (status = 200, description = "Each tag with the number of lists that carry it, most first", body = [TagLists]),
        (status = 503, description = UNAVAILABLE)
    )
)]
#[get("/mongo/stats/tags")]
pub(crate) async fn tag_stats(mongo: web::Data<Mongo>) -> Result<HttpResponse, ApiError> {
    let pipeline = [
        doc! {"$unwind": "$tags"},
        doc! {"$group": {"_id": "$tags", "lists": {"$sum": 1}}},
        doc! {"$sort": {"lists": -1, "_id": 1}},
    ];
    let rows: Vec<Document> = lists(&mongo)?
        .collection
        .aggregate(pipeline)
        .await
        .map_err(failed)?
        .try_collect()
        .await
        .map_err(failed)?;
    let counts: Vec<TagLists> = rows
        .into_iter()
        .map(|row| {
            let count: TagCount = mongodb::bson::from_document(row).map_err(ApiError::internal)?;
            Ok(TagLists {
                tag: count.tag,
                lists: count.lists,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(HttpResponse::Ok().json(counts))
}
