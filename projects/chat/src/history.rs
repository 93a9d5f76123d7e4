//! History over HTTP: the rooms, and each room's messages by cursor.
//!
//! **Roadmap:** a chat's history is read page by page, newest first, as the reader scrolls up,
//! while new messages keep arriving.
//!
//! **Python:** `?page=3&size=50`, i.e. `OFFSET 100`: each new message moves every page by one, so
//! a reader scrolling back sees one message twice or misses one, and the database counts past
//! every skipped row.
//!
//! **Rust:** a cursor, the ids themselves: `?before=42&limit=50` is "the 50 messages before 42",
//! the same 50 whatever was written since, read from the primary key's index. Each page comes
//! oldest first (the order they are shown in), with `next`, the URL of the page before it, also
//! in a `Link: rel="next"` header; `next` is `null` at the first message.
//!
//! **Why:** the WebSocket does not serve history, because a page of history is a cacheable,
//! retryable read that any HTTP tool can make; the socket is for what is new. A client that
//! reconnects after a short gap resumes on the socket (`join` with `after`); after a long one it is
//! told to `reload`, and reads the newest page here.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use common::ApiError;
use common::extract::{Path, Query};
use common::problem::FieldError;
use phase4_security::auth::Caller;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::protocol::{Message, is_room_name};
use crate::socket::Chat;

/// The most messages a page holds.
pub const MAX_LIMIT: i64 = 100;

/// The messages a page holds unless told.
pub const DEFAULT_LIMIT: i64 = 50;

/// A room, as `GET /rooms` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomSummary {
    #[schema(example = "general")]
    pub name: String,
    /// Its newest message's id: 0 before the first.
    #[schema(example = 42)]
    pub latest: i64,
    /// The users in it now, on every instance.
    #[schema(example = 3)]
    pub online: usize,
}

#[utoipa::path(
    tag = "chat",
    responses(
        (status = 200, description = "Every room with messages or people, by name", body = [RoomSummary]),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/rooms")]
pub(crate) async fn list_rooms(
    _caller: Caller,
    chat: web::Data<Chat>,
) -> Result<HttpResponse, ApiError> {
    let database = chat.database.clone();
    let mut rooms = common::db::blocking(move || {
        let mut conn = database.conn()?;
        Ok::<_, anyhow::Error>(crate::store::rooms(&mut conn)?)
    })
    .await?;
    for (room, _) in chat.fanout.hub.occupied() {
        if !rooms.iter().any(|(name, _)| *name == room) {
            rooms.push((room, 0));
        }
    }
    rooms.sort_unstable();
    let names: Vec<String> = rooms.iter().map(|(name, _)| name.clone()).collect();
    let online = chat.presence.counts(&names).await;
    let summaries: Vec<RoomSummary> = rooms
        .into_iter()
        .zip(online)
        .map(|((name, latest), online)| RoomSummary {
            name,
            latest,
            online,
        })
        .collect();
    Ok(HttpResponse::Ok().json(summaries))
}

/// Which page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Messages before this id; the newest when absent.
    #[param(minimum = 1, example = 42)]
    #[serde(default, deserialize_with = "common::query::present")]
    pub before: Option<i64>,
    /// How many, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 50)]
    #[serde(default, deserialize_with = "common::query::present")]
    pub limit: Option<i64>,
}

/// A page of a room's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// The page before this one; `null` at the room's first message.
    #[schema(example = "/rooms/general/messages?before=12&limit=50")]
    pub next: Option<String>,
}

#[utoipa::path(
    tag = "chat",
    params(("room" = String, Path, description = "The room's name", pattern = "^[a-z0-9][a-z0-9-]{0,31}$"), PageQuery),
    responses(
        (status = 200, description = "Up to `limit` messages before `before`, oldest first; `next`, also in `Link`, is the page before", body = Page,
            headers(("Link" = String, description = "`<...>; rel=\"next\"` when there are older messages"))),
        (status = 400, description = "`before` or `limit` out of range, or a parameter this route does not take", content_type = "application/problem+json", body = common::Problem),
        (status = 401, description = "No valid bearer token", content_type = "application/problem+json", body = common::Problem),
        (status = 404, description = "Not a room's name", content_type = "application/problem+json", body = common::Problem),
    ),
    security(("bearer" = [])),
)]
#[get("/rooms/{room}/messages")]
pub(crate) async fn messages(
    _caller: Caller,
    chat: web::Data<Chat>,
    Path(room): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    if !is_room_name(&room) {
        return Err(ApiError::not_found(
            "a room's name is 1 to 32 lower-case letters, digits and dashes",
        ));
    }
    let mut errors = Vec::new();
    if query.before.is_some_and(|before| before < 1) {
        errors.push(FieldError::new(
            "before",
            "range",
            "`before` is an id, 1 or more",
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "range",
            format!("`limit` is 1 to {MAX_LIMIT}"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::bad_request("the page asked for does not exist").with_errors(errors));
    }
    let database = chat.database.clone();
    let name = room.clone();
    let messages = common::db::blocking(move || {
        let mut conn = database.conn()?;
        Ok::<_, anyhow::Error>(crate::store::page(&mut conn, &name, query.before, limit)?)
    })
    .await?;
    let next = messages
        .first()
        .filter(|first| first.id > 1 && i64::try_from(messages.len()) == Ok(limit))
        .map(|first| format!("/rooms/{room}/messages?before={}&limit={limit}", first.id));
    let mut response = HttpResponse::Ok();
    if let Some(next) = &next {
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    Ok(response.json(Page { messages, next }))
}
