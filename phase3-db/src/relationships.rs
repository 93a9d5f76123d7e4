//! 3.3 Relationships and loading: one-to-many, many-to-many, lazy against eager.
//!
//! **Roadmap:** "Relationships: One-to-Many, Many-to-Many, loading strategies (lazy vs eager)."
//!
//! **Python:** `relationship("Review", lazy="select")` loads a book's reviews when the attribute is
//! first touched, one query per book; `selectinload(Book.reviews)` loads them for all books in one
//! `IN` query; `joinedload` joins them in.
//!
//! **Rust:** the relations are declared once in the schema (`joinable!`, and `#[diesel(belongs_to)]`
//! on the row types) and loaded only when asked for:
//! - one-to-many: a book has many reviews (`Review` belongs to `Book`);
//! - many-to-many: books and tags, through `book_tags`.
//!
//! [`lazy`] loads like SQLAlchemy's default: the page of books, then per book its reviews and its
//! tags (1 + 2N queries). [`eager`] loads like `selectinload`: books, all their reviews, all their
//! tags (3 queries), then `grouped_by` hands each book its children. `GET
//! /books-with-reviews?strategy=lazy|eager` shows the count in `X-Query-Count`;
//! `tests/api/queries.rs` asserts it for several N on every backend.
//!
//! **Why:** diesel has no lazy attributes, so an N+1 can only be written on purpose, in a loop that
//! is plain to see; eager loading is three ordinary queries.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::db::models::{Book, BookTag, Tag};
use common::db::schema::{book_tags, books, tags};
use common::db::{AnyConnection, Database, blocking, count_queries};
use common::extract::Query;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use common::db::schema::{reviewers, reviews};

/// A review as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = reviews, belongs_to(Book))]
pub struct Review {
    pub id: i32,
    pub book_id: i32,
    pub rating: i32,
    pub body: String,
    pub reviewer_id: i32,
}

/// A book with its reviews (each with its reviewer's name) and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BookWithReviews {
    pub id: i32,
    pub title: String,
    pub tags: Vec<String>,
    pub reviews: Vec<ReviewOut>,
}

/// A review, with its reviewer's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReviewOut {
    pub reviewer: String,
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i32,
    pub body: String,
}

fn page_of_books(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<Book>> {
    books::table
        .select(Book::as_select())
        .order(books::id)
        .limit(limit)
        .load(conn)
}

/// 1 + 2N queries: the books, then each book's reviews and each book's tags.
pub fn lazy(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<BookWithReviews>> {
    let mut out = Vec::new();
    for book in page_of_books(conn, limit)? {
        let reviews = reviews::table
            .inner_join(reviewers::table)
            .filter(reviews::book_id.eq(book.id))
            .select((reviewers::name, reviews::rating, reviews::body))
            .order(reviews::id)
            .load::<(String, i32, String)>(conn)?;
        let tags = book_tags::table
            .inner_join(tags::table)
            .filter(book_tags::book_id.eq(book.id))
            .select(tags::name)
            .order(tags::name)
            .load(conn)?;
        out.push(BookWithReviews {
            id: book.id,
            title: book.title,
            tags,
            reviews: reviews
                .into_iter()
                .map(|(reviewer, rating, body)| ReviewOut {
                    reviewer,
                    rating,
                    body,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// 3 queries: the books, all their reviews (with reviewers), all their tags.
pub fn eager(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<BookWithReviews>> {
    let books = page_of_books(conn, limit)?;
    let reviews: Vec<(Review, String)> = Review::belonging_to(&books)
        .inner_join(reviewers::table)
        .select((Review::as_select(), reviewers::name))
        .order(reviews::id)
        .load(conn)?;
    let mut tags_of: HashMap<i32, Vec<String>> = HashMap::new();
    for (link, tag) in BookTag::belonging_to(&books)
        .inner_join(tags::table)
        .select((BookTag::as_select(), Tag::as_select()))
        .order(tags::name)
        .load::<(BookTag, Tag)>(conn)?
    {
        tags_of.entry(link.book_id).or_default().push(tag.name);
    }
    Ok(reviews
        .grouped_by(&books)
        .into_iter()
        .zip(books)
        .map(|(reviews, book)| BookWithReviews {
            tags: tags_of.remove(&book.id).unwrap_or_default(),
            id: book.id,
            title: book.title,
            reviews: reviews
                .into_iter()
                .map(|(review, reviewer)| ReviewOut {
                    reviewer,
                    rating: review.rating,
                    body: review.body,
                })
                .collect(),
        })
        .collect())
}

/// How a book's reviews and tags are loaded.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Per book, as it comes: 1 + 2N queries.
    Lazy,
    /// All at once: 3 queries.
    #[default]
    Eager,
}

/// The query of `GET /books-with-reviews`; `validate` and `param` state the same range.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoadQuery {
    /// `eager` (the default) or `lazy`: the same books either way, at a different cost.
    #[serde(default)]
    #[param(inline)]
    pub strategy: Strategy,
    /// How many books, by id.
    #[serde(default = "default_limit")]
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub limit: u32,
}

fn default_limit() -> u32 {
    10
}

/// `GET /books-with-reviews?strategy=lazy|eager&limit=10`, with `X-Query-Count`.
#[utoipa::path(
    tag = "3.3 relationships, lazy vs eager",
    params(LoadQuery),
    responses(
        (status = 200, description = "Books with their tags and reviews", body = [BookWithReviews],
            headers(("X-Query-Count" = u32, description = "How many SQL queries loading them took"))),
        (status = 422, description = "`limit` is outside 1 to 100")
    )
)]
#[get("/books-with-reviews")]
pub(crate) async fn books_with_reviews(
    database: web::Data<Database>,
    Query(query): Query<LoadQuery>,
) -> Result<HttpResponse, ApiError> {
    query.validate()?;
    let limit = i64::from(query.limit);
    let (books, queries) = blocking(move || -> anyhow::Result<_> {
        let mut conn = database.conn()?;
        let (books, queries) = count_queries(&mut conn, |conn| match query.strategy {
            Strategy::Lazy => lazy(conn, limit),
            Strategy::Eager => eager(conn, limit),
        });
        Ok((books?, queries))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Query-Count", queries.to_string()))
        .json(books))
}
