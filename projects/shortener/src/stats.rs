//! Analytics: what the owner of a link learns of its visits.
//!
//! **Roadmap:** the project's "analytics", over the visits [`crate::visits`] has counted.
//!
//! **Python:** a `GROUP BY date_trunc('day', visited_at)` over a visits table, and a Jinja page
//! with Chart.js from a CDN.
//!
//! **Rust:** `GET /links/{code}/stats` reads the link's hourly counts and adds them up: people
//! (every visit not flagged as a bot) by day and by hour, by referring host and by browser
//! family; bots apart, by family; unique visitors per day from the salted hashes. The numbers
//! are those written so far: the writer is usually milliseconds behind the redirects.
//! `GET /links/{code}/stats.html` is a page for a person, the same for every link that exists
//! and holding no data: its script reads an access token from the part of the URL after `#` (which a browser
//! never sends, so it reaches no server and no log), fetches the JSON with it, and draws the
//! bars as SVG. Nothing is loaded from elsewhere, and its `Content-Security-Policy` lets it
//! talk to this service only.
//!
//! **Why:** the analytics of a shortener are its product, and they must not cost the redirect:
//! every number here comes from counts made in batches, after the redirects have answered.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use common::ApiError;
use common::db::blocking;
use common::extract::Path;
use diesel::dsl::count_star;
use diesel::prelude::*;
use phase4_security::auth::Caller;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Shortener;
use crate::links::owned;
use crate::schema::{visit_counts, visitors};

/// What a link's visits add up to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub code: String,
    /// Visits by people: every visit not flagged as a bot. HEAD requests are never visits.
    pub visits: i64,
    /// Visits by crawlers, link previewers and other programs.
    pub bot_visits: i64,
    /// People counted once a day each, summed over the days.
    pub unique_visitors: i64,
    pub by_day: Vec<DayCount>,
    pub by_hour: Vec<HourCount>,
    pub referrers: Vec<Named>,
    pub browsers: Vec<Named>,
    pub bots: Vec<Named>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayCount {
    #[schema(example = "2026-12-02")]
    pub day: String,
    pub visits: i64,
    pub unique_visitors: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HourCount {
    /// The hour's start, UTC.
    #[schema(value_type = String, format = DateTime)]
    pub hour: DateTime<Utc>,
    pub visits: i64,
}

/// A count under a name: a referring host (`direct` when there was none), a browser, a bot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Named {
    pub name: String,
    pub visits: i64,
}

fn day_name(day: i64) -> String {
    DateTime::from_timestamp(day * 86_400, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// Largest first, then by name.
fn ranked(counts: BTreeMap<String, i64>) -> Vec<Named> {
    let mut named: Vec<Named> = counts
        .into_iter()
        .map(|(name, visits)| Named { name, visits })
        .collect();
    named.sort_by(|a, b| b.visits.cmp(&a.visits).then_with(|| a.name.cmp(&b.name)));
    named
}

#[utoipa::path(
    tag = "analytics",
    params(("code" = String, Path, description = "The link's code")),
    responses(
        (status = 200, description = "The link's visits, as counted so far", body = Stats),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 403, description = "Someone else's link", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = []), ("api_key" = [])),
)]
#[get("/links/{code}/stats")]
pub(crate) async fn link_stats(
    caller: Caller,
    shortener: web::Data<Shortener>,
    Path(code): Path<String>,
) -> Result<HttpResponse, ApiError> {
    let state = shortener.clone();
    let stats = blocking(move || {
        let mut conn = state.database.conn()?;
        let link = owned(&mut conn, &code, &caller)?;
        let rows: Vec<(i64, String, String, bool, i64)> = visit_counts::table
            .filter(visit_counts::link_id.eq(link.id))
            .select((
                visit_counts::hour,
                visit_counts::referrer,
                visit_counts::agent,
                visit_counts::bot,
                visit_counts::visits,
            ))
            .load(&mut *conn)?;
        let uniques: Vec<(i64, i64)> = visitors::table
            .filter(visitors::link_id.eq(link.id))
            .group_by(visitors::day)
            .select((visitors::day, count_star()))
            .load(&mut *conn)?;
        Ok::<_, ApiError>(summarise(link.code, &rows, &uniques))
    })
    .await?;
    Ok(HttpResponse::Ok().json(stats))
}

fn summarise(
    code: String,
    rows: &[(i64, String, String, bool, i64)],
    uniques: &[(i64, i64)],
) -> Stats {
    let uniques: BTreeMap<i64, i64> = uniques.iter().copied().collect();
    let (mut days, mut hours) = (BTreeMap::<i64, i64>::new(), BTreeMap::<i64, i64>::new());
    let (mut referrers, mut browsers, mut bots) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let (mut visits, mut bot_visits) = (0, 0);
    for (hour, referrer, agent, bot, count) in rows {
        if *bot {
            bot_visits += count;
            *bots.entry(agent.clone()).or_insert(0) += count;
            continue;
        }
        visits += count;
        *days.entry(hour.div_euclid(86_400)).or_insert(0) += count;
        *hours.entry(*hour).or_insert(0) += count;
        let referrer = if referrer.is_empty() {
            "direct"
        } else {
            referrer
        };
        *referrers.entry(referrer.to_owned()).or_insert(0) += count;
        *browsers.entry(agent.clone()).or_insert(0) += count;
    }
    let mut day_keys: Vec<i64> = days.keys().chain(uniques.keys()).copied().collect();
    day_keys.sort_unstable();
    day_keys.dedup();
    Stats {
        code,
        visits,
        bot_visits,
        unique_visitors: uniques.values().sum(),
        by_day: day_keys
            .into_iter()
            .map(|day| DayCount {
                day: day_name(day),
                visits: days.get(&day).copied().unwrap_or(0),
                unique_visitors: uniques.get(&day).copied().unwrap_or(0),
            })
            .collect(),
        by_hour: hours
            .into_iter()
            .map(|(hour, visits)| HourCount {
                hour: DateTime::from_timestamp(hour, 0).unwrap_or_default(),
                visits,
            })
            .collect(),
        referrers: ranked(referrers),
        browsers: ranked(browsers),
        bots: ranked(bots),
    }
}

/// The page: `static/stats.html`, compiled in.
const PAGE: &str = include_str!("../static/stats.html");

#[utoipa::path(
    tag = "analytics",
    params(("code" = String, Path, description = "The link's code")),
    responses(
        (status = 200, description = "A page with a chart of the link's visits, for a person: open it with `#token=` and an access token after the URL", content_type = "text/html"),
        (status = 404, description = "No such link", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[get("/links/{code}/stats.html")]
pub(crate) async fn stats_page(
    shortener: web::Data<Shortener>,
    Path(code): Path<String>,
) -> Result<HttpResponse, ApiError> {
    crate::links::must_exist(&shortener, &code).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
            ),
        ))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // Asked again each time: the link may be gone.
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .body(PAGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_and_bots_are_added_up_apart() {
        let day = 20_424; // 2025-12-02
        let hour = day * 86_400 + 3 * 3600;
        let rows = vec![
            (
                hour,
                "news.example".to_owned(),
                "Chrome".to_owned(),
                false,
                5,
            ),
            (hour, String::new(), "Firefox".to_owned(), false, 2),
            (
                hour + 3600,
                "news.example".to_owned(),
                "Chrome".to_owned(),
                false,
                1,
            ),
            (hour, String::new(), "Googlebot".to_owned(), true, 7),
            (hour + 86_400, String::new(), "Chrome".to_owned(), false, 4),
        ];
        let stats = summarise("abc".to_owned(), &rows, &[(day, 3), (day + 1, 1)]);
        assert_eq!(
            (stats.visits, stats.bot_visits, stats.unique_visitors),
            (12, 7, 4)
        );
        let days: Vec<(&str, i64, i64)> = stats
            .by_day
            .iter()
            .map(|d| (d.day.as_str(), d.visits, d.unique_visitors))
            .collect();
        assert_eq!(days, [("2025-12-02", 8, 3), ("2025-12-03", 4, 1)]);
        assert_eq!(stats.by_hour.len(), 3);
        assert_eq!(stats.by_hour[0].visits, 7);
        assert_eq!(
            (stats.referrers[0].name.as_str(), stats.referrers[0].visits),
            ("direct", 6)
        );
        assert_eq!(
            (stats.browsers[0].name.as_str(), stats.browsers[0].visits),
            ("Chrome", 10)
        );
        assert_eq!(stats.bots.len(), 1);
    }
}
