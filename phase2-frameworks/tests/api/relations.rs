//! Topic 2.7 on every backend: N+1 queries naive, three eager, for several N.

use common::db::testing::TestDatabase;
use phase2_frameworks::crud::{Crud, Pagination};
use phase2_frameworks::eager_loading::{eager, naive};
use phase2_frameworks::repository::{DbAuthors, DbBooks};
use phase2_frameworks::serializers::{AuthorWrite, BookWrite};

/// `authors` authors with two books each, each book with one tag.
fn fill(database: &TestDatabase, authors: usize) {
    let (author_repo, book_repo) = (
        DbAuthors(database.database.clone()),
        DbBooks(database.database.clone()),
    );
    for n in 0..authors {
        let author = author_repo
            .create(AuthorWrite {
                name: format!("Author {n}"),
                bio: None,
            })
            .expect("fill the library");
        for title in ["One", "Two"] {
            book_repo
                .create(BookWrite {
                    title: title.into(),
                    year: 2000,
                    author_id: author.id,
                    tags: vec![format!("tag-{n}")],
                })
                .expect("fill the library");
        }
    }
}

#[test]
fn naive_costs_one_plus_n_plus_books_and_eager_costs_three() {
    for database in TestDatabase::all() {
        fill(&database, 6);
        let mut conn = database.database.conn().unwrap();
        for n in [1u32, 3, 6] {
            let page = Pagination {
                page: 1,
                page_size: n,
            };
            let (naive_result, naive_queries) =
                common::db::count_queries(&mut conn, |c| naive(c, page).unwrap());
            let (eager_result, eager_queries) =
                common::db::count_queries(&mut conn, |c| eager(c, page).unwrap());
            let n = n as usize;
            assert_eq!(
                naive_queries,
                1 + n + 2 * n,
                "{:?}, {n} authors",
                database.database.backend
            );
            assert_eq!(
                eager_queries, 3,
                "{:?}, {n} authors",
                database.database.backend
            );
            assert_eq!(naive_result, eager_result);
            assert_eq!(eager_result.len(), n);
            assert!(
                eager_result
                    .iter()
                    .all(|author| author.books.len() == 2 && author.books[0].tags.len() == 1)
            );
        }
    }
}

#[test]
fn a_tag_named_twice_is_one_tag() {
    for database in TestDatabase::all() {
        fill(&database, 1);
        let books = DbBooks(database.database.clone());
        let book = books
            .create(BookWrite {
                title: "Twice".into(),
                year: 2000,
                author_id: 1,
                tags: vec!["same".into(), "same".into(), "tag-0".into()],
            })
            .unwrap();
        let names: Vec<&str> = book.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["same", "tag-0"]);
    }
}
