//! Which methods each path has, and which query parameters each operation takes: the table behind
//! `HEAD`, `OPTIONS`, `405` and unknown query parameters on every route.
//!
//! Phase 1 (topic 1.1) answers them by hand on its own resources. Every crate needs the same
//! answers on every route, and most routes are registered with attribute macros (`#[get("/x")]`),
//! which guard the *resource* by its method: a `POST` to a GET-only path then finds no resource at
//! all and becomes a 404. Rather than ask every module to repeat the lesson, the crate's OpenAPI
//! document, which lists every path with its methods and parameters, is turned into this table
//! once, and [`crate::middleware::Conventions`] consults it:
//!
//! - `HEAD` is served as `GET` (RFC 9110 §9.3.2: the same headers, no body);
//! - `OPTIONS` on a known path answers `204` with `Allow`;
//! - any other method the path lacks answers `405` with `Allow` (RFC 9110 §15.5.6 requires it);
//! - a query parameter that the operation does not document is a `400` naming it, on routes that
//!   read no query as on those that do (the policy is in [`crate::extract`]). An operation that a
//!   standard tells to ignore what it does not know (OAuth's authorization endpoint, RFC 6749
//!   §3.1) says so in the document: `extensions(("x-unknown-query-parameters" = json!("ignored")))`.

use actix_router::ResourceDef;
use actix_web::http::Method;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::{PathItem, RefOr};

/// The OpenAPI extension by which an operation ignores query parameters it does not document.
pub const UNKNOWN_QUERY_PARAMETERS: &str = "x-unknown-query-parameters";

/// Every documented path, the methods it has, and the query each method takes.
#[derive(Debug, Default)]
pub struct MethodTable {
    routes: Vec<(ResourceDef, Vec<(Method, QueryNames)>)>,
}

/// The query parameters of one operation.
#[derive(Debug, Clone)]
enum QueryNames {
    /// Any: a route added by [`MethodTable::with`] (Swagger UI's files), or an operation marked
    /// with [`UNKNOWN_QUERY_PARAMETERS`].
    Any,
    /// These and no others.
    Only(Vec<String>),
}

impl MethodTable {
    /// The paths, methods and query parameters of an OpenAPI document (`/books/{id}` is matched as
    /// actix matches it).
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let mut table = Self::default();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
                (Method::OPTIONS, &item.options),
                (Method::HEAD, &item.head),
            ];
            let operations = operations
                .into_iter()
                .filter_map(|(method, operation)| {
                    let operation = operation.as_ref()?;
                    Some((method, query_names(item, operation)))
                })
                .collect();
            table.add(path, operations);
        }
        table
    }

    /// Adds `methods` for `pattern` (an actix pattern: `/docs/{_:.*}`), merged with any already
    /// there; their query strings are not checked.
    pub fn with(mut self, pattern: &str, methods: &[Method]) -> Self {
        let operations = methods
            .iter()
            .map(|method| (method.clone(), QueryNames::Any))
            .collect();
        self.add(pattern, operations);
        self
    }

    fn add(&mut self, pattern: &str, operations: Vec<(Method, QueryNames)>) {
        match self
            .routes
            .iter_mut()
            .find(|(resource, _)| resource.pattern() == Some(pattern))
        {
            Some((_, known)) => known.extend(operations),
            None => self.routes.push((ResourceDef::new(pattern), operations)),
        }
    }

    /// The operations of the routes that match `path`: the route that is `path` itself when there
    /// is one (`/links`, which the router tries before `/{code}`), else every pattern that matches.
    fn operations<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a (Method, QueryNames)> {
        let fixed = |resource: &ResourceDef| resource.pattern().is_some_and(|p| !p.contains('{'));
        let exact = self
            .routes
            .iter()
            .any(|(resource, _)| fixed(resource) && resource.is_match(path));
        self.routes
            .iter()
            .filter(move |(resource, _)| resource.is_match(path) && (!exact || fixed(resource)))
            .flat_map(|(_, operations)| operations)
    }

    /// The `Allow` value for `path`: its methods, `HEAD` with `GET`, and `OPTIONS`; `None` for a path
    /// no route has.
    pub fn allow(&self, path: &str) -> Option<String> {
        let methods: Vec<&Method> = self.operations(path).map(|(method, _)| method).collect();
        if methods.is_empty() {
            return None;
        }
        let order = [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ];
        let has = |method: &Method| {
            methods.contains(&method)
                || (*method == Method::HEAD && methods.contains(&&Method::GET))
                || *method == Method::OPTIONS
        };
        let allowed: Vec<&str> = order
            .iter()
            .filter(|method| has(method))
            .map(Method::as_str)
            .collect();
        Some(allowed.join(", "))
    }

    /// The table of the app serving `req` ([`crate::server::serve`] shares it as app data): for
    /// middleware that must step aside for a method the path lacks, as the router would.
    pub fn of(req: &actix_web::HttpRequest) -> Option<&MethodTable> {
        req.app_data::<actix_web::web::Data<MethodTable>>()
            .map(|table| table.as_ref())
    }

    /// Whether `path` has `method` (`HEAD` counts as `GET`, and every known path has `OPTIONS`).
    pub fn allows(&self, path: &str, method: &Method) -> bool {
        self.allow(path)
            .is_some_and(|allow| allow.split(", ").any(|m| m == method.as_str()))
    }

    /// The parameters of `query` that `method` on `path` does not document, each named once in the
    /// order they came, with those it does. `None` when all are known, when the operation takes
    /// any, and when there is no such operation (the router answers that).
    pub fn unknown_query_parameters(
        &self,
        path: &str,
        method: &Method,
        query: &str,
    ) -> Option<UnknownQuery> {
        let mut takes: Vec<String> = Vec::new();
        let mut found = false;
        for (_, names) in self.operations(path).filter(|(m, _)| m == method) {
            let QueryNames::Only(names) = names else {
                return None;
            };
            for name in names {
                if !takes.contains(name) {
                    takes.push(name.clone());
                }
            }
            found = true;
        }
        if !found {
            return None;
        }
        let mut unknown: Vec<String> = Vec::new();
        for (name, _) in url::form_urlencoded::parse(query.as_bytes()) {
            if !name.is_empty()
                && !takes.iter().any(|known| *known == name)
                && !unknown.iter().any(|u| *u == name)
            {
                unknown.push(name.into_owned());
            }
        }
        (!unknown.is_empty()).then_some(UnknownQuery { unknown, takes })
    }
}

/// Query parameters that an operation does not document, and those it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownQuery {
    /// Each named once, in the order the request gave them.
    pub unknown: Vec<String>,
    /// The operation's own, as its document lists them.
    pub takes: Vec<String>,
}

/// The query parameters of `operation`, with those its path item declares for every method.
fn query_names(item: &PathItem, operation: &Operation) -> QueryNames {
    let ignores_unknown = operation
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.contains_key(UNKNOWN_QUERY_PARAMETERS));
    if ignores_unknown {
        return QueryNames::Any;
    }
    let parameters = item
        .parameters
        .iter()
        .chain(&operation.parameters)
        .flatten();
    QueryNames::Only(
        parameters
            .filter_map(|parameter| match parameter {
                RefOr::T(Parameter {
                    name,
                    parameter_in: ParameterIn::Query,
                    ..
                }) => Some(name.clone()),
                _ => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> MethodTable {
        MethodTable::default()
            .with("/books", &[Method::GET, Method::POST])
            .with("/books/{id}", &[Method::GET, Method::DELETE])
            .with("/books/search", &[Method::PUT])
            .with("/auth/token", &[Method::POST])
    }

    #[test]
    fn allow_lists_head_with_get_and_always_options() {
        assert_eq!(
            table().allow("/books").as_deref(),
            Some("GET, HEAD, POST, OPTIONS")
        );
        assert_eq!(
            table().allow("/auth/token").as_deref(),
            Some("POST, OPTIONS")
        );
        assert_eq!(table().allow("/nowhere"), None);
    }

    #[test]
    fn a_fixed_path_is_its_own_route_and_not_the_pattern_s_it_also_matches() {
        // actix tries `/books/search` before `/books/{id}` when it is registered first, as it
        // must be; a method it lacks is then 405, not the pattern's.
        assert_eq!(
            table().allow("/books/search").as_deref(),
            Some("PUT, OPTIONS")
        );
        assert!(table().allows("/books/7", &Method::HEAD));
        assert!(!table().allows("/books/7", &Method::POST));
    }

    fn documented() -> MethodTable {
        let doc: utoipa::openapi::OpenApi = serde_json::from_value(serde_json::json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": {
                "/books": {
                    "get": { "parameters": [{ "name": "tag", "in": "query", "required": false }], "responses": {} },
                    "post": { "responses": {} }
                },
                "/oauth/authorize": {
                    "get": { "x-unknown-query-parameters": "ignored", "responses": {} }
                }
            }
        }))
        .unwrap();
        MethodTable::from_openapi(&doc)
    }

    #[test]
    fn a_query_parameter_the_operation_does_not_document_is_unknown() {
        let table = documented();
        let unknown = |method, query| {
            table
                .unknown_query_parameters("/books", &method, query)
                .map(|found| found.unknown)
                .unwrap_or_default()
        };
        assert!(unknown(Method::GET, "tag=sf&tag=classic").is_empty());
        assert_eq!(
            unknown(Method::GET, "tag=sf&pagesize=3&pagesize=4&x"),
            ["pagesize", "x"]
        );
        // What the route does take comes with them, for the answer to name.
        let found = table.unknown_query_parameters("/books", &Method::GET, "pagesize=3");
        assert_eq!(found.map(|found| found.takes), Some(vec!["tag".to_owned()]));
        // A route that reads no query refuses one just the same.
        assert_eq!(unknown(Method::POST, "tag=sf"), ["tag"]);
        // Names are compared decoded; empty pairs (`?&`) name nothing.
        assert!(unknown(Method::GET, "t%61g=sf&&").is_empty());
        // No such operation: the router's 405 answers, not this.
        assert!(unknown(Method::DELETE, "x=1").is_empty());
    }

    #[test]
    fn an_operation_marked_in_the_document_ignores_unknown_parameters() {
        let table = documented();
        let unknown =
            table.unknown_query_parameters("/oauth/authorize", &Method::GET, "prompt=login");
        assert!(unknown.is_none());
        let swagger = MethodTable::default().with("/docs/{_:.*}", &[Method::GET]);
        assert!(
            swagger
                .unknown_query_parameters("/docs/index.html", &Method::GET, "url=x")
                .is_none()
        );
    }
}
