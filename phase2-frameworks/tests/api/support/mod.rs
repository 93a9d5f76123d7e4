//! What the phase-2 tests share: starting the app on a test database, and the demo tokens.

#![allow(dead_code, unreachable_pub)]

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase2_frameworks::{AppState, serve};

/// The token that may write; `READER` may only read.
pub const ADMIN: &str = "admin-token";
pub const READER: &str = "reader-token";

/// Phase 2 on `database`, with `change` applied to its state, started as the binary starts it.
pub fn start(database: &TestDatabase, change: impl FnOnce(&mut AppState)) -> TestServer {
    let mut state = AppState::new(database.database.clone());
    change(&mut state);
    let listener = common::testing::listener().expect("a local port");
    TestServer::spawn(serve(state, listener).expect("start phase 2"))
}

/// Phase 2 on `database`, filled with the demo library first.
pub fn start_seeded(database: &TestDatabase) -> TestServer {
    phase2_frameworks::seed::seed(&database.database).expect("seed the demo library");
    start(database, |_| {})
}
