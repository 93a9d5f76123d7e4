//! Phase 3 started for a test as the binary starts it: `phase3_db::build` from a `Config`, on the
//! test's own database, with Redis and MongoDB when their URLs are set (each under a namespace of
//! its own, removed by [`Phase3::stop`]).

#![allow(dead_code, unreachable_pub)]

use common::db::testing::TestDatabase;
use common::testing::{TestServer, listener, service_url, unique_name};
use phase3_db::Config;
use phase3_db::documents::ReadingLists;
use phase3_db::key_value::RedisStore;

/// A running phase 3 and what it was started with.
#[derive(Debug)]
pub struct Phase3 {
    pub server: TestServer,
    pub config: Config,
    pub tour: String,
    database: TestDatabase,
}

impl Phase3 {
    /// Phase 3 on `database`, with the services the environment names.
    pub async fn start(database: TestDatabase) -> Self {
        let mut config = Config::new(database.database.url());
        config.redis_url = service_url("REDIS_URL");
        config.mongodb_url = service_url("MONGODB_URL");
        config.namespace = unique_name("phase3_test");
        Self::start_with(database, config).await
    }

    /// Phase 3 on `database` with `config` as given.
    pub async fn start_with(database: TestDatabase, config: Config) -> Self {
        let app = phase3_db::build(config.clone(), listener().expect("a port"))
            .await
            .expect("phase 3 builds from its config");
        let tour = app.tour();
        Self {
            server: TestServer::spawn(app),
            config,
            tour,
            database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub fn backend(&self) -> common::db::Backend {
        self.database.database.backend
    }

    /// Stops the server and removes what it kept in Redis and MongoDB.
    pub async fn stop(self) {
        drop(self.server);
        if let Some(url) = &self.config.redis_url {
            let store = RedisStore::connect(url, &self.config.namespace)
                .await
                .expect("Redis");
            store.clear().await.expect("clear the test's keys");
        }
        if let Some(url) = &self.config.mongodb_url {
            let lists = ReadingLists::connect(url, &self.config.namespace)
                .await
                .expect("MongoDB");
            lists
                .drop_database()
                .await
                .expect("drop the test's database");
        }
    }
}
