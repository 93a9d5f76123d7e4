//! 2.6 ViewSets and routers: full CRUD for a model, registered in one line.
//!
//! **Roadmap:** "ViewSets & Routers: Writing CRUD for a model in 3 lines of code."
//!
//! **Python:** DRF's `ModelViewSet` supplies list, create, retrieve, update, partial_update and
//! destroy; `router.register("authors", AuthorViewSet)` adds the URLs; `pagination_class`,
//! `filterset_fields` and `ordering_fields` add `?page=`, filters and `?ordering=-year`.
//!
//! **Rust:** the same split between what varies and what does not. What varies per model is the
//! [`Crud`] trait: six storage methods and the model's read, write, patch and filter types. What
//! does not vary is [`ViewSet`]: generic handlers for the six actions, DRF's pagination envelope
//! (`count`, `next`, `previous`, `results`), `?ordering=` checked against the fields the model
//! allows, a 404 problem for a missing id, a 422 for invalid input. `ViewSet` is an actix
//! `HttpServiceFactory` *and* a utoipa-actix-web `OpenApiFactory`, so one line registers the routes
//! and documents them:
//!
//! ```text
//! scope.service(ViewSet::new("/authors", authors_repository));
//! ```
//!
//! Storage is synchronous (diesel), so every call runs on actix's blocking pool (`common::db::blocking`).
//!
//! **Why:** generic code with a trait bound is checked for every model at compile time; where DRF
//! finds a missing method at run time, here a model that cannot be listed does not compile.

use std::sync::Arc;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use common::ApiError;
use common::db::blocking;
use common::extract::{Path, Query, ValidJson};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use validator::Validate;

use crate::dependencies::Pagination;
use crate::repository::RepoError;

/// What a model needs to provide to get a [`ViewSet`].
pub trait Crud: Send + Sync + 'static {
    /// The read shape (what every action answers with).
    type Read: Serialize + ToSchema + Send + 'static;
    /// The write shape of create and full update.
    type Write: DeserializeOwned + Validate + ToSchema + Send + 'static;
    /// The shape of a partial update.
    type Patch: DeserializeOwned + Validate + ToSchema + Send + 'static;
    /// The filters the list takes from the query string.
    type Filter: DeserializeOwned + IntoParams + Validate + Send + 'static;

    /// The fields `?ordering=` may name (`-field` sorts descending).
    fn ordering_fields(&self) -> &'static [&'static str];
    /// One page of the filtered, ordered list, and how many there are in all.
    fn list(
        &self,
        filter: &Self::Filter,
        ordering: Option<&Ordering>,
        page: Pagination,
    ) -> Result<(Vec<Self::Read>, i64), RepoError>;
    fn retrieve(&self, id: i32) -> Result<Self::Read, RepoError>;
    fn create(&self, input: Self::Write) -> Result<Self::Read, RepoError>;
    fn update(&self, id: i32, input: Self::Write) -> Result<Self::Read, RepoError>;
    fn partial_update(&self, id: i32, input: Self::Patch) -> Result<Self::Read, RepoError>;
    fn destroy(&self, id: i32) -> Result<(), RepoError>;
}

/// A field to order by, checked against [`Crud::ordering_fields`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordering {
    pub field: &'static str,
    pub descending: bool,
}

#[derive(Debug, Deserialize)]
struct OrderingParam {
    ordering: Option<String>,
}

impl Ordering {
    /// Parses `name` or `-name`; a field the model does not allow is a 422 naming `ordering`.
    fn parse(value: &str, allowed: &'static [&'static str]) -> Result<Self, ApiError> {
        let (descending, name) = match value.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, value),
        };
        let field = allowed
            .iter()
            .find(|field| **field == name)
            .ok_or_else(|| {
                ApiError::unprocessable(vec![common::FieldError::new(
                    "ordering",
                    "choice",
                    format!(
                        "order by one of {} (prefix - to reverse)",
                        allowed.join(", ")
                    ),
                )])
            })?;
        Ok(Self { field, descending })
    }
}

/// DRF's pagination envelope.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page<T> {
    /// How many items match, on all pages.
    pub count: i64,
    /// The URL of the next page, if any.
    pub next: Option<String>,
    /// The URL of the previous page, if any.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// The URL of this request with `page` set to `page`.
fn page_url(req: &HttpRequest, page: u32) -> String {
    let mut url = req.full_url();
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "page")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(others)
        .append_pair("page", &page.to_string());
    url.to_string()
}

#[derive(Debug, Deserialize)]
struct Id {
    id: i32,
}

async fn list<C: Crud + ?Sized>(
    req: HttpRequest,
    repo: web::Data<C>,
    pagination: Pagination,
    Query(filter): Query<C::Filter>,
    Query(OrderingParam { ordering }): Query<OrderingParam>,
) -> Result<HttpResponse, ApiError> {
    filter.validate()?;
    let ordering = ordering
        .map(|value| Ordering::parse(&value, repo.ordering_fields()))
        .transpose()?;
    let repo = repo.into_inner();
    let (results, count) =
        blocking(move || repo.list(&filter, ordering.as_ref(), pagination)).await?;
    let last_page =
        u32::try_from((count - 1).max(0) / i64::from(pagination.page_size) + 1).unwrap_or(u32::MAX);
    Ok(HttpResponse::Ok().json(Page {
        count,
        next: (pagination.page < last_page).then(|| page_url(&req, pagination.page + 1)),
        previous: (pagination.page > 1).then(|| page_url(&req, pagination.page - 1)),
        results,
    }))
}

async fn create<C: Crud + ?Sized>(
    req: HttpRequest,
    repo: web::Data<C>,
    ValidJson(input): ValidJson<C::Write>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    let created = blocking(move || repo.create(input)).await?;
    let value = serde_json::to_value(&created).map_err(ApiError::internal)?;
    let mut response = HttpResponse::Created();
    if let Some(id) = value.get("id") {
        response.insert_header((
            header::LOCATION,
            format!("{}/{id}", req.path().trim_end_matches('/')),
        ));
    }
    Ok(response.json(value))
}

async fn retrieve<C: Crud + ?Sized>(
    repo: web::Data<C>,
    Path(Id { id }): Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    Ok(HttpResponse::Ok().json(blocking(move || repo.retrieve(id)).await?))
}

async fn update<C: Crud + ?Sized>(
    repo: web::Data<C>,
    Path(Id { id }): Path<Id>,
    ValidJson(input): ValidJson<C::Write>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    Ok(HttpResponse::Ok().json(blocking(move || repo.update(id, input)).await?))
}

async fn partial_update<C: Crud + ?Sized>(
    repo: web::Data<C>,
    Path(Id { id }): Path<Id>,
    ValidJson(input): ValidJson<C::Patch>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    Ok(HttpResponse::Ok().json(blocking(move || repo.partial_update(id, input)).await?))
}

async fn destroy<C: Crud + ?Sized>(
    repo: web::Data<C>,
    Path(Id { id }): Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    blocking(move || repo.destroy(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The six CRUD routes of one model under `path`, and their OpenAPI description.
pub struct ViewSet<C: Crud + ?Sized> {
    path: &'static str,
    repo: web::Data<C>,
}

impl<C: Crud + ?Sized> std::fmt::Debug for ViewSet<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ViewSet({})", self.path)
    }
}

impl<C: Crud + ?Sized> ViewSet<C> {
    /// The routes of `repo`'s model at `path` (`/authors`) and `path/{id}`.
    pub fn new(path: &'static str, repo: Arc<C>) -> Self {
        Self {
            path,
            repo: web::Data::from(repo),
        }
    }

    fn tag(&self) -> &'static str {
        self.path.trim_start_matches('/')
    }
}

impl<C: Crud + ?Sized> HttpServiceFactory for ViewSet<C> {
    fn register(self, config: &mut AppService) {
        web::resource(self.path)
            .app_data(self.repo.clone())
            .route(web::get().to(list::<C>))
            .route(web::post().to(create::<C>))
            .register(config);
        web::resource(format!("{}/{{id}}", self.path))
            .app_data(self.repo)
            .route(web::get().to(retrieve::<C>))
            .route(web::put().to(update::<C>))
            .route(web::patch().to(partial_update::<C>))
            .route(web::delete().to(destroy::<C>))
            .register(config);
    }
}

// ---- the OpenAPI half: what `#[utoipa::path]` would write, built for any model ----

fn json(schema: impl Into<RefOr<Schema>>) -> Content {
    Content::new(Some(schema))
}

fn schema_ref<T: ToSchema>() -> Ref {
    Ref::from_schema_name(T::name())
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            common::problem::CONTENT_TYPE,
            json(Ref::from_schema_name("Problem")),
        )
        .build()
}

fn id_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(
            ObjectBuilder::new().schema_type(SchemaType::new(Type::Integer)),
        ))
        .build()
}

fn query_parameter(
    name: &str,
    description: &str,
    schema_type: Type,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new().schema_type(SchemaType::new(schema_type)),
        ))
        .build()
}

impl<C: Crud + ?Sized> ViewSet<C> {
    fn operation(&self, id: &str, summary: String) -> OperationBuilder {
        OperationBuilder::new()
            .tag(self.tag())
            .operation_id(Some(format!("{}_{id}", self.tag())))
            .summary(Some(summary))
    }

    fn list_operation(&self) -> Operation {
        let page = ObjectBuilder::new()
            .property(
                "count",
                ObjectBuilder::new().schema_type(SchemaType::new(Type::Integer)),
            )
            .required("count")
            .property(
                "next",
                ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
            )
            .property(
                "previous",
                ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
            )
            .property(
                "results",
                ArrayBuilder::new().items(schema_ref::<C::Read>()),
            )
            .required("results");
        let mut parameters = vec![
            query_parameter("page", "Page number, from 1", Type::Integer),
            query_parameter(
                "page_size",
                "Items per page, 1 to 100 (default 10)",
                Type::Integer,
            ),
            query_parameter(
                "ordering",
                &format!(
                    "Order by one of: {} (prefix - to reverse)",
                    self.repo.ordering_fields().join(", ")
                ),
                Type::String,
            ),
        ];
        parameters.extend(C::Filter::into_params(|| Some(ParameterIn::Query)));
        self.operation("list", format!("List {}, a page at a time", self.tag()))
            .parameters(Some(parameters))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("One page")
                    .content("application/json", json(page)),
            )
            .response(
                "422",
                problem_response("Invalid paging, ordering or filter"),
            )
            .build()
    }

    fn body(schema: Ref) -> Option<utoipa::openapi::request_body::RequestBody> {
        Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content("application/json", json(schema))
                .build(),
        )
    }

    fn item_response(description: &str) -> utoipa::openapi::Response {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", json(schema_ref::<C::Read>()))
            .build()
    }

    fn paths(&self) -> Paths {
        let collection = PathItem::new(HttpMethod::Get, self.list_operation());
        let mut collection_post = PathItem::new(
            HttpMethod::Post,
            self.operation("create", format!("Add to {}", self.tag()))
                .request_body(Self::body(schema_ref::<C::Write>()))
                .response(
                    "201",
                    Self::item_response("Created; its URL is in Location"),
                )
                .response("422", problem_response("Invalid input"))
                .build(),
        );
        collection_post.merge_operations(collection);
        let item_op =
            |id: &str, summary: String| self.operation(id, summary).parameter(id_parameter());
        let mut item = PathItem::new(
            HttpMethod::Get,
            item_op("retrieve", format!("Get one of {} by id", self.tag()))
                .response("200", Self::item_response("Found"))
                .response("404", problem_response("No such id"))
                .build(),
        );
        for (method, id, body, summary) in [
            (
                HttpMethod::Put,
                "update",
                schema_ref::<C::Write>(),
                "Replace",
            ),
            (
                HttpMethod::Patch,
                "partial_update",
                schema_ref::<C::Patch>(),
                "Change the fields given",
            ),
        ] {
            item.merge_operations(PathItem::new(
                method,
                item_op(id, summary.to_owned())
                    .request_body(Self::body(body))
                    .response("200", Self::item_response("Updated"))
                    .response("404", problem_response("No such id"))
                    .response("422", problem_response("Invalid input"))
                    .build(),
            ));
        }
        item.merge_operations(PathItem::new(
            HttpMethod::Delete,
            item_op("destroy", "Delete".to_owned())
                .response("204", ResponseBuilder::new().description("Deleted").build())
                .response("404", problem_response("No such id"))
                .build(),
        ));
        Paths::builder()
            .path(self.path, collection_post)
            .path(format!("{}/{{id}}", self.path), item)
            .build()
    }
}

impl<C: Crud + ?Sized> utoipa_actix_web::OpenApiFactory for ViewSet<C> {
    fn paths(&self) -> Paths {
        ViewSet::paths(self)
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in [
            (C::Read::name(), C::Read::schema()),
            (C::Write::name(), C::Write::schema()),
            (C::Patch::name(), C::Patch::schema()),
        ] {
            schemas.push((name.into_owned(), schema));
        }
        C::Read::schemas(schemas);
        C::Write::schemas(schemas);
        C::Patch::schemas(schemas);
    }
}
