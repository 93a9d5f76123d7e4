//! Topics 3.1 and 3.3 on every backend: the builder and raw SQL agree; lazy loading costs 1 + 2N
//! queries and eager loading 3.

use common::db::count_queries;
use common::db::testing::TestDatabase;
use phase3_db::core_vs_orm::{report_orm, report_sql};
use phase3_db::migrations::SCHEMA;
use phase3_db::relationships::{eager, lazy};

#[test]
fn the_orm_and_the_sql_report_agree() {
    for test_db in TestDatabase::all_with(&SCHEMA) {
        phase3_db::seed::seed(&test_db.database).unwrap();
        let mut conn = test_db.database.conn().unwrap();
        let orm = report_orm(&mut conn).unwrap();
        let sql = report_sql(&mut conn).unwrap();
        assert_eq!(orm, sql, "{:?}", test_db.database.backend);
        let classic = orm.iter().find(|row| row.tag == "classic").unwrap();
        assert_eq!(
            (classic.books, classic.reviews),
            (3, 4),
            "Earthsea, Left Hand, Kindred"
        );
        assert_eq!(classic.average_rating(), Some(4.5));
        let humour = orm.iter().find(|row| row.tag == "humour").unwrap();
        assert_eq!(
            (humour.books, humour.reviews),
            (2, 1),
            "a book without reviews still counts"
        );
    }
}

#[test]
fn lazy_loading_costs_one_plus_two_n_and_eager_three() {
    for test_db in TestDatabase::all_with(&SCHEMA) {
        phase3_db::seed::seed(&test_db.database).unwrap();
        let mut conn = test_db.database.conn().unwrap();
        for n in [1, 3, 5] {
            let (lazy_books, lazy_queries) = count_queries(&mut conn, |c| lazy(c, n).unwrap());
            let (eager_books, eager_queries) = count_queries(&mut conn, |c| eager(c, n).unwrap());
            assert_eq!(
                lazy_queries,
                1 + 2 * n as usize,
                "{:?}",
                test_db.database.backend
            );
            assert_eq!(eager_queries, 3);
            assert_eq!(lazy_books, eager_books);
            assert_eq!(eager_books.len(), n as usize);
        }
        let (books, _) = count_queries(&mut conn, |c| eager(c, 1).unwrap());
        assert_eq!(books[0].reviews.len(), 2);
        assert_eq!(books[0].tags, ["classic", "fantasy"]);
    }
}
