//! The in-memory library the phase-1 routes work on. Not a roadmap topic: phase 3 replaces it with a
//! database. A `RwLock` lets many readers in at once; writers wait their turn.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use actix_web::web::Bytes;
use chrono::Utc;
use common::ApiError;

use crate::serialization::{Book, CoverInfo};
use crate::typed_params::ListQuery;
use crate::validation::{BookPatch, NewBook};

/// An uploaded cover file.
#[derive(Debug, Clone)]
pub struct Cover {
    pub file_name: Option<String>,
    pub content_type: String,
    pub bytes: Bytes,
}

/// Why a write was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum StoreError {
    NotFound(u64),
    DuplicateIsbn {
        isbn: String,
        id: u64,
    },
    /// A `PUT` took the largest id there is, so `POST` has none left to hand out.
    NoIdsLeft,
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(id) => ApiError::not_found(format!("no book with id {id}")),
            StoreError::DuplicateIsbn { isbn, id } => {
                ApiError::conflict(format!("book {id} already has ISBN {isbn}"))
            }
            StoreError::NoIdsLeft => ApiError::conflict("no book ids are left to hand out"),
        }
    }
}

#[derive(Debug, Default)]
pub struct Library {
    inner: RwLock<Inner>,
}

/// Each book is kept behind an `Arc`: a read shares the stored book (one reference count) instead
/// of copying its strings while the lock is held, and a write replaces it or copies it first
/// (`Arc::make_mut`), so a reader never sees a book change under it.
#[derive(Debug, Default)]
struct Inner {
    books: BTreeMap<u64, (Arc<Book>, Option<Cover>)>,
    last_id: u64,
}

impl Inner {
    fn check_isbn(&self, isbn: Option<&String>, except: u64) -> Result<(), StoreError> {
        let Some(isbn) = isbn else { return Ok(()) };
        match self
            .books
            .values()
            .find(|(book, _)| book.id != except && book.isbn.as_ref() == Some(isbn))
        {
            Some((book, _)) => Err(StoreError::DuplicateIsbn {
                isbn: isbn.clone(),
                id: book.id,
            }),
            None => Ok(()),
        }
    }
}

fn build(id: u64, new: NewBook, cover: Option<&Cover>) -> Book {
    let now = Utc::now();
    Book {
        id,
        title: new.title,
        author: new.author,
        year: new.year,
        isbn: new.isbn13,
        tags: new.tags,
        format: new.format,
        publisher: new.publisher,
        cover: cover.map(|cover| CoverInfo {
            file_name: cover.file_name.clone(),
            content_type: cover.content_type.clone(),
            size: cover.bytes.len(),
        }),
        created_at: now,
        updated_at: now,
    }
}

impl Library {
    // A panic while holding the lock cannot leave a book half-written (every write replaces whole
    // values), so a poisoned lock is safe to keep using.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The books that match `query`, by id, one page of them.
    pub fn list(&self, query: &ListQuery) -> Vec<Book> {
        self.read()
            .books
            .values()
            .map(|(book, _)| book)
            .filter(|book| query.matches(book))
            .skip(query.offset)
            .take(query.limit)
            .map(|book| Book::clone(book))
            .collect()
    }

    pub fn get(&self, id: u64) -> Result<Arc<Book>, StoreError> {
        self.read()
            .books
            .get(&id)
            .map(|(book, _)| Arc::clone(book))
            .ok_or(StoreError::NotFound(id))
    }

    /// The cover of the book `id`: `None` if it has none.
    pub fn cover(&self, id: u64) -> Result<Option<Cover>, StoreError> {
        self.read()
            .books
            .get(&id)
            .map(|(_, cover)| cover.clone())
            .ok_or(StoreError::NotFound(id))
    }

    /// POST: a new book under a new id, every time.
    pub fn create(&self, new: NewBook, cover: Option<Cover>) -> Result<Book, StoreError> {
        let mut inner = self.write();
        inner.check_isbn(new.isbn13.as_ref(), 0)?;
        inner.last_id = inner.last_id.checked_add(1).ok_or(StoreError::NoIdsLeft)?;
        let book = build(inner.last_id, new, cover.as_ref());
        inner.books.insert(book.id, (Arc::new(book.clone()), cover));
        Ok(book)
    }

    /// PUT: the book at `id` becomes exactly `new`, created if absent. Returns whether it was created.
    pub fn replace(&self, id: u64, new: NewBook) -> Result<(Book, bool), StoreError> {
        let mut inner = self.write();
        inner.check_isbn(new.isbn13.as_ref(), id)?;
        let previous = inner.books.remove(&id);
        let created = previous.is_none();
        let mut book = build(id, new, None);
        if let Some((old, cover)) = previous {
            book.created_at = old.created_at;
            book.cover = old.cover.clone();
            inner.books.insert(id, (Arc::new(book.clone()), cover));
        } else {
            inner.books.insert(id, (Arc::new(book.clone()), None));
        }
        inner.last_id = inner.last_id.max(id);
        Ok((book, created))
    }

    /// PATCH: only the fields present change.
    pub fn patch(&self, id: u64, patch: BookPatch) -> Result<Book, StoreError> {
        let mut inner = self.write();
        inner.check_isbn(patch.isbn13.as_ref(), id)?;
        let (stored, _) = inner.books.get_mut(&id).ok_or(StoreError::NotFound(id))?;
        let book = Arc::make_mut(stored);
        if let Some(title) = patch.title {
            book.title = title;
        }
        if let Some(author) = patch.author {
            book.author = author;
        }
        if let Some(year) = patch.year {
            book.year = year;
        }
        if let Some(isbn) = patch.isbn13 {
            book.isbn = Some(isbn);
        }
        if let Some(tags) = patch.tags {
            book.tags = tags;
        }
        book.updated_at = Utc::now();
        Ok(book.clone())
    }

    /// DELETE: whether there was a book to delete.
    pub fn delete(&self, id: u64) -> bool {
        self.write().books.remove(&id).is_some()
    }
}
