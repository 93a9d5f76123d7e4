//! Persist, then publish: messages stored in batches, off the socket's path, each with its id.
//!
//! **Roadmap:** "async DB writes": a chat server must not make a socket wait for the database.
//!
//! **Python:** `await db.execute(insert(...))` inside the WebSocket handler: the handler, and the
//! socket, wait for each insert, and a slow database slows every conversation. Or
//! `asyncio.create_task(save(message))` and publish at once: fast, but a message can be seen and
//! then lost, and two readers may see two orders.
//!
//! **Rust:** the socket hands the message to a bounded queue ([`Store::submit`], which never
//! waits: a full queue is an immediate `busy` for the client to retry) and goes back to its
//! frames. One writer task takes what has gathered, up to [`BATCH`] messages, and stores them in
//! one transaction. Only then does it publish them ([`crate::fanout`]) and acknowledge each to its
//! sender: a message anyone has seen is in the database.
//!
//! **Why:** the ids are right because each room's row holds the last id it gave. The writer locks
//! the row (`UPDATE rooms ...`) before it takes ids, so two instances writing to one room take
//! turns, and ids increase in the order their transactions commit. A reader that has seen id 41 has
//! seen every id below it, and `after: 41` is a complete answer. And `(room, user, client_id)` is
//! unique: a message resent after a reconnect finds the first copy, and is acknowledged with its id
//! and `duplicate: true` rather than stored twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use common::db::{AnyConnection, Database, write_transaction};
use diesel::prelude::*;
use tokio::sync::mpsc;

use crate::fanout::{Audience, Broadcast, Fanout, Outbox, Outgoing};
use crate::protocol::{Draft, ErrorCode, Message, ServerFrame};
use crate::schema::{messages, rooms};

/// The most messages one transaction stores. A batch reaches each reader as one burst, so a
/// connection's outbox holds at least two of them and their acknowledgements
/// ([`MIN_OUTBOX`]): a client that reads as fast as the network allows is never taken for a
/// slow one.
pub const BATCH: usize = 32;

/// The smallest outbox a connection may be given.
pub const MIN_OUTBOX: u64 = 2 * BATCH as u64 + 32;

/// How often a batch that failed is tried again before its senders are told to resend.
const ATTEMPTS: u32 = 3;

/// A message on its way to the database.
#[derive(Debug)]
pub struct Submission {
    pub draft: Draft,
    pub user_id: i32,
    pub username: String,
    /// Where the sender's acknowledgement goes.
    pub reply: Outbox,
}

/// The writer's queue.
#[derive(Debug, Clone)]
pub struct Store {
    queue: mpsc::Sender<Submission>,
    metrics: StoreMetrics,
}

/// What the writer counts, at `/metrics`.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    stored: prometheus::IntCounter,
    duplicates: prometheus::IntCounter,
    busy: prometheus::IntCounter,
    failed: prometheus::IntCounter,
    batch: prometheus::Histogram,
}

impl StoreMetrics {
    pub fn new(registry: &prometheus::Registry) -> anyhow::Result<Self> {
        let counter = |name: &str, help: &str| -> anyhow::Result<prometheus::IntCounter> {
            let counter = prometheus::IntCounter::new(name, help)?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let batch = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "chat_store_batch_messages",
                "Messages stored per transaction.",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0]),
        )?;
        registry.register(Box::new(batch.clone()))?;
        Ok(Self {
            stored: counter("chat_messages_stored_total", "Messages stored.")?,
            duplicates: counter(
                "chat_messages_duplicate_total",
                "Messages resent with a client_id stored before, acknowledged and not stored again.",
            )?,
            busy: counter(
                "chat_messages_busy_total",
                "Messages refused because the store's queue was full.",
            )?,
            failed: counter(
                "chat_messages_failed_total",
                "Messages the database did not take after every attempt; their senders were told to resend.",
            )?,
            batch,
        })
    }
}

impl Store {
    /// The queue, of `capacity` messages, and the writer that empties it into `database` and
    /// then publishes through `fanout`; it ends when every [`Store`] is dropped.
    pub fn start(
        database: Database,
        fanout: Arc<Fanout>,
        capacity: usize,
        metrics: StoreMetrics,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(capacity);
        let writer = tokio::spawn(write(database, fanout, receiver, metrics.clone()));
        (Self { queue, metrics }, writer)
    }

    /// Queues `submission` without waiting; a full queue gives it back, for a `busy` answer.
    pub fn submit(&self, submission: Submission) -> Result<(), Box<Submission>> {
        self.queue.try_send(submission).map_err(|err| {
            self.metrics.busy.inc();
            Box::new(err.into_inner())
        })
    }
}

/// What became of one submission.
#[derive(Debug, Clone)]
struct Stored {
    message: Message,
    duplicate: bool,
}

async fn write(
    database: Database,
    fanout: Arc<Fanout>,
    mut receiver: mpsc::Receiver<Submission>,
    metrics: StoreMetrics,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let drafts: Vec<(Draft, i32, String)> = batch
            .iter()
            .map(|s| (s.draft.clone(), s.user_id, s.username.clone()))
            .collect();
        let drafts = Arc::new(drafts);
        let mut outcome = Err(anyhow::anyhow!("not tried"));
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * 4_u64.pow(attempt - 1))).await;
            }
            let (database, drafts) = (database.clone(), drafts.clone());
            outcome = tokio::task::spawn_blocking(move || {
                let mut conn = database.conn()?;
                Ok::<_, anyhow::Error>(store(&mut conn, &drafts, now_ms())?)
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|stored| stored);
            match &outcome {
                Ok(_) => break,
                Err(err) => tracing::warn!(
                    attempt = attempt + 1,
                    messages = batch.len(),
                    "cannot store messages: {err:#}"
                ),
            }
        }
        match outcome {
            Ok(stored) => {
                metrics.batch.observe(batch.len() as f64);
                publish(&fanout, &batch, &stored, &metrics);
            }
            Err(_) => {
                metrics.failed.inc_by(batch.len() as u64);
                for submission in &batch {
                    let frame = ServerFrame::Error {
                        code: ErrorCode::Unavailable,
                        detail: "the message was not stored: send it again with the same client_id",
                        client_id: Some(&submission.draft.client_id),
                        retry_after_ms: Some(1000),
                    };
                    submission.reply.push(Outgoing::Frame(frame.encode()));
                }
            }
        }
        batch.clear();
    }
}

/// After the commit: each new message to its room, everywhere, then each sender's `ack`.
fn publish(fanout: &Fanout, batch: &[Submission], stored: &[Stored], metrics: &StoreMetrics) {
    let frames: Vec<Broadcast<'_>> = stored
        .iter()
        .filter(|stored| !stored.duplicate)
        .map(|stored| Broadcast {
            room: &stored.message.room,
            id: Some(stored.message.id),
            audience: Audience::Everyone,
            text: ServerFrame::Message(&stored.message).encode(),
        })
        .collect();
    metrics.stored.inc_by(frames.len() as u64);
    metrics
        .duplicates
        .inc_by((stored.len() - frames.len()) as u64);
    fanout.send(&frames);
    for (submission, stored) in batch.iter().zip(stored) {
        let ack = ServerFrame::Ack {
            room: &stored.message.room,
            client_id: &stored.message.client_id,
            id: stored.message.id,
            duplicate: stored.duplicate,
        };
        submission.reply.push(Outgoing::Frame(ack.encode()));
    }
}

/// Now, in Unix milliseconds.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Milliseconds as RFC 3339 in UTC.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Stores `drafts` (each with its sender's id and name) in one transaction; what became of each,
/// in the same order.
fn store(
    conn: &mut AnyConnection,
    drafts: &[(Draft, i32, String)],
    now: i64,
) -> QueryResult<Vec<Stored>> {
    write_transaction(conn, |conn| {
        let mut outcome: Vec<Option<Stored>> = vec![None; drafts.len()];
        // Rooms locked in one order by every writer: two instances' batches never deadlock.
        let mut by_room: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, (draft, ..)) in drafts.iter().enumerate() {
            by_room.entry(&draft.room).or_default().push(index);
        }
        for (room, indexes) in by_room {
            common::with_backend!(&mut *conn, |c| {
                diesel::insert_into(rooms::table)
                    .values((
                        rooms::name.eq(room),
                        rooms::last_id.eq(0),
                        rooms::created_at.eq(now),
                    ))
                    .on_conflict_do_nothing()
                    .execute(c)
            })?;
            // Locks the room's row until the commit: the ids below are this transaction's alone.
            let mut last: i64 = common::with_backend!(&mut *conn, |c| {
                diesel::update(rooms::table.find(room))
                    .set(rooms::last_id.eq(rooms::last_id))
                    .returning(rooms::last_id)
                    .get_result(c)
            })?;
            let client_ids: Vec<&str> = indexes
                .iter()
                .map(|&i| drafts[i].0.client_id.as_str())
                .collect();
            let mut known: HashMap<(i32, String), Message> = messages::table
                .filter(messages::room.eq(room))
                .filter(messages::client_id.eq_any(&client_ids))
                .select(MessageRow::as_select())
                .load::<MessageRow>(conn)?
                .into_iter()
                .map(|row| ((row.user_id, row.client_id.clone()), row.into()))
                .collect();
            let mut rows = Vec::new();
            for index in indexes {
                let (draft, user_id, username) = &drafts[index];
                let key = (*user_id, draft.client_id.clone());
                if let Some(message) = known.get(&key) {
                    outcome[index] = Some(Stored {
                        message: message.clone(),
                        duplicate: true,
                    });
                    continue;
                }
                last += 1;
                let message = Message {
                    room: room.to_owned(),
                    id: last,
                    user: username.clone(),
                    body: draft.body.clone(),
                    client_id: draft.client_id.clone(),
                    sent_at: rfc3339(now),
                };
                rows.push(MessageRow {
                    room: room.to_owned(),
                    id: last,
                    user_id: *user_id,
                    username: username.clone(),
                    client_id: draft.client_id.clone(),
                    body: draft.body.clone(),
                    sent_at: now,
                });
                known.insert(key, message.clone());
                outcome[index] = Some(Stored {
                    message,
                    duplicate: false,
                });
            }
            // Seven parameters a row: SQLite allows 32,766 in one statement.
            for chunk in rows.chunks(1000) {
                common::with_backend!(&mut *conn, |c| {
                    diesel::insert_into(messages::table)
                        .values(chunk)
                        .execute(c)
                })?;
            }
            diesel::update(rooms::table.find(room))
                .set(rooms::last_id.eq(last))
                .execute(conn)?;
        }
        Ok(outcome.into_iter().flatten().collect())
    })
}

/// A row of `messages`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
struct MessageRow {
    room: String,
    id: i64,
    user_id: i32,
    username: String,
    client_id: String,
    body: String,
    sent_at: i64,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            room: row.room,
            id: row.id,
            user: row.username,
            body: row.body,
            client_id: row.client_id,
            sent_at: rfc3339(row.sent_at),
        }
    }
}

/// Up to `limit` messages of `room` before id `before` (the newest when `None`), oldest first.
pub fn page(
    conn: &mut AnyConnection,
    room: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    let mut query = messages::table
        .filter(messages::room.eq(room))
        .select(MessageRow::as_select())
        .order(messages::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(messages::id.lt(before));
    }
    let mut rows: Vec<Message> = query
        .load::<MessageRow>(conn)?
        .into_iter()
        .map(Message::from)
        .collect();
    rows.reverse();
    Ok(rows)
}

/// Up to `limit` messages of `room` after id `after`, oldest first.
pub fn since(
    conn: &mut AnyConnection,
    room: &str,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<Message>> {
    Ok(messages::table
        .filter(messages::room.eq(room))
        .filter(messages::id.gt(after))
        .select(MessageRow::as_select())
        .order(messages::id.asc())
        .limit(limit)
        .load::<MessageRow>(conn)?
        .into_iter()
        .map(Message::from)
        .collect())
}

/// The newest id of `room`: 0 for a room without messages.
pub fn latest(conn: &mut AnyConnection, room: &str) -> QueryResult<i64> {
    Ok(rooms::table
        .find(room)
        .select(rooms::last_id)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Every room with messages and its newest id, by name.
pub fn rooms(conn: &mut AnyConnection) -> QueryResult<Vec<(String, i64)>> {
    rooms::table
        .select((rooms::name, rooms::last_id))
        .order(rooms::name.asc())
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::db::testing::TestDatabase;

    fn draft(room: &str, client_id: &str, body: &str) -> Draft {
        Draft {
            room: room.to_owned(),
            client_id: client_id.to_owned(),
            body: body.to_owned(),
        }
    }

    #[tokio::test]
    async fn ids_count_up_per_room_and_a_resend_finds_the_first() {
        for db in TestDatabase::all_with(&crate::SCHEMA) {
            let passwords = phase4_security::passwords::Passwords::default();
            phase4_security::seed::seed(&db.database, &passwords)
                .await
                .unwrap();
            let mut conn = db.database.conn().unwrap();
            let ada = 2; // phase 4's demo users: 1 is admin, 2 is ada
            let first = store(
                &mut conn,
                &[
                    (draft("a", "1", "one"), ada, "ada".into()),
                    (draft("b", "1", "other room"), ada, "ada".into()),
                    (draft("a", "2", "two"), ada, "ada".into()),
                    (
                        draft("a", "2", "two, sent twice in one batch"),
                        ada,
                        "ada".into(),
                    ),
                ],
                1_000,
            )
            .unwrap();
            let ids: Vec<(i64, bool)> = first.iter().map(|s| (s.message.id, s.duplicate)).collect();
            assert_eq!(
                ids,
                [(1, false), (1, false), (2, false), (2, true)],
                "{}",
                db.database.display_url
            );
            let again = store(
                &mut conn,
                &[(draft("a", "1", "one"), ada, "ada".into())],
                2_000,
            )
            .unwrap();
            assert_eq!((again[0].message.id, again[0].duplicate), (1, true));
            assert_eq!(again[0].message.body, "one");
            let third = store(
                &mut conn,
                &[(draft("a", "3", "three"), ada, "ada".into())],
                3_000,
            )
            .unwrap();
            assert_eq!(third[0].message.id, 3);
            assert_eq!(latest(&mut conn, "a").unwrap(), 3);
            let bodies = |messages: Vec<Message>| -> Vec<String> {
                messages.into_iter().map(|m| m.body).collect()
            };
            assert_eq!(
                bodies(page(&mut conn, "a", None, 2).unwrap()),
                ["two", "three"]
            );
            assert_eq!(bodies(page(&mut conn, "a", Some(2), 50).unwrap()), ["one"]);
            assert_eq!(
                bodies(since(&mut conn, "a", 1, 50).unwrap()),
                ["two", "three"]
            );
            assert_eq!(
                rooms(&mut conn).unwrap(),
                [("a".to_owned(), 3), ("b".to_owned(), 1)]
            );
        }
    }
}
