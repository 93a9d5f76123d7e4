//! 2.6 ViewSets and routers: full CRUD for a model, registered in one line.
//!
//! **Roadmap:** "ViewSets & Routers: Writing CRUD for a model in 3 lines of code."
//!
//! **Python:** DRF's `ModelViewSet` supplies list, create, retrieve, update, partial_update and
//! destroy; `router.register("authors", AuthorViewSet)` adds the URLs; `pagination_class`,
//! `filterset_fields` and `ordering_fields` add `?page=`, filters and `?ordering=-year`;
//! `permission_classes = [IsAdminOrReadOnly]` decides who may write.
//!
//! **Rust:** the same split between what varies and what does not. What varies per model is the
//! [`Crud`] trait (in [`crate::crud`]): six storage methods and the model's read, write, patch and
//! filter types. What does not vary is [`ViewSet`]: generic handlers for the six actions, DRF's
//! pagination envelope (`count`, `next`, `previous`, `results`), `?ordering=` checked against the
//! fields the model allows, a 404 problem for a missing id, a 422 for invalid input. Who may write
//! is a type: [`ViewSet::writes_need`] names an extractor (phase 2's `Admin`) that every write
//! action takes first, so a caller without the right token is refused before the body is read.
//! `ViewSet` is an actix `HttpServiceFactory` *and* a utoipa-actix-web `OpenApiFactory`, so one line
//! registers the routes and documents them, security included:
//!
//! ```text
//! scope.service(ViewSet::new("/authors", authors_repository).writes_need::<Admin>("bearer"));
//! ```
//!
//! Storage is synchronous (diesel), so every call runs on actix's blocking pool (`common::db::blocking`).
//!
//! **Why:** generic code with a trait bound is checked for every model at compile time; where DRF
//! finds a missing method at run time, here a model that cannot be listed does not compile.

use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use common::ApiError;
use common::db::blocking;
use common::extract::{Path, ValidJson};
use serde::de::MapAccess;
use serde::{Deserialize, Serialize};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, Paths,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, KnownFormat, Ref, RefOr, Required, ResponseBuilder, SchemaFormat};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use validator::Validate;

use crate::crud::{Crud, Ordering};
use crate::dependencies::{PageParams, Paginated};
use common::query::{QueryPart, Split};

/// `?ordering=`, taken out of the query string before the model's filters read the rest.
#[derive(Debug, Default)]
struct OrderingParam {
    ordering: Option<String>,
}

impl QueryPart for OrderingParam {
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        if key != "ordering" {
            return Ok(false);
        }
        self.ordering = map.next_value()?;
        Ok(true)
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
    Paginated(pagination, Split(OrderingParam { ordering }, filter)): Paginated<
        Split<OrderingParam, C::Filter>,
    >,
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
        previous: (pagination.page > 1)
            .then(|| page_url(&req, (pagination.page - 1).min(last_page))),
        results,
    }))
}

// Each write action takes `W` first: a caller who may not write is refused before the body is read.

async fn create<C: Crud + ?Sized, W>(
    _writer: W,
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

async fn update<C: Crud + ?Sized, W>(
    _writer: W,
    repo: web::Data<C>,
    Path(Id { id }): Path<Id>,
    ValidJson(input): ValidJson<C::Write>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    Ok(HttpResponse::Ok().json(blocking(move || repo.update(id, input)).await?))
}

async fn partial_update<C: Crud + ?Sized, W>(
    _writer: W,
    repo: web::Data<C>,
    Path(Id { id }): Path<Id>,
    ValidJson(input): ValidJson<C::Patch>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    Ok(HttpResponse::Ok().json(blocking(move || repo.partial_update(id, input)).await?))
}

async fn destroy<C: Crud + ?Sized, W>(
    _writer: W,
    repo: web::Data<C>,
    Path(Id { id }): Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let repo = repo.into_inner();
    blocking(move || repo.destroy(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The six CRUD routes of one model under `path`, and their OpenAPI description. `W` is the
/// extractor every write action takes first (`()`, anyone, until [`ViewSet::writes_need`]).
pub struct ViewSet<C: Crud + ?Sized, W = ()> {
    path: &'static str,
    repo: web::Data<C>,
    /// The OpenAPI security scheme `W` checks, for the document.
    security: Option<&'static str>,
    writer: PhantomData<fn() -> W>,
}

impl<C: Crud + ?Sized, W> std::fmt::Debug for ViewSet<C, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ViewSet({})", self.path)
    }
}

impl<C: Crud + ?Sized> ViewSet<C> {
    /// The routes of `repo`'s model at `path` (`/authors`) and `path/{id}`; anyone may write.
    pub fn new(path: &'static str, repo: Arc<C>) -> Self {
        Self {
            path,
            repo: web::Data::from(repo),
            security: None,
            writer: PhantomData,
        }
    }
}

impl<C: Crud + ?Sized, W> ViewSet<C, W> {
    /// Writes (create, update, partial update, destroy) take a `G` first, which refuses whoever
    /// may not write (DRF's `permission_classes`); the document shows them secured by the OpenAPI
    /// security scheme `scheme`. Reads stay open.
    pub fn writes_need<G>(self, scheme: &'static str) -> ViewSet<C, G> {
        ViewSet {
            path: self.path,
            repo: self.repo,
            security: Some(scheme),
            writer: PhantomData,
        }
    }

    fn tag(&self) -> &'static str {
        self.path.trim_start_matches('/')
    }
}

impl<C: Crud + ?Sized, W: FromRequest + 'static> HttpServiceFactory for ViewSet<C, W> {
    fn register(self, config: &mut AppService) {
        web::resource(self.path)
            .app_data(self.repo.clone())
            .route(web::get().to(list::<C>))
            .route(web::post().to(create::<C, W>))
            .register(config);
        web::resource(format!("{}/{{id}}", self.path))
            .app_data(self.repo)
            .route(web::get().to(retrieve::<C>))
            .route(web::put().to(update::<C, W>))
            .route(web::patch().to(partial_update::<C, W>))
            .route(web::delete().to(destroy::<C, W>))
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
    common::openapi::problem_response(description)
}

fn id_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Integer))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32))),
        ))
        .build()
}

impl<C: Crud + ?Sized, W> ViewSet<C, W> {
    fn operation(&self, id: &str, summary: String) -> OperationBuilder {
        OperationBuilder::new()
            .tag(self.tag())
            .operation_id(Some(format!("{}_{id}", self.tag())))
            .summary(Some(summary))
    }

    /// A write operation: secured, when writes need a scheme.
    fn write_operation(&self, id: &str, summary: String) -> OperationBuilder {
        let operation = self.operation(id, summary);
        match self.security {
            Some(scheme) => operation
                .security(SecurityRequirement::new::<_, _, String>(scheme, []))
                .description(Some(format!(
                    "A write: it needs credentials of the `{scheme}` scheme that may write \
                     (401 without any, 403 with credentials that may only read)."
                ))),
            None => operation,
        }
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
            .required("next")
            .property(
                "previous",
                ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
            )
            .required("previous")
            .property(
                "results",
                ArrayBuilder::new().items(schema_ref::<C::Read>()),
            )
            .required("results");
        let fields = self.repo.ordering_fields();
        // The same list `Ordering::parse` checks: what the document allows is what is accepted.
        let ordering = ParameterBuilder::new()
            .name("ordering")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(format!(
                "Order by one of: {} (prefix - to reverse)",
                fields.join(", ")
            )))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some(Ordering::choices(fields))),
            ))
            .build();
        let mut parameters = PageParams::into_params(|| Some(ParameterIn::Query));
        parameters.push(ordering);
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
                problem_response("A page, ordering or filter out of its range"),
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

    fn item_response(description: &str) -> ResponseBuilder {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", json(schema_ref::<C::Read>()))
    }

    fn paths(&self) -> Paths {
        let tag = self.tag();
        let location = HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new().schema_type(SchemaType::new(Type::String)),
            ))
            .description(Some("The URL of what was created"))
            .build();
        let collection = PathItem::new(HttpMethod::Get, self.list_operation());
        let mut collection_post = PathItem::new(
            HttpMethod::Post,
            self.write_operation("create", format!("Add to {tag}"))
                .request_body(Self::body(schema_ref::<C::Write>()))
                .response(
                    "201",
                    Self::item_response("Created; its URL is in Location")
                        .header("Location", location),
                )
                .response(
                    "409",
                    problem_response(
                        "It names something that does not exist, or duplicates what does",
                    ),
                )
                .build(),
        );
        collection_post.merge_operations(collection);
        let item_op =
            |id: &str, summary: String| self.operation(id, summary).parameter(id_parameter());
        let write_op =
            |id: &str, summary: String| self.write_operation(id, summary).parameter(id_parameter());
        let mut item = PathItem::new(
            HttpMethod::Get,
            item_op("retrieve", format!("Get one of {tag} by id"))
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
                write_op(id, summary.to_owned())
                    .request_body(Self::body(body))
                    .response("200", Self::item_response("Updated"))
                    .response("404", problem_response("No such id"))
                    .response(
                        "409",
                        problem_response(
                            "It names something that does not exist, or duplicates what does",
                        ),
                    )
                    .build(),
            ));
        }
        item.merge_operations(PathItem::new(
            HttpMethod::Delete,
            write_op("destroy", "Delete".to_owned())
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

impl<C: Crud + ?Sized, W> utoipa_actix_web::OpenApiFactory for ViewSet<C, W> {
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
