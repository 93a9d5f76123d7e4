//! Visits, recorded off the hot path: a bounded channel, and a writer that counts in batches.
//!
//! **Roadmap:** "high read traffic" with analytics: every redirect is also a write, and the write
//! must not become the redirect's cost.
//!
//! **Python:** `BackgroundTasks.add_task(record_visit, ...)` in FastAPI (which runs after the
//! response, in the same worker, one INSERT a visit), or a Celery task per visit; a batching
//! writer behind an `asyncio.Queue(maxsize=...)` with `put_nowait` when it must never block.
//!
//! **Rust:** [`Visits::record`] puts the visit on a `tokio::sync::mpsc` channel with
//! `try_send`: it never waits, and when the channel is full (the database has fallen behind
//! by [`Config::visit_buffer`](crate::Config) visits) the visit is dropped and counted in
//! `shortener_visits_dropped_total`. One writer thread wakes up when a visit arrives, lets the
//! next ones gather for [`GATHER`] (50 ms), and writes what has arrived, up to [`BATCH`] at a
//! time, one transaction each:
//! - visits are *counted*, not stored one by one: one row per link, hour, referring host, browser
//!   family and bot-or-not gets `visits = visits + n` (an upsert), so a thousand visits from one
//!   campaign are one row written;
//! - who is a bot is decided here, not in the request: isbot's list of crawler and link-preview
//!   patterns (Slackbot, facebookexternalhit, Googlebot, `curl`, ...), and no user agent at all.
//!   The browser family is woothee's. Both are remembered per user agent, so a user agent seen
//!   before costs a hash look-up;
//! - a unique visitor is a hash of the day's salt, the address and the user agent, stored once a
//!   link and day. The raw address is never stored; the salt is random, shared by the instances in
//!   the database, and deleted after two days, after which nobody (this service included) can
//!   tell whose hash is whose.
//!
//! A batch that fails is tried again three times (with 100 ms, 200 ms and 400 ms between), and then
//! counted as dropped with `reason="database"`. On shutdown the writer empties the channel before
//! it ends.
//!
//! **Why:** the redirect answers from memory in microseconds; one INSERT per visit would make
//! the database the limit of the redirect rate, and its failures the redirect's failures.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderValue};
use common::db::{AnyConnection, Database, write_transaction};
use diesel::prelude::*;
use diesel::upsert::excluded;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::schema::{links, visit_counts, visitor_salts, visitors};

/// The most visits written in one transaction.
pub const BATCH: usize = 16_384;
/// How long the writer lets visits gather after the first of a batch: how far behind the
/// redirects the statistics are, at most, while the database keeps up.
pub const GATHER: Duration = Duration::from_millis(50);
/// How many user agents the writer remembers the verdict on.
const AGENTS_REMEMBERED: usize = 10_000;
/// Rows a single INSERT carries (SQLite allows 32,766 parameters; six a row).
const ROWS_PER_INSERT: usize = 1000;

/// One visit, as the redirect hands it over: cheap to make (the header values are shared, not
/// copied).
#[derive(Debug, Clone)]
pub struct Visit {
    pub link_id: i32,
    /// Unix seconds.
    pub at: i64,
    pub ip: IpAddr,
    pub user_agent: Option<HeaderValue>,
    pub referrer: Option<HeaderValue>,
}

impl Visit {
    pub fn of(req: &HttpRequest, link_id: i32, ip: IpAddr, at: i64) -> Self {
        let headers = req.headers();
        Self {
            link_id,
            at,
            ip,
            user_agent: headers.get(header::USER_AGENT).cloned(),
            referrer: headers.get(header::REFERER).cloned(),
        }
    }
}

/// The visit counters, for `/metrics`.
#[derive(Debug, Clone)]
pub struct VisitMetrics {
    recorded: IntCounter,
    dropped_full: IntCounter,
    dropped_database: IntCounter,
    batches: IntCounter,
}

impl VisitMetrics {
    pub fn new(registry: &Registry) -> anyhow::Result<Self> {
        let recorded = IntCounter::with_opts(Opts::new(
            "shortener_visits_recorded_total",
            "Visits written to the database",
        ))?;
        let dropped = IntCounterVec::new(
            Opts::new(
                "shortener_visits_dropped_total",
                "Visits not recorded: the buffer was full, or the database refused the batch",
            ),
            &["reason"],
        )?;
        let batches = IntCounter::with_opts(Opts::new(
            "shortener_visit_batches_total",
            "Transactions the visit writer has committed",
        ))?;
        registry.register(Box::new(recorded.clone()))?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(batches.clone()))?;
        Ok(Self {
            recorded,
            dropped_full: dropped.with_label_values(&["full"]),
            dropped_database: dropped.with_label_values(&["database"]),
            batches,
        })
    }

    pub fn recorded(&self) -> u64 {
        self.recorded.get()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped_full.get() + self.dropped_database.get()
    }
}

/// Where redirects leave their visits. Clones share the channel.
#[derive(Debug, Clone)]
pub struct Visits {
    sender: mpsc::Sender<Visit>,
    metrics: VisitMetrics,
}

impl Visits {
    /// The channel, holding up to `capacity` visits, and its writer on a thread of its own (it
    /// ends, having written everything, once every `Visits` is dropped).
    pub fn start(
        database: Database,
        capacity: usize,
        metrics: VisitMetrics,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let writer = Writer {
            database,
            metrics: metrics.clone(),
            classifier: Classifier::new(),
            salts: HashMap::new(),
        };
        let handle = tokio::task::spawn_blocking(move || writer.run(receiver));
        (Self { sender, metrics }, handle)
    }

    /// Hands `visit` to the writer, or counts it as dropped when the buffer is full: never waits.
    pub fn record(&self, visit: Visit) {
        if self.sender.try_send(visit).is_err() {
            self.metrics.dropped_full.inc();
        }
    }

    pub fn metrics(&self) -> &VisitMetrics {
        &self.metrics
    }
}

/// What the writer knows of a user agent.
#[derive(Debug, Clone)]
struct Agent {
    family: String,
    bot: bool,
}

/// Tells bots from people, and names the browser; remembers its verdicts.
struct Classifier {
    agents: HashMap<HeaderValue, Agent>,
    bots: isbot::Bots,
    browsers: woothee::parser::Parser,
}

struct Writer {
    database: Database,
    metrics: VisitMetrics,
    classifier: Classifier,
    /// The salts of the days seen lately.
    salts: HashMap<i64, String>,
}

/// The key of a row of `visit_counts`.
type CountKey = (i32, i64, String, String, bool);

/// A batch, counted.
#[derive(Debug, Default)]
struct Summary {
    counts: HashMap<CountKey, i64>,
    /// (link, day, ip, user agent) of each human visit; hashed once the day's salt is known.
    people: HashSet<(i32, i64, IpAddr, Option<HeaderValue>)>,
    visits: u64,
}

impl Classifier {
    fn new() -> Self {
        Self {
            agents: HashMap::new(),
            bots: isbot::Bots::default(),
            browsers: woothee::parser::Parser::new(),
        }
    }

    fn agent(&mut self, user_agent: Option<&HeaderValue>) -> Agent {
        let Some(user_agent) = user_agent else {
            return Agent {
                family: "none".to_owned(),
                bot: true,
            };
        };
        if let Some(agent) = self.agents.get(user_agent) {
            return agent.clone();
        }
        let text = String::from_utf8_lossy(user_agent.as_bytes());
        let parsed = self.browsers.parse(&text);
        let bot =
            self.bots.is_bot(&text) || parsed.as_ref().is_some_and(|p| p.category == "crawler");
        let family = parsed
            .map(|p| p.name)
            .filter(|name| !name.is_empty() && *name != "UNKNOWN")
            .unwrap_or(if bot { "other bot" } else { "other" })
            .to_owned();
        let agent = Agent { family, bot };
        if self.agents.len() >= AGENTS_REMEMBERED {
            self.agents.clear();
        }
        self.agents.insert(user_agent.clone(), agent.clone());
        agent
    }
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Visit>) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let Some(first) = receiver.blocking_recv() else {
                return;
            };
            batch.push(first);
            // Let the next visits gather: this thread then wakes up once an interval, not once a
            // visit (a wake-up is a context switch, which at 50,000 visits a second cost the
            // redirects a third of their throughput).
            std::thread::sleep(GATHER);
            loop {
                while batch.len() < BATCH {
                    match receiver.try_recv() {
                        Ok(visit) => batch.push(visit),
                        Err(_) => break,
                    }
                }
                let summary = self.summarise(&batch);
                self.write(&summary);
                let full = batch.len() == BATCH;
                batch.clear();
                if !full {
                    break;
                }
            }
        }
    }

    fn summarise(&mut self, batch: &[Visit]) -> Summary {
        let mut summary = Summary::default();
        for visit in batch {
            let agent = self.classifier.agent(visit.user_agent.as_ref());
            let hour = visit.at - visit.at.rem_euclid(3600);
            let referrer = visit
                .referrer
                .as_ref()
                .and_then(|value| value.to_str().ok())
                .and_then(|text| url::Url::parse(text).ok())
                .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
                .unwrap_or_default();
            if !agent.bot {
                summary.people.insert((
                    visit.link_id,
                    visit.at.div_euclid(86_400),
                    visit.ip,
                    visit.user_agent.clone(),
                ));
            }
            *summary
                .counts
                .entry((visit.link_id, hour, referrer, agent.family, agent.bot))
                .or_insert(0) += 1;
            summary.visits += 1;
        }
        summary
    }

    fn write(&mut self, summary: &Summary) {
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=4 {
            let written = self
                .database
                .conn()
                .and_then(|mut conn| Ok(self.write_once(&mut conn, summary)?));
            match written {
                Ok(()) => {
                    self.metrics.recorded.inc_by(summary.visits);
                    self.metrics.batches.inc();
                    return;
                }
                Err(err) if attempt < 4 => {
                    tracing::warn!(
                        attempt,
                        "writing {} visits failed, trying again: {err:#}",
                        summary.visits
                    );
                    std::thread::sleep(wait);
                    wait *= 2;
                }
                Err(err) => {
                    tracing::error!("dropping {} visits: {err:#}", summary.visits);
                    self.metrics.dropped_database.inc_by(summary.visits);
                }
            }
        }
    }

    fn write_once(&mut self, conn: &mut AnyConnection, summary: &Summary) -> QueryResult<()> {
        let days: HashSet<i64> = summary.people.iter().map(|(_, day, _, _)| *day).collect();
        for day in days {
            if !self.salts.contains_key(&day) {
                let salt = salt_of(conn, day)?;
                self.salts.retain(|known, _| *known >= day - 1);
                self.salts.insert(day, salt);
            }
        }
        let salts = &self.salts;
        write_transaction(conn, |conn| {
            // Links deleted since their visits were made have nothing to count them against.
            let ids: HashSet<i32> = summary.counts.keys().map(|key| key.0).collect();
            let ids: Vec<i32> = ids.into_iter().collect();
            let existing: HashSet<i32> = links::table
                .filter(links::id.eq_any(&ids))
                .select(links::id)
                .load::<i32>(conn)?
                .into_iter()
                .collect();
            let counts: Vec<_> = summary
                .counts
                .iter()
                .filter(|((link, ..), _)| existing.contains(link))
                .map(|((link, hour, referrer, agent, bot), visits)| {
                    (
                        visit_counts::link_id.eq(*link),
                        visit_counts::hour.eq(*hour),
                        visit_counts::referrer.eq(referrer.as_str()),
                        visit_counts::agent.eq(agent.as_str()),
                        visit_counts::bot.eq(*bot),
                        visit_counts::visits.eq(*visits),
                    )
                })
                .collect();
            for rows in counts.chunks(ROWS_PER_INSERT) {
                common::with_backend!(&mut *conn, |c| {
                    diesel::insert_into(visit_counts::table)
                        .values(rows)
                        .on_conflict((
                            visit_counts::link_id,
                            visit_counts::hour,
                            visit_counts::referrer,
                            visit_counts::agent,
                            visit_counts::bot,
                        ))
                        .do_update()
                        .set(
                            visit_counts::visits
                                .eq(visit_counts::visits + excluded(visit_counts::visits)),
                        )
                        .execute(c)
                })?;
            }
            let people: Vec<_> = summary
                .people
                .iter()
                .filter(|(link, ..)| existing.contains(link))
                .filter_map(|(link, day, ip, agent)| {
                    let salt = salts.get(day)?;
                    Some((
                        visitors::link_id.eq(*link),
                        visitors::day.eq(*day),
                        visitors::visitor.eq(visitor_hash(salt, *ip, agent.as_ref())),
                    ))
                })
                .collect();
            for rows in people.chunks(ROWS_PER_INSERT) {
                common::with_backend!(&mut *conn, |c| {
                    diesel::insert_into(visitors::table)
                        .values(rows)
                        .on_conflict_do_nothing()
                        .execute(c)
                })?;
            }
            Ok(())
        })
    }
}

/// The salt of `day`, made now if no instance has made it yet; salts older than yesterday are
/// deleted on the way.
fn salt_of(conn: &mut AnyConnection, day: i64) -> QueryResult<String> {
    diesel::delete(visitor_salts::table.filter(visitor_salts::day.lt(day - 1))).execute(conn)?;
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let fresh: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    common::with_backend!(&mut *conn, |c| {
        diesel::insert_into(visitor_salts::table)
            .values((visitor_salts::day.eq(day), visitor_salts::salt.eq(&fresh)))
            .on_conflict_do_nothing()
            .execute(c)
    })?;
    visitor_salts::table
        .find(day)
        .select(visitor_salts::salt)
        .first(conn)
}

/// Who a visitor is, for counting them once a day: 128 bits of SHA-256 over the day's salt, the
/// address and the user agent.
fn visitor_hash(salt: &str, ip: IpAddr, user_agent: Option<&HeaderValue>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(ip.to_string().as_bytes());
    hasher.update([0]);
    hasher.update(user_agent.map_or(&[][..], HeaderValue::as_bytes));
    crate::hex(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crawlers_previewers_and_tools_are_bots_and_browsers_are_not() {
        let mut classifier = Classifier::new();
        let mut agent = |text: &str| classifier.agent(Some(&HeaderValue::from_str(text).unwrap()));
        let chrome = agent(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        );
        assert!(!chrome.bot);
        assert_eq!(chrome.family, "Chrome");
        let firefox =
            agent("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
        assert_eq!((firefox.family.as_str(), firefox.bot), ("Firefox", false));
        for bot in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "Twitterbot/1.0",
            "curl/8.5.0",
        ] {
            assert!(agent(bot).bot, "{bot}");
        }
        assert!(classifier.agent(None).bot, "no user agent at all");
    }

    #[test]
    fn a_visitor_hash_hides_the_address_and_changes_with_the_salt() {
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let agent = HeaderValue::from_static("Firefox");
        let one = visitor_hash("salt-1", ip, Some(&agent));
        assert_eq!(one.len(), 32);
        assert_eq!(one, visitor_hash("salt-1", ip, Some(&agent)));
        assert_ne!(one, visitor_hash("salt-2", ip, Some(&agent)));
        assert_ne!(one, visitor_hash("salt-1", ip, None));
    }
}
