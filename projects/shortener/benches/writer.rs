//! `cargo bench -p shortener --bench writer`: how many visits a second the analytics writer
//! absorbs, on SQLite (and on PostgreSQL with `DATABASE_URL`).
//!
//! Half a million visits to one link, from 2,000 people (addresses) with five browsers, from three
//! referrers and none, and a bot in ten, are handed to [`Visits::record`] as fast as one thread
//! can; the clock stops when the writer has committed the last of them. The buffer holds them all,
//! so that nothing is dropped and the number is the writer's, not the channel's.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use common::db::testing::TestDatabase;
use diesel::prelude::*;
use shortener::schema::links;
use shortener::visits::{Visit, VisitMetrics, Visits};

const VISITS: usize = 500_000;

const AGENTS: [&str; 6] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
const REFERRERS: [Option<&str>; 4] = [
    None,
    Some("https://news.ycombinator.com/item?id=1"),
    Some("https://www.reddit.com/r/rust/"),
    Some("https://mastodon.social/@someone/1"),
];

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    // A database of its own, dropped afterwards: on the PostgreSQL server of `DATABASE_URL`, or a
    // SQLite file.
    let scratch = TestDatabase::postgres_with(&shortener::SCHEMA)
        .unwrap_or_else(|| TestDatabase::sqlite_with(&shortener::SCHEMA));
    let database = scratch.database.clone();
    phase4_security::seed::seed(&database, &phase4_security::passwords::Passwords::default())
        .await?;
    let link_id: i32 = {
        let mut conn = database.conn()?;
        let code = common::testing::unique_name("bench");
        diesel::insert_into(links::table)
            .values((
                links::code.eq(&code),
                links::destination.eq("https://example.com/"),
                links::owner_id.eq(2),
                links::redirect_status.eq(302),
                links::created_at.eq(0_i64),
                links::updated_at.eq(0_i64),
            ))
            .execute(&mut *conn)?;
        links::table
            .filter(links::code.eq(&code))
            .select(links::id)
            .first(&mut *conn)?
    };
    let metrics = VisitMetrics::new(&prometheus::Registry::new())?;
    let (visits, writer) = Visits::start(database.clone(), VISITS, metrics.clone());
    let agents: Vec<HeaderValue> = AGENTS.iter().map(|a| HeaderValue::from_static(a)).collect();
    let referrers: Vec<Option<HeaderValue>> = REFERRERS
        .iter()
        .map(|r| r.map(HeaderValue::from_static))
        .collect();
    let now = chrono::Utc::now().timestamp();

    let started = Instant::now();
    for i in 0..VISITS {
        let person = u32::try_from(i % 2_000).unwrap_or(0);
        // One visit in ten is the bot's; the others are spread over the five browsers.
        let agent = if i % 10 == 9 { 5 } else { i % 5 };
        visits.record(Visit {
            link_id,
            at: now,
            ip: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + person)),
            user_agent: Some(agents[agent].clone()),
            referrer: referrers[i % 4].clone(),
        });
    }
    let handed = started.elapsed();
    while metrics.recorded() + metrics.dropped() < VISITS as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    drop(visits);
    writer.await?;
    println!(
        "{VISITS} visits on {}: handed over in {:.0} ms, all committed after {:.0} ms: {:.0} visits/s; {} dropped",
        database.display_url,
        handed.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1000.0,
        VISITS as f64 / took.as_secs_f64(),
        metrics.dropped(),
    );
    Ok(())
}
