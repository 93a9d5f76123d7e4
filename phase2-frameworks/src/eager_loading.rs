//! 2.7 ORM integration: `select_related` / `prefetch_related`, or how not to run N+1 queries.
//!
//! **Roadmap:** "Optimizing queries with `select_related` and `prefetch_related` (crucial for API
//! performance)."
//!
//! **Python:** `Author.objects.all()` then `author.books.all()` in a loop runs one query per author
//! (and one per book for its tags): N+1. `prefetch_related("books__tags")` runs one query per
//! relation instead; `select_related` joins a to-one relation into the first query.
//!
//! **Rust:** diesel never loads a relation behind your back: there is no lazy attribute to trip
//! over, so N+1 has to be written out, as [`naive`] does, loop and all. [`eager`] is the
//! `prefetch_related` of diesel: load the authors, then `Book::belonging_to(&authors)` (one
//! `WHERE author_id IN (...)` query), then the tags of all those books (one join), and
//! `grouped_by` puts each child under its parent in memory. Three queries for any number of authors.
//!
//! `GET /api/authors-with-books?strategy=naive|eager` answers with the same JSON either way, and
//! `X-Query-Count` says how many queries it took: a diesel `Instrumentation` counts them.
//!
//! **Why:** a page of 100 authors with 5 books each is 601 queries naive and 3 eager; each query is
//! a round trip to the database, so the difference is the difference between milliseconds and seconds.

use std::collections::HashMap;

use actix_web::get;
use actix_web::{HttpResponse, web};
use common::ApiError;
use common::db::models::{Author, Book, BookTag, Tag};
use common::db::schema::{authors, book_tags, books, tags};
use common::db::{AnyConnection, Database, blocking, count_queries};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::crud::Pagination;
use crate::dependencies::{PageParams, Paginated};
use crate::serializers::{AuthorDetail, BookNested};

/// How to load the relations.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// One query per author and per book: N+1.
    Naive,
    /// One query per relation: constant.
    #[default]
    Eager,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StrategyQuery {
    /// `naive` (N+1 queries) or `eager` (3 queries); eager by default.
    #[serde(default)]
    #[param(inline)]
    pub strategy: Strategy,
}

fn author_page(conn: &mut AnyConnection, page: Pagination) -> QueryResult<Vec<Author>> {
    authors::table
        .select(Author::as_select())
        .order(authors::id)
        .limit(i64::from(page.page_size))
        .offset(page.offset())
        .load(conn)
}

fn detail(author: Author, books: Vec<BookNested>) -> AuthorDetail {
    AuthorDetail {
        id: author.id,
        name: author.name,
        bio: author.bio,
        books,
    }
}

/// N+1: the authors, then a query for each author's books, then one for each book's tags.
pub fn naive(conn: &mut AnyConnection, page: Pagination) -> QueryResult<Vec<AuthorDetail>> {
    let mut details = Vec::new();
    for author in author_page(conn, page)? {
        let mut nested = Vec::new();
        let author_books: Vec<Book> = books::table
            .filter(books::author_id.eq(author.id))
            .select(Book::as_select())
            .order(books::id)
            .load(conn)?;
        for book in author_books {
            let tag_names = book_tags::table
                .inner_join(tags::table)
                .filter(book_tags::book_id.eq(book.id))
                .select(tags::name)
                .order(tags::name)
                .load(conn)?;
            nested.push(BookNested {
                id: book.id,
                title: book.title,
                year: book.year,
                tags: tag_names,
            });
        }
        details.push(detail(author, nested));
    }
    Ok(details)
}

/// Three queries, whatever the page size: authors, their books, those books' tags.
pub fn eager(conn: &mut AnyConnection, page: Pagination) -> QueryResult<Vec<AuthorDetail>> {
    let authors = author_page(conn, page)?;
    let books: Vec<Book> = Book::belonging_to(&authors)
        .select(Book::as_select())
        .order(books::id)
        .load(conn)?;
    let mut tags_of: HashMap<i32, Vec<String>> = HashMap::new();
    let links: Vec<(BookTag, Tag)> = BookTag::belonging_to(&books)
        .inner_join(tags::table)
        .select((BookTag::as_select(), Tag::as_select()))
        .order(tags::name)
        .load(conn)?;
    for (link, tag) in links {
        tags_of.entry(link.book_id).or_default().push(tag.name);
    }
    Ok(books
        .grouped_by(&authors)
        .into_iter()
        .zip(authors)
        .map(|(books, author)| {
            let nested = books
                .into_iter()
                .map(|book| BookNested {
                    tags: tags_of.remove(&book.id).unwrap_or_default(),
                    id: book.id,
                    title: book.title,
                    year: book.year,
                })
                .collect();
            detail(author, nested)
        })
        .collect())
}

/// Authors with their books and tags; `X-Query-Count` says what it cost.
#[utoipa::path(
    tag = "relations",
    params(StrategyQuery, PageParams),
    responses(
        (status = 200, description = "Authors with books and tags", body = Vec<AuthorDetail>,
         headers(("X-Query-Count" = u32, description = "SQL queries this response took"))),
        (status = 422, description = "Invalid paging", body = common::Problem, content_type = "application/problem+json")
    )
)]
#[get("/authors-with-books")]
pub(crate) async fn authors_with_books(
    db: web::Data<Database>,
    Paginated(pagination, StrategyQuery { strategy }): Paginated<StrategyQuery>,
) -> Result<HttpResponse, ApiError> {
    let (details, queries) = blocking(move || -> anyhow::Result<_> {
        let mut conn = db.conn()?;
        let (details, queries) = count_queries(&mut conn, |conn| match strategy {
            Strategy::Naive => naive(conn, pagination),
            Strategy::Eager => eager(conn, pagination),
        });
        Ok((details?, queries))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Query-Count", queries.to_string()))
        .json(details))
}
