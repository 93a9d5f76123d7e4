//! Starting a phase in-process, on 127.0.0.1 port 0, so that it can be graded.

use anyhow::{Context, bail};
use common::db::testing::TestDatabase;
use common::testing::TestServer;
use url::Url;

use crate::check::Target;

/// A phase running in this process; dropping it stops its servers.
#[derive(Debug)]
pub struct RunningPhase {
    pub target: Target,
    _server: TestServer,
    raw_server: Option<tokio::task::JoinHandle<()>>,
    /// The phase's own database, removed when the phase stops.
    _database: Option<TestDatabase>,
}

impl Drop for RunningPhase {
    fn drop(&mut self) {
        if let Some(raw) = &self.raw_server {
            raw.abort();
        }
    }
}

/// Starts phase `name` on free local ports.
pub async fn start(name: &str) -> anyhow::Result<RunningPhase> {
    match name {
        "phase1" => {
            let server = TestServer::start(phase1_http::serve)?;
            let raw = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let raw_url = Url::parse(&format!("http://{}", raw.local_addr()?))?;
            let raw_server = tokio::spawn(async move {
                if let Err(err) = phase1_http::raw_http::serve(raw).await {
                    eprintln!("the hand-written server stopped: {err}");
                }
            });
            let target = Target::new(Url::parse(&server.base_url()).context("base URL")?)?
                .with_raw_url(raw_url);
            Ok(RunningPhase {
                target,
                _server: server,
                raw_server: Some(raw_server),
                _database: None,
            })
        }
        "phase2" => start_phase2(TestDatabase::sqlite()).await,
        "phase3" => {
            let database = TestDatabase::sqlite_with(&phase3_db::migrations::SCHEMA);
            start_phase3(
                database,
                phase3_db::key_value::Store::Memory(Default::default()),
            )
            .await
        }
        "phase4" => start_phase4(TestDatabase::sqlite_with(&phase4_security::SCHEMA), None).await,
        other => bail!("no phase called {other}"),
    }
}

/// Starts phase 2 on `database`, with its demo data.
pub async fn start_phase2(database: TestDatabase) -> anyhow::Result<RunningPhase> {
    let db = database.database.clone();
    tokio::task::spawn_blocking(move || phase2_frameworks::seed::seed(&db))
        .await?
        .map_err(|err| anyhow::anyhow!("seeding phase 2: {err:?}"))?;
    let settings = phase2_frameworks::Settings::new(database.database.clone());
    let server = TestServer::start(|listener| phase2_frameworks::serve(listener, settings))?;
    Ok(RunningPhase {
        target: Target::new(Url::parse(&server.base_url())?)?,
        _server: server,
        raw_server: None,
        _database: Some(database),
    })
}

/// Starts phase 3 on `database` (migrated with its schema) and `store`, with its demo data.
pub async fn start_phase3(
    database: TestDatabase,
    store: phase3_db::key_value::Store,
) -> anyhow::Result<RunningPhase> {
    let db = database.database.clone();
    tokio::task::spawn_blocking(move || phase3_db::seed::seed(&db)).await??;
    // MongoDB when `MONGODB_URL` names one, in a database of its own.
    let mongo = match common::testing::service_url("MONGODB_URL") {
        Some(url) => {
            let name = common::testing::unique_name("grader");
            phase3_db::documents::Mongo(Some(
                phase3_db::documents::ReadingLists::connect(&url, &name).await?,
            ))
        }
        None => phase3_db::documents::Mongo(None),
    };
    let settings = phase3_db::Settings::new(database.database.clone(), store, mongo)?;
    let server = TestServer::start(|listener| phase3_db::serve(listener, settings))?;
    Ok(RunningPhase {
        target: Target::new(Url::parse(&server.base_url())?)?,
        _server: server,
        raw_server: None,
        _database: Some(database),
    })
}

/// Starts phase 4 on `database` (migrated with its schema), with its demo data; idempotency records
/// and rate limits in Redis under `redis`'s prefix when given, in process otherwise.
pub async fn start_phase4(
    database: TestDatabase,
    redis: Option<(redis::aio::ConnectionManager, String)>,
) -> anyhow::Result<RunningPhase> {
    phase4_security::seed::seed(&database.database).await?;
    let db = database.database.clone();
    let server = TestServer::start(|listener| {
        let base_url = format!("http://{}", listener.local_addr()?);
        let mut settings =
            phase4_security::Settings::new(db, &base_url).map_err(std::io::Error::other)?;
        if let Some((connection, prefix)) = redis {
            settings.records = phase4_security::idempotency::Records::redis(
                connection.clone(),
                &format!("{prefix}:idempotency"),
            );
            settings.limiter = phase4_security::rate_limit::Limiter::redis(
                phase4_security::DEFAULT_QUOTA,
                connection,
                &format!("{prefix}:ratelimit"),
            );
        }
        phase4_security::serve(listener, settings)
    })?;
    Ok(RunningPhase {
        target: Target::new(Url::parse(&server.base_url())?)?,
        _server: server,
        raw_server: None,
        _database: Some(database),
    })
}
