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
//! `GET /stats/tags`. Without `MONGODB_URL` they answer 503, naming the variable: there is no
//! in-process MongoDB. Tests and CI run them against SecantusDB, a server that speaks MongoDB's wire
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

/// A book on a list: documents nest, and need no join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListedBook {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "common::rules::printable")
    )]
    pub title: String,
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    pub author: String,
}

/// A reading list as the API shows it: the id as text.
#[derive(Debug, Serialize)]
struct ReadingListOut {
    id: String,
    owner: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
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
        let mut options = ClientOptions::parse(url).await?;
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
        collection.create_index(unique).await?;
        Ok(Self { collection })
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

/// MongoDB when configured; `None` makes every route a 503.
#[derive(Debug, Clone, Default)]
pub struct Mongo(pub Option<ReadingLists>);

fn lists(mongo: &Mongo) -> Result<&ReadingLists, ApiError> {
    mongo.0.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "MongoDB is not configured: set MONGODB_URL (for example mongodb://127.0.0.1:27017)",
        )
    })
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

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct NewList {
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    owner: String,
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    name: String,
    #[serde(default)]
    #[validate(length(max = 100), nested)]
    books: Vec<ListedBook>,
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    tags: Vec<String>,
}

/// `POST /mongo/reading-lists`: a new list; 409 when the owner has one of that name.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    owner: Option<String>,
    tag: Option<String>,
}

/// `GET /mongo/reading-lists?owner=&tag=`: summaries (no books), by name.
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

#[derive(Debug, Deserialize)]
struct ListId {
    id: String,
}

/// `GET /mongo/reading-lists/{id}`.
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

#[derive(Debug, Default, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct ListChanges {
    #[validate(
        length(min = 1, max = 100),
        custom(function = "common::rules::printable")
    )]
    name: Option<String>,
    #[serde(default)]
    #[validate(length(max = 100), nested)]
    add_books: Vec<ListedBook>,
    #[serde(default)]
    #[validate(length(max = 10), custom(function = "common::rules::slugs"))]
    add_tags: Vec<String>,
}

/// `PATCH /mongo/reading-lists/{id}`: `$set` the name, `$push` books, `$addToSet` tags.
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

#[derive(Debug, Serialize, Deserialize)]
struct TagCount {
    #[serde(rename = "_id")]
    tag: String,
    lists: i64,
}

/// `GET /mongo/stats/tags`: how many lists carry each tag, most first (an aggregation pipeline).
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
    let counts: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|row| {
            let count: TagCount = mongodb::bson::from_document(row).map_err(ApiError::internal)?;
            Ok(serde_json::json!({"tag": count.tag, "lists": count.lists}))
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(HttpResponse::Ok().json(counts))
}
