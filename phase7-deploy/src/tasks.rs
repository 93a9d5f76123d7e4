//! Tasks: the API this phase deploys, a to-do list. Small on purpose; what it shows is around it:
//! each change is counted as a business metric ([`crate::metrics`]), each read may come from Redis
//! (read-through, 60 s, removed on every change, with a marker that keeps a read in flight from
//! putting the old row back), and Redis failing makes a read at most 250 ms slower (it goes to the
//! database, and puts nothing back) without failing it. A change that cannot remove its cached
//! copy is a 500 after its commit: a stale copy served for a minute was judged worse.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use common::ApiError;
use common::db::{Database, blocking, write_transaction};
use common::extract::{Path, ValidJson};
use common::redis::within;
use diesel::prelude::*;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::metrics::TaskMetrics;
use crate::schema::tasks;

/// How long a task stays in Redis; every change removes it at once.
const CACHED_FOR: Duration = Duration::from_secs(60);

/// How many tasks `GET /tasks` lists: the most recent.
pub const LISTED: i64 = 100;

/// What the routes share.
#[derive(Clone)]
pub struct TaskList {
    pub database: Database,
    pub cache: Option<Cache>,
    pub metrics: TaskMetrics,
}

impl std::fmt::Debug for TaskList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskList")
            .field("database", &self.database)
            .field("cache", &self.cache.as_ref().map(|cache| &cache.prefix))
            .finish_non_exhaustive()
    }
}

/// Tasks in Redis, under `{prefix}:task:{id}`.
#[derive(Clone)]
#[expect(
    missing_debug_implementations,
    reason = "redis's connection has no Debug"
)]
pub struct Cache {
    pub connection: redis::aio::ConnectionManager,
    pub prefix: String,
}

impl Cache {
    fn key(&self, id: i32) -> String {
        format!("{}:task:{id}", self.prefix)
    }

    /// The cached task, if Redis has it and answers within 250 ms.
    async fn get(&self, id: i32) -> Lookup {
        let mut connection = self.connection.clone();
        let found: anyhow::Result<Option<String>> = within(connection.get(self.key(id))).await;
        match found {
            Ok(Some(text)) => serde_json::from_str(&text).map_or(Lookup::Miss, Lookup::Hit),
            Ok(None) => Lookup::Miss,
            Err(err) => {
                tracing::warn!(error = %format_args!("{err:#}"), "the task cache is unavailable; reading the database");
                Lookup::Unavailable
            }
        }
    }

    /// Keeps `task` for [`CACHED_FOR`], unless the key is taken: by a fresher copy, or by the
    /// marker a change leaves (see [`Cache::forget`]).
    async fn put(&self, task: &Task) {
        let Ok(text) = serde_json::to_string(task) else {
            return;
        };
        let mut connection = self.connection.clone();
        let stored: anyhow::Result<Option<String>> = within(
            redis::cmd("SET")
                .arg(self.key(task.id))
                .arg(text)
                .arg("EX")
                .arg(CACHED_FOR.as_secs())
                .arg("NX")
                .query_async(&mut connection),
        )
        .await;
        if let Err(err) = stored {
            tracing::warn!(error = %format_args!("{err:#}"), "could not cache a task");
        }
    }

    /// Removes task `id`, leaving for [`FORGOTTEN_FOR`] a marker that no read puts a copy over:
    /// a read that fetched the old row before the change committed would otherwise cache it
    /// again, stale, for a minute. A failure is an error, for the same reason.
    async fn forget(&self, id: i32) -> Result<(), ApiError> {
        let mut connection = self.connection.clone();
        let removed: anyhow::Result<()> =
            within(connection.set_ex(self.key(id), FORGOTTEN, FORGOTTEN_FOR.as_secs())).await;
        removed.map_err(|err| ApiError::internal(err.context("removing a cached task")))
    }
}

/// What the cache said.
enum Lookup {
    Hit(Task),
    Miss,
    /// Redis did not answer: the database is asked, and nothing is put back.
    Unavailable,
}

/// What a change leaves in a task's key: not a task, so a read takes it for a miss.
const FORGOTTEN: &str = "forgotten";

/// How long the marker stays: longer than a read takes between its database read and its `SET`.
const FORGOTTEN_FOR: Duration = Duration::from_secs(2);

/// A task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub struct Task {
    pub id: i32,
    #[schema(example = "Ship phase 7")]
    pub title: String,
    pub done: bool,
}

/// A new task.
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// 1 to 200 characters, none of them a control character.
    #[validate(
        length(min = 1, max = 200),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
        example = "Ship phase 7"
    )]
    pub title: String,
}

/// A change to a task: the fields to change, and only those.
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskChange {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "common::rules::printable")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub title: Option<String>,
    pub done: Option<bool>,
}

fn no_task(id: i32) -> ApiError {
    ApiError::not_found(format!("no task has the id {id}"))
}

fn find(conn: &mut common::db::AnyConnection, id: i32) -> QueryResult<Option<Task>> {
    tasks::table
        .find(id)
        .select(Task::as_select())
        .first(conn)
        .optional()
}

#[utoipa::path(
    tag = "tasks",
    responses((status = 200, description = "The 100 most recent tasks, newest first", body = [Task])),
)]
#[get("/tasks")]
pub(crate) async fn list_tasks(list: web::Data<TaskList>) -> Result<HttpResponse, ApiError> {
    let tasks = blocking(move || {
        let mut conn = list.database.conn()?;
        tasks::table
            .order(tasks::id.desc())
            .limit(LISTED)
            .select(Task::as_select())
            .load(&mut conn)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(tasks))
}

#[utoipa::path(
    tag = "tasks",
    request_body = NewTask,
    responses(
        (status = 201, description = "Created", body = Task,
            headers(("Location" = String, description = "`/tasks/{id}`"))),
    ),
)]
#[post("/tasks")]
pub(crate) async fn create_task(
    list: web::Data<TaskList>,
    ValidJson(new): ValidJson<NewTask>,
) -> Result<HttpResponse, ApiError> {
    let metrics = list.metrics.clone();
    let task = blocking(move || {
        let mut conn = list.database.conn()?;
        let id: i32 = common::with_backend!(&mut *conn, |c| {
            diesel::insert_into(tasks::table)
                .values((tasks::title.eq(&new.title), tasks::done.eq(false)))
                .returning(tasks::id)
                .get_result(c)
        })?;
        find(&mut conn, id)?.ok_or_else(|| no_task(id))
    })
    .await?;
    metrics.created();
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/tasks/{}", task.id)))
        .json(task))
}

#[utoipa::path(
    tag = "tasks",
    params(("id" = i32, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 404, description = "No such task", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[get("/tasks/{id}")]
pub(crate) async fn get_task(
    list: web::Data<TaskList>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let lookup = match &list.cache {
        Some(cache) => cache.get(id).await,
        None => Lookup::Unavailable,
    };
    if let Lookup::Hit(task) = lookup {
        return Ok(HttpResponse::Ok().json(task));
    }
    let database = list.database.clone();
    let task = blocking(move || {
        let mut conn = database.conn()?;
        find(&mut conn, id)?.ok_or_else(|| no_task(id))
    })
    .await?;
    if let (Some(cache), Lookup::Miss) = (&list.cache, lookup) {
        cache.put(&task).await;
    }
    Ok(HttpResponse::Ok().json(task))
}

#[utoipa::path(
    tag = "tasks",
    params(("id" = i32, Path, description = "The task's id")),
    request_body = TaskChange,
    responses(
        (status = 200, description = "The task, changed", body = Task),
        (status = 404, description = "No such task", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[patch("/tasks/{id}")]
pub(crate) async fn change_task(
    list: web::Data<TaskList>,
    Path(id): Path<i32>,
    ValidJson(change): ValidJson<TaskChange>,
) -> Result<HttpResponse, ApiError> {
    let database = list.database.clone();
    // One write transaction (SQLite takes its write lock first: see `write_transaction`), and
    // only the fields given are written, so that two PATCHes of different fields both stand.
    // `done` changes only if it is not already so: the request that changes it is the one that
    // counts it, however many race.
    let (after, completed) = blocking(move || {
        let mut conn = database.conn()?;
        write_transaction(&mut conn, |conn| {
            find(conn, id)?.ok_or_else(|| no_task(id))?;
            if let Some(title) = &change.title {
                diesel::update(tasks::table.find(id))
                    .set(tasks::title.eq(title))
                    .execute(conn)?;
            }
            let mut completed = false;
            if let Some(done) = change.done {
                let changed = diesel::update(
                    tasks::table
                        .filter(tasks::id.eq(id))
                        .filter(tasks::done.eq(!done)),
                )
                .set(tasks::done.eq(done))
                .execute(conn)?;
                completed = done && changed == 1;
            }
            let after = find(conn, id)?.ok_or_else(|| no_task(id))?;
            Ok::<_, ApiError>((after, completed))
        })
    })
    .await?;
    if let Some(cache) = &list.cache {
        cache.forget(id).await?;
    }
    if completed {
        list.metrics.completed();
    }
    Ok(HttpResponse::Ok().json(after))
}

#[utoipa::path(
    tag = "tasks",
    params(("id" = i32, Path, description = "The task's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such task", content_type = "application/problem+json", body = common::Problem),
    ),
)]
#[delete("/tasks/{id}")]
pub(crate) async fn delete_task(
    list: web::Data<TaskList>,
    Path(id): Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let database = list.database.clone();
    let deleted = blocking(move || {
        let mut conn = database.conn()?;
        diesel::delete(tasks::table.find(id))
            .execute(&mut conn)
            .map_err(ApiError::from)
    })
    .await?;
    if deleted == 0 {
        return Err(no_task(id));
    }
    if let Some(cache) = &list.cache {
        cache.forget(id).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
