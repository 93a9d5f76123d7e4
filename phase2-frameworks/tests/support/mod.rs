//! What the phase-2 tests share: starting the app on a test database.

use common::db::testing::TestDatabase;
use common::testing::TestServer;
use phase2_frameworks::{Settings, serve};

/// Phase 2 on `database`, with `change` applied to its settings.
pub(crate) fn start(database: &TestDatabase, change: impl FnOnce(&mut Settings)) -> TestServer {
    let mut settings = Settings::new(database.database.clone());
    change(&mut settings);
    TestServer::start(|listener| serve(listener, settings)).expect("start phase 2")
}
