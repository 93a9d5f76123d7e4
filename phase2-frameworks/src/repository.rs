//! The library's storage: the [`Crud`] implementations for authors and books, on diesel.
//!
//! This is the "repository" of topic 2.2: the viewset handlers know only the `Crud` trait
//! (`crate::crud`), so a test
//! can hand the app an in-memory fake for authors instead (see `tests/api/dependencies.rs`). Every write
//! that takes more than one statement runs in a transaction; a partial update is one `UPDATE` of the
//! fields given, so two concurrent PATCHes of different fields both land. Relations load eagerly
//! (topic 2.7): a page of books costs four queries (count, books, their authors, their tags),
//! whatever the page size.

use std::collections::HashMap;

use common::FieldError;
use common::db::models::{Author, Book, BookTag, NewAuthor, NewBook, NewTag, Tag};
use common::db::schema::{authors, book_tags, books, tags};
use common::db::{
    AnyConnection, Database, MultiBackend, contains_pattern, lower, write_transaction,
};
use common::with_backend;
use diesel::prelude::*;

use crate::crud::{Crud, Ordering, Pagination, RepoError};
use crate::serializers::{
    AuthorFilter, AuthorPatch, AuthorRead, AuthorWrite, BookFilter, BookPatch, BookRead, BookWrite,
};

/// Authors, stored with diesel.
#[derive(Debug, Clone)]
pub struct DbAuthors(pub Database);

type AuthorQuery<'a> = authors::BoxedQuery<'a, MultiBackend>;

fn filtered_authors(filter: &AuthorFilter) -> AuthorQuery<'_> {
    let mut query = authors::table.into_boxed();
    if let Some(search) = &filter.search {
        query = query.filter(
            lower(authors::name)
                .like(contains_pattern(search))
                .escape('\\'),
        );
    }
    query
}

impl Crud for DbAuthors {
    type Read = AuthorRead;
    type Write = AuthorWrite;
    type Patch = AuthorPatch;
    type Filter = AuthorFilter;

    fn ordering_fields(&self) -> &'static [&'static str] {
        &["id", "name"]
    }

    fn list(
        &self,
        filter: &AuthorFilter,
        ordering: Option<&Ordering>,
        page: Pagination,
    ) -> Result<(Vec<AuthorRead>, i64), RepoError> {
        let mut conn = self.0.pool.get()?;
        let count = filtered_authors(filter).count().get_result(&mut conn)?;
        let mut query = filtered_authors(filter).select(Author::as_select());
        query = match ordering.map(|o| (o.field, o.descending)) {
            Some(("name", false)) => query.order((authors::name.asc(), authors::id.asc())),
            Some(("name", true)) => query.order((authors::name.desc(), authors::id.desc())),
            Some((_, true)) => query.order(authors::id.desc()),
            _ => query.order(authors::id.asc()),
        };
        let rows = query
            .limit(i64::from(page.page_size))
            .offset(page.offset())
            .load(&mut conn)?;
        Ok((rows.into_iter().map(AuthorRead::from).collect(), count))
    }

    fn retrieve(&self, id: i32) -> Result<AuthorRead, RepoError> {
        let mut conn = self.0.pool.get()?;
        find_author(&mut conn, id).map(AuthorRead::from)
    }

    fn create(&self, input: AuthorWrite) -> Result<AuthorRead, RepoError> {
        let mut conn = self.0.pool.get()?;
        let new = NewAuthor {
            name: &input.name,
            bio: input.bio.as_deref(),
        };
        let author: Author = with_backend!(&mut *conn, |c| {
            diesel::insert_into(authors::table)
                .values(&new)
                .returning(Author::as_returning())
                .get_result(c)
        })?;
        Ok(author.into())
    }

    fn update(&self, id: i32, input: AuthorWrite) -> Result<AuthorRead, RepoError> {
        let mut conn = self.0.pool.get()?;
        let changed = diesel::update(authors::table.find(id))
            .set((authors::name.eq(&input.name), authors::bio.eq(&input.bio)))
            .execute(&mut conn)?;
        if changed == 0 {
            return Err(no_author(id));
        }
        find_author(&mut conn, id).map(AuthorRead::from)
    }

    fn partial_update(&self, id: i32, input: AuthorPatch) -> Result<AuthorRead, RepoError> {
        let mut conn = self.0.pool.get()?;
        // `AsChangeset` skips `None` fields: only what the client sent is written.
        let changes = AuthorChanges {
            name: input.name.as_deref(),
            bio: input.bio.as_deref(),
        };
        if changes.name.is_some() || changes.bio.is_some() {
            let changed = diesel::update(authors::table.find(id))
                .set(&changes)
                .execute(&mut conn)?;
            if changed == 0 {
                return Err(no_author(id));
            }
        }
        find_author(&mut conn, id).map(AuthorRead::from)
    }

    fn destroy(&self, id: i32) -> Result<(), RepoError> {
        let mut conn = self.0.pool.get()?;
        match diesel::delete(authors::table.find(id)).execute(&mut conn)? {
            0 => Err(no_author(id)),
            _ => Ok(()),
        }
    }
}

/// The fields a PATCH of an author may change; `None` leaves a column as it is.
#[derive(AsChangeset)]
#[diesel(table_name = authors)]
struct AuthorChanges<'a> {
    name: Option<&'a str>,
    bio: Option<&'a str>,
}

/// The same for a book.
#[derive(AsChangeset)]
#[diesel(table_name = books)]
struct BookChanges<'a> {
    title: Option<&'a str>,
    year: Option<i32>,
    author_id: Option<i32>,
}

fn no_author(id: i32) -> RepoError {
    RepoError::NotFound(format!("no author with id {id}"))
}

fn find_author(conn: &mut AnyConnection, id: i32) -> Result<Author, RepoError> {
    authors::table
        .find(id)
        .select(Author::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| no_author(id))
}

/// Books, stored with diesel, read with their author and tags.
#[derive(Debug, Clone)]
pub struct DbBooks(pub Database);

type BookQuery<'a> = books::BoxedQuery<'a, MultiBackend>;

fn filtered_books(filter: &BookFilter) -> BookQuery<'_> {
    let mut query = books::table.into_boxed();
    if let Some(author_id) = filter.author_id {
        query = query.filter(books::author_id.eq(author_id));
    }
    if let Some(year_min) = filter.year_min {
        query = query.filter(books::year.ge(year_min));
    }
    if let Some(year_max) = filter.year_max {
        query = query.filter(books::year.le(year_max));
    }
    // Every tag given narrows the list: a book must have all of them.
    for tag in &filter.tag {
        let tagged = book_tags::table
            .inner_join(tags::table)
            .filter(tags::name.eq(tag.clone()))
            .select(book_tags::book_id);
        query = query.filter(books::id.eq_any(tagged));
    }
    if let Some(search) = &filter.search {
        query = query.filter(
            lower(books::title)
                .like(contains_pattern(search))
                .escape('\\'),
        );
    }
    query
}

/// Books with their authors and tags, in three queries for any number of books (`prefetch_related`).
pub fn with_relations(
    conn: &mut AnyConnection,
    books: Vec<Book>,
) -> Result<Vec<BookRead>, RepoError> {
    let author_ids: Vec<i32> = books.iter().map(|book| book.author_id).collect();
    let authors: HashMap<i32, Author> = authors::table
        .filter(authors::id.eq_any(author_ids))
        .select(Author::as_select())
        .load(conn)?
        .into_iter()
        .map(|author| (author.id, author))
        .collect();
    let links: Vec<(BookTag, Tag)> = BookTag::belonging_to(&books)
        .inner_join(tags::table)
        .select((BookTag::as_select(), Tag::as_select()))
        .order(tags::name.asc())
        .load(conn)?;
    let mut tags_of: HashMap<i32, Vec<Tag>> = HashMap::new();
    for (link, tag) in links {
        tags_of.entry(link.book_id).or_default().push(tag);
    }
    books
        .into_iter()
        .map(|book| {
            let author = authors.get(&book.author_id).cloned().ok_or_else(|| {
                RepoError::Internal(anyhow::anyhow!("book {} has no author", book.id))
            })?;
            let tags = tags_of.remove(&book.id).unwrap_or_default();
            Ok(BookRead::new(book, author, tags))
        })
        .collect()
}

/// Makes the book's tags exactly `names`, creating tags that do not exist yet.
fn set_tags(conn: &mut AnyConnection, book_id: i32, names: &[String]) -> Result<(), RepoError> {
    diesel::delete(book_tags::table.filter(book_tags::book_id.eq(book_id))).execute(conn)?;
    // A tag named twice is one tag.
    let mut seen = std::collections::HashSet::new();
    for name in names.iter().filter(|name| seen.insert(name.as_str())) {
        // Insert the tag unless it exists (a concurrent request may be creating it right now),
        // then read its id: no check-then-insert race.
        with_backend!(&mut *conn, |c| {
            diesel::insert_into(tags::table)
                .values(NewTag { name })
                .on_conflict(tags::name)
                .do_nothing()
                .execute(c)
        })?;
        let tag_id: i32 = tags::table
            .filter(tags::name.eq(name))
            .select(tags::id)
            .first(conn)?;
        diesel::insert_into(book_tags::table)
            .values(BookTag { book_id, tag_id })
            .execute(conn)?;
    }
    Ok(())
}

fn no_book(id: i32) -> RepoError {
    RepoError::NotFound(format!("no book with id {id}"))
}

fn author_exists(conn: &mut AnyConnection, author_id: i32) -> Result<bool, RepoError> {
    let count: i64 = authors::table
        .filter(authors::id.eq(author_id))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// A book must name an author that exists: a 409 on `author_id` otherwise.
fn check_author(conn: &mut AnyConnection, author_id: i32) -> Result<(), RepoError> {
    if author_exists(conn, author_id)? {
        return Ok(());
    }
    let message = format!("no author with id {author_id}");
    Err(RepoError::Conflict(
        format!("the book names {message}; create the author first"),
        Some(FieldError::new("author_id", "exists", message)),
    ))
}

impl DbBooks {
    /// A 404 unless the author exists: for routes that name the author in their path.
    pub fn find_author(&self, author_id: i32) -> Result<(), RepoError> {
        let mut conn = self.0.pool.get()?;
        if author_exists(&mut conn, author_id)? {
            Ok(())
        } else {
            Err(no_author(author_id))
        }
    }

    /// One book: its author in the same query (a join: Django's `select_related`), then its tags
    /// (`prefetch_related`). Both statements are the same text for every id, so SQLite and
    /// PostgreSQL parse them once per connection and reuse the plan (diesel's statement cache);
    /// the lists' `IN (...)` of [`with_relations`] changes with the number of ids, and is parsed
    /// each time.
    fn read(conn: &mut AnyConnection, id: i32) -> Result<BookRead, RepoError> {
        let (book, author): (Book, Author) = books::table
            .inner_join(authors::table)
            .filter(books::id.eq(id))
            .select((Book::as_select(), Author::as_select()))
            .first(conn)
            .optional()?
            .ok_or_else(|| no_book(id))?;
        let tags: Vec<Tag> = book_tags::table
            .inner_join(tags::table)
            .filter(book_tags::book_id.eq(id))
            .select(Tag::as_select())
            .order(tags::name.asc())
            .load(conn)?;
        Ok(BookRead::new(book, author, tags))
    }

    /// Applies `changes` and, when given, the tags, in one transaction; then reads the book back.
    fn change(
        &self,
        id: i32,
        changes: &BookChanges<'_>,
        tags: Option<&[String]>,
    ) -> Result<BookRead, RepoError> {
        let mut conn = self.0.pool.get()?;
        write_transaction(&mut conn, |conn| {
            if let Some(author_id) = changes.author_id {
                check_author(conn, author_id)?;
            }
            let nothing_to_set =
                changes.title.is_none() && changes.year.is_none() && changes.author_id.is_none();
            let exists = if nothing_to_set {
                books::table.find(id).count().get_result::<i64>(conn)? > 0
            } else {
                diesel::update(books::table.find(id))
                    .set(changes)
                    .execute(conn)?
                    > 0
            };
            if !exists {
                return Err(no_book(id));
            }
            if let Some(tags) = tags {
                set_tags(conn, id, tags)?;
            }
            Self::read(conn, id)
        })
    }
}

impl Crud for DbBooks {
    type Read = BookRead;
    type Write = BookWrite;
    type Patch = BookPatch;
    type Filter = BookFilter;

    fn ordering_fields(&self) -> &'static [&'static str] {
        &["id", "title", "year"]
    }

    fn list(
        &self,
        filter: &BookFilter,
        ordering: Option<&Ordering>,
        page: Pagination,
    ) -> Result<(Vec<BookRead>, i64), RepoError> {
        let mut conn = self.0.pool.get()?;
        let count = filtered_books(filter).count().get_result(&mut conn)?;
        let mut query = filtered_books(filter).select(Book::as_select());
        query = match ordering.map(|o| (o.field, o.descending)) {
            Some(("title", false)) => query.order((books::title.asc(), books::id.asc())),
            Some(("title", true)) => query.order((books::title.desc(), books::id.desc())),
            Some(("year", false)) => query.order((books::year.asc(), books::id.asc())),
            Some(("year", true)) => query.order((books::year.desc(), books::id.desc())),
            Some((_, true)) => query.order(books::id.desc()),
            _ => query.order(books::id.asc()),
        };
        let rows = query
            .limit(i64::from(page.page_size))
            .offset(page.offset())
            .load(&mut conn)?;
        Ok((with_relations(&mut conn, rows)?, count))
    }

    fn retrieve(&self, id: i32) -> Result<BookRead, RepoError> {
        let mut conn = self.0.pool.get()?;
        Self::read(&mut conn, id)
    }

    fn create(&self, input: BookWrite) -> Result<BookRead, RepoError> {
        let mut conn = self.0.pool.get()?;
        write_transaction(&mut conn, |conn| {
            check_author(conn, input.author_id)?;
            let new = NewBook {
                author_id: input.author_id,
                title: &input.title,
                year: input.year,
            };
            let id: i32 = with_backend!(&mut *conn, |c| {
                diesel::insert_into(books::table)
                    .values(&new)
                    .returning(books::id)
                    .get_result(c)
            })?;
            set_tags(conn, id, &input.tags)?;
            Self::read(conn, id)
        })
    }

    fn update(&self, id: i32, input: BookWrite) -> Result<BookRead, RepoError> {
        let changes = BookChanges {
            title: Some(&input.title),
            year: Some(input.year),
            author_id: Some(input.author_id),
        };
        self.change(id, &changes, Some(&input.tags))
    }

    fn partial_update(&self, id: i32, input: BookPatch) -> Result<BookRead, RepoError> {
        let changes = BookChanges {
            title: input.title.as_deref(),
            year: input.year,
            author_id: input.author_id,
        };
        self.change(id, &changes, input.tags.as_deref())
    }

    fn destroy(&self, id: i32) -> Result<(), RepoError> {
        let mut conn = self.0.pool.get()?;
        match diesel::delete(books::table.find(id)).execute(&mut conn)? {
            0 => Err(no_book(id)),
            _ => Ok(()),
        }
    }
}
