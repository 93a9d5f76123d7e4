//! Starting a phase in this process, on 127.0.0.1 port 0, so that it can be graded.
//!
//! Each phase is started as its binary starts it: its library's `build`, from its `Config`. The
//! grader's part is only to point that configuration at a throwaway database (a SQLite file, or a
//! fresh PostgreSQL database in the tests that set `DATABASE_URL`) and at Redis keys and a MongoDB
//! database of the run's own, which [`RunningPhase::stop`] removes. So a grading run leaves nothing
//! behind, and grades the same app a learner runs.

use anyhow::{Context, bail};
use common::db::testing::TestDatabase;
use common::testing::{TestServer, listener, service_url, unique_name};
use url::Url;

use crate::check::Target;

/// A phase running in this process. Dropping it stops its servers; [`RunningPhase::stop`] also
/// removes what it kept in Redis and MongoDB.
#[derive(Debug)]
pub struct RunningPhase {
    pub target: Target,
    server: TestServer,
    raw_server: Option<RawServer>,
    /// The phase's own database, removed when the phase stops.
    database: Option<TestDatabase>,
    leftovers: Vec<Leftover>,
}

/// Phase 1's hand-written server, a task of this process; stopped when dropped.
#[derive(Debug)]
struct RawServer(tokio::task::JoinHandle<()>);

impl Drop for RawServer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a phase keeps outside its database, to remove after grading.
#[derive(Debug, Clone)]
enum Leftover {
    /// Every Redis key under `{prefix}:`.
    RedisKeys { url: String, prefix: String },
    /// A MongoDB database.
    MongoDatabase { url: String, name: String },
}

impl RunningPhase {
    fn new(
        app: common::server::Application,
        database: Option<TestDatabase>,
        leftovers: Vec<Leftover>,
    ) -> anyhow::Result<Self> {
        let base_url = Url::parse(&app.base_url()).context("the phase's base URL")?;
        Ok(Self {
            target: Target::new(base_url)?.started_in_process(),
            server: TestServer::spawn(app),
            raw_server: None,
            database,
            leftovers,
        })
    }

    /// Stops the servers, then removes the Redis keys and the MongoDB database the phase used.
    /// (The database goes when `self` is dropped.)
    pub async fn stop(self) -> anyhow::Result<()> {
        let Self {
            server,
            raw_server,
            database,
            leftovers,
            ..
        } = self;
        drop(server);
        drop(raw_server);
        for leftover in leftovers {
            match leftover {
                Leftover::RedisKeys { url, prefix } => clear_redis(&url, &prefix).await?,
                Leftover::MongoDatabase { url, name } => {
                    phase3_db::documents::ReadingLists::connect(&url, &name)
                        .await?
                        .drop_database()
                        .await
                        .with_context(|| format!("dropping the MongoDB database {name}"))?;
                }
            }
        }
        drop(database);
        Ok(())
    }
}

/// Deletes every key under `{prefix}:` (`SCAN`, which does not block a shared Redis, not `KEYS`).
async fn clear_redis(url: &str, prefix: &str) -> anyhow::Result<()> {
    use futures_util::TryStreamExt;
    use redis::AsyncCommands;

    let mut connection = common::redis::connect(url).await?;
    let keys: Vec<String> = connection
        .clone()
        .scan_match::<_, String>(format!("{prefix}:*"))
        .await?
        .try_collect()
        .await?;
    if !keys.is_empty() {
        let _: usize = connection.del(&keys).await?;
    }
    Ok(())
}

/// Starts phase `name` on free local ports, on SQLite, with the services the environment names.
pub async fn start(name: &str) -> anyhow::Result<RunningPhase> {
    match name {
        "phase1" => start_phase1().await,
        "phase2" => start_phase2(TestDatabase::sqlite()).await,
        "phase3" => {
            let database = TestDatabase::sqlite_with(&phase3_db::migrations::SCHEMA);
            let config = phase3_config(&database);
            start_phase3(database, config).await
        }
        "phase4" => {
            let database = TestDatabase::sqlite_with(&phase4_security::SCHEMA);
            let config = phase4_security::Config::local(database.database.url());
            start_phase4(database, config).await
        }
        "phase5" => {
            let database = TestDatabase::sqlite_with(&phase5_perf::SCHEMA);
            let config = phase5_perf::Config::local(database.database.url());
            start_phase5(database, config).await
        }
        "phase6" => {
            let database = TestDatabase::sqlite_with(&phase6_testing::SCHEMA);
            let config = phase6_testing::Config::local(database.database.url());
            let app = phase6_testing::build(config, listener()?).await?;
            RunningPhase::new(app, Some(database), Vec::new())
        }
        "phase7" => {
            let database = TestDatabase::sqlite_with(&phase7_deploy::SCHEMA);
            let config = phase7_config(&database);
            start_phase7(database, config).await
        }
        "shortener" => {
            let database = TestDatabase::sqlite_with(&shortener::SCHEMA);
            let config = shortener_config(&database);
            start_shortener(database, config).await
        }
        "shop" => {
            let database = TestDatabase::sqlite_with(&shop::SCHEMA);
            let config = shop_config(&database);
            start_shop(database, config).await
        }
        "chat" => {
            let database = TestDatabase::sqlite_with(&chat::SCHEMA);
            let config = chat_config(&database);
            start_chat(database, config).await
        }
        other => bail!("no phase called {other}"),
    }
}

/// Phase 1, and its hand-written server (topic 1.5) on a port of its own.
pub async fn start_phase1() -> anyhow::Result<RunningPhase> {
    let app = phase1_http::build(phase1_http::Config::default(), listener()?).await?;
    let mut running = RunningPhase::new(app, None, Vec::new())?;
    let raw = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let raw_url = Url::parse(&format!("http://{}", raw.local_addr()?))?;
    running.raw_server = Some(RawServer(tokio::spawn(async move {
        if let Err(err) = phase1_http::raw_http::serve(raw).await {
            eprintln!("the hand-written server stopped: {err}");
        }
    })));
    running.target = running.target.with_raw_url(raw_url);
    Ok(running)
}

/// Phase 2 on `database`, which it migrates and fills with its demo data.
pub async fn start_phase2(database: TestDatabase) -> anyhow::Result<RunningPhase> {
    let config = phase2_frameworks::Config::new(database.database.url());
    let app = phase2_frameworks::build(config, listener()?).await?;
    RunningPhase::new(app, Some(database), Vec::new())
}

/// Phase 3's configuration for `database`: the in-process key-value store, MongoDB when
/// `MONGODB_URL` names one, and a namespace (Redis prefix, MongoDB database) of this run's own.
pub fn phase3_config(database: &TestDatabase) -> phase3_db::Config {
    let mut config = phase3_db::Config::new(database.database.url());
    config.mongodb_url = service_url("MONGODB_URL");
    config.namespace = unique_name("grader");
    config
}

/// Phase 3 on `database` with `config`; what it keeps in Redis and MongoDB (under
/// `config.namespace`) is removed by [`RunningPhase::stop`].
pub async fn start_phase3(
    database: TestDatabase,
    config: phase3_db::Config,
) -> anyhow::Result<RunningPhase> {
    let mut leftovers = Vec::new();
    if let Some(url) = &config.redis_url {
        leftovers.push(Leftover::RedisKeys {
            url: url.clone(),
            prefix: config.namespace.clone(),
        });
    }
    if let Some(url) = &config.mongodb_url {
        leftovers.push(Leftover::MongoDatabase {
            url: url.clone(),
            name: config.namespace.clone(),
        });
    }
    let app = phase3_db::build(config, listener()?).await?;
    RunningPhase::new(app, Some(database), leftovers)
}

/// Phase 4 on `database` with `config`: with a `redis_url`, its idempotency records and rate
/// limits are kept under `redis_prefix`, removed by [`RunningPhase::stop`].
pub async fn start_phase4(
    database: TestDatabase,
    config: phase4_security::Config,
) -> anyhow::Result<RunningPhase> {
    let leftovers = redis_keys(config.redis_url.as_deref(), &config.redis_prefix);
    let app = phase4_security::build(config, listener()?).await?;
    RunningPhase::new(app, Some(database), leftovers)
}

/// Phase 5 on `database` with `config`: with a `redis_url`, its report cache is shared under
/// `redis_prefix`, removed by [`RunningPhase::stop`].
pub async fn start_phase5(
    database: TestDatabase,
    config: phase5_perf::Config,
) -> anyhow::Result<RunningPhase> {
    let leftovers = redis_keys(config.redis_url.as_deref(), &config.redis_prefix);
    let app = phase5_perf::build(config, listener()?).await?;
    RunningPhase::new(app, Some(database), leftovers)
}

/// The keys under `prefix` in the Redis at `url`, if there is one: what a phase keeps there.
fn redis_keys(url: Option<&str>, prefix: &str) -> Vec<Leftover> {
    url.into_iter()
        .map(|url| Leftover::RedisKeys {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        })
        .collect()
}

/// Phase 7's configuration for grading on `database`: errors sent to a receiver the grader starts
/// (see [`start_phase7`]), the fault routes that make them mounted, Redis when `REDIS_URL` names
/// one, under a prefix of this run's own.
pub fn phase7_config(database: &TestDatabase) -> phase7_deploy::Config {
    let mut config = phase7_deploy::Config::local(database.database.url());
    config.environment = "grading".to_owned();
    config.fault_routes = true;
    config.redis_url = service_url("REDIS_URL").map(Into::into);
    config.redis_prefix = unique_name("grader");
    config
}

/// Phase 7 on `database` with `config`, sending its error events to a receiver of the grader's
/// and logging into this process's captured log, which the checks of 7.3 and 7.5 read.
pub async fn start_phase7(
    database: TestDatabase,
    mut config: phase7_deploy::Config,
) -> anyhow::Result<RunningPhase> {
    let receiver = std::sync::Arc::new(
        common::tracking::Receiver::start().context("starting the error receiver")?,
    );
    config.sentry_dsn = Some(receiver.dsn());
    let leftovers = redis_keys(
        config
            .redis_url
            .as_ref()
            .map(common::config::SecretUrl::expose),
        &config.redis_prefix,
    );
    let log = common::telemetry::capture();
    let app = phase7_deploy::build(config, listener()?).await?;
    let mut running = RunningPhase::new(app, Some(database), leftovers)?;
    running.target = running.target.with_errors(receiver);
    if let Some(log) = log {
        running.target = running.target.with_log(log);
    }
    Ok(running)
}

/// The shop's configuration for grading on `database`: Redis (its idempotency records and rate
/// limits) under a prefix of the run's own when `REDIS_URL` names one, and a rate limit the
/// overselling check's 120 requests stay under.
pub fn shop_config(database: &TestDatabase) -> shop::Config {
    let mut config = shop::Config::local(database.database.url());
    config.redis_url = service_url("REDIS_URL").map(Into::into);
    config.redis_prefix = unique_name("grader");
    config.rate_limit = 10_000;
    config
}

/// The fake Stripe's keys while the grader runs the shop.
const STRIPE_KEY: &str = "sk_test_grader";
const STRIPE_WEBHOOK_SECRET: &str = "whsec_grader";

/// A fake Stripe for a shop the grader grades: `config` is pointed at it.
pub fn fake_stripe(config: &mut shop::Config) -> anyhow::Result<shop::fake_stripe::FakeStripe> {
    let fake = shop::fake_stripe::FakeStripe::start(STRIPE_KEY, STRIPE_WEBHOOK_SECRET)?;
    config.stripe_api_base = fake.base.clone();
    config.stripe_secret_key = Some(STRIPE_KEY.to_owned());
    config.stripe_webhook_secret = Some(STRIPE_WEBHOOK_SECRET.to_owned());
    Ok(fake)
}

/// The shop on `database` with `config`, paying through a fake Stripe the checks can reach; its
/// Redis keys are removed by [`RunningPhase::stop`].
pub async fn start_shop(
    database: TestDatabase,
    mut config: shop::Config,
) -> anyhow::Result<RunningPhase> {
    let fake = fake_stripe(&mut config)?;
    let leftovers = redis_keys(
        config.redis_url.as_ref().map(|url| url.expose()),
        &config.redis_prefix,
    );
    let app = shop::build(config, listener()?).await?;
    let mut running = RunningPhase::new(app, Some(database), leftovers)?;
    running.target = running.target.with_stripe(fake);
    Ok(running)
}

/// The chat's configuration for grading on `database`: Redis (fan-out, presence, rate limits)
/// under a prefix of the run's own when `REDIS_URL` names one.
pub fn chat_config(database: &TestDatabase) -> chat::Config {
    let mut config = chat::Config::local(database.database.url());
    config.redis_url = service_url("REDIS_URL").map(Into::into);
    config.redis_prefix = unique_name("grader");
    config
}

/// The chat on `database` with `config`; its Redis keys are removed by [`RunningPhase::stop`].
pub async fn start_chat(
    database: TestDatabase,
    config: chat::Config,
) -> anyhow::Result<RunningPhase> {
    let leftovers = redis_keys(
        config.redis_url.as_ref().map(|url| url.expose()),
        &config.redis_prefix,
    );
    let app = chat::build(config, listener()?).await?;
    RunningPhase::new(app, Some(database), leftovers)
}

/// The shortener's configuration for grading on `database`: Redis (its cache tier and rate
/// limits) under a prefix of the run's own when `REDIS_URL` names one.
pub fn shortener_config(database: &TestDatabase) -> shortener::Config {
    let mut config = shortener::Config::local(database.database.url());
    config.redis_url = service_url("REDIS_URL").map(Into::into);
    config.redis_prefix = unique_name("grader");
    config
}

/// The shortener on `database` with `config`; its Redis keys are removed by
/// [`RunningPhase::stop`].
pub async fn start_shortener(
    database: TestDatabase,
    config: shortener::Config,
) -> anyhow::Result<RunningPhase> {
    let leftovers = redis_keys(
        config.redis_url.as_ref().map(|url| url.expose()),
        &config.redis_prefix,
    );
    let app = shortener::build(config, listener()?).await?;
    RunningPhase::new(app, Some(database), leftovers)
}
