//! N+1 against eager loading, measured: `cargo bench -p phase2-frameworks`.
//!
//! For 10 and 100 authors (5 books each, 2 tags a book) it prints the queries each strategy runs
//! and the median and fastest time of 20 runs, on SQLite, and on PostgreSQL too when `DATABASE_URL`
//! names one. Loopback PostgreSQL makes a round trip cheap; over a network each query costs more,
//! and the gap grows with it.

use std::time::{Duration, Instant};

use common::db::testing::TestDatabase;
use common::db::{AnyConnection, count_queries};
use phase2_frameworks::crud::{Crud, Pagination};
use phase2_frameworks::eager_loading::{eager, naive};
use phase2_frameworks::repository::{DbAuthors, DbBooks};
use phase2_frameworks::serializers::{AuthorDetail, AuthorWrite, BookWrite};

const RUNS: usize = 20;

type Loader = fn(&mut AnyConnection, Pagination) -> diesel::QueryResult<Vec<AuthorDetail>>;

fn fill(database: &TestDatabase, authors: u32) {
    let author_repo = DbAuthors(database.database.clone());
    let book_repo = DbBooks(database.database.clone());
    for n in 0..authors {
        let author = author_repo
            .create(AuthorWrite {
                name: format!("Author {n}"),
                bio: None,
            })
            .expect("create an author");
        for b in 0..5 {
            book_repo
                .create(BookWrite {
                    title: format!("Book {n}.{b}"),
                    year: 2000,
                    author_id: author.id,
                    tags: vec![format!("tag-{}", b % 3), format!("tag-{}", n % 7)],
                })
                .expect("create a book");
        }
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    println!(
        "{:<10} {:>7} {:>7} {:>8} {:>11} {:>11}",
        "backend", "authors", "loading", "queries", "median ms", "fastest ms"
    );
    for size in [10u32, 100] {
        for database in TestDatabase::all() {
            fill(&database, size);
            let mut conn = database.database.conn().expect("a connection");
            let page = Pagination {
                page: 1,
                page_size: size,
            };
            let strategies: [(&str, Loader); 2] = [("naive", naive), ("eager", eager)];
            for (name, load) in strategies {
                let mut times = Vec::with_capacity(RUNS);
                let mut queries = 0;
                for _ in 0..RUNS {
                    let started = Instant::now();
                    let (result, count): (diesel::QueryResult<Vec<AuthorDetail>>, usize) =
                        count_queries(&mut conn, |c| load(c, page));
                    times.push(started.elapsed());
                    assert_eq!(result.expect("load").len(), size as usize);
                    queries = count;
                }
                times.sort();
                println!(
                    "{:<10} {:>7} {:>7} {:>8} {:>11.2} {:>11.2}",
                    format!("{:?}", database.database.backend),
                    size,
                    name,
                    queries,
                    millis(times[RUNS / 2]),
                    millis(times[0]),
                );
            }
        }
    }
}
