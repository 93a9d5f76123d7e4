//! Topic 2.2: the app takes its author repository as a value, so a test can swap in a fake
//! without touching a handler (FastAPI's `app.dependency_overrides`).

use crate::support;

use std::sync::{Arc, Mutex};

use common::db::testing::TestDatabase;
use phase2_frameworks::crud::{Crud, Ordering, Pagination, RepoError};
use phase2_frameworks::serializers::{AuthorFilter, AuthorPatch, AuthorRead, AuthorWrite};
use serde_json::{Value, json};

/// Authors in a `Vec`, and a log of what was asked of them.
#[derive(Default)]
struct FakeAuthors {
    authors: Mutex<Vec<AuthorRead>>,
    calls: Mutex<Vec<String>>,
}

impl FakeAuthors {
    fn log(&self, call: String) {
        self.calls.lock().expect("not poisoned").push(call);
    }
}

impl Crud for FakeAuthors {
    type Read = AuthorRead;
    type Write = AuthorWrite;
    type Patch = AuthorPatch;
    type Filter = AuthorFilter;

    fn ordering_fields(&self) -> &'static [&'static str] {
        &["id"]
    }

    fn list(
        &self,
        _: &AuthorFilter,
        _: Option<&Ordering>,
        page: Pagination,
    ) -> Result<(Vec<AuthorRead>, i64), RepoError> {
        self.log(format!("list page {} of {}", page.page, page.page_size));
        let authors = self.authors.lock().expect("not poisoned");
        Ok((authors.clone(), authors.len() as i64))
    }

    fn retrieve(&self, id: i32) -> Result<AuthorRead, RepoError> {
        self.log(format!("retrieve {id}"));
        let authors = self.authors.lock().expect("not poisoned");
        authors
            .iter()
            .find(|a| a.id == id)
            .cloned()
            .ok_or_else(|| RepoError::NotFound(format!("no fake author {id}")))
    }

    fn create(&self, input: AuthorWrite) -> Result<AuthorRead, RepoError> {
        self.log(format!("create {}", input.name));
        let mut authors = self.authors.lock().expect("not poisoned");
        let author = AuthorRead {
            id: 100 + authors.len() as i32,
            name: input.name,
            bio: input.bio,
        };
        authors.push(author.clone());
        Ok(author)
    }

    fn update(&self, id: i32, _: AuthorWrite) -> Result<AuthorRead, RepoError> {
        self.retrieve(id)
    }

    fn partial_update(&self, id: i32, _: AuthorPatch) -> Result<AuthorRead, RepoError> {
        self.retrieve(id)
    }

    fn destroy(&self, id: i32) -> Result<(), RepoError> {
        self.retrieve(id).map(drop)
    }
}

#[tokio::test]
async fn the_author_handlers_run_on_a_fake_repository() {
    let fake = Arc::new(FakeAuthors::default());
    let database = TestDatabase::sqlite();
    let server = support::start(&database, |state| state.authors = fake.clone());
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base_url());

    let created: Value = client
        .post(url("/api/authors"))
        .bearer_auth(support::ADMIN)
        .json(&json!({"name": "Only in the fake"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["id"], 100);
    let page: Value = client
        .get(url("/api/authors?page=1&page_size=5"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["name"], "Only in the fake");
    let missing = client.get(url("/api/authors/7")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    // Validation still happens before the repository is asked.
    let invalid = client
        .post(url("/api/authors"))
        .bearer_auth(support::ADMIN)
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);

    assert_eq!(
        *fake.calls.lock().expect("not poisoned"),
        ["create Only in the fake", "list page 1 of 5", "retrieve 7"]
    );
}
