//! One list of topics per crate, and the front door built from it.
//!
//! rustlings keeps its exercises in one ordered `info.toml` that drives everything else. Each crate
//! here keeps one [`Manifest`] in its library: the tour printed at start-up is rendered from it,
//! `GET /` answers with it (an HTML index for a browser, JSON for `Accept: application/json`), and
//! the grader's tests check that the crate's README table, its topic modules' openings and the
//! grader's checks all agree with it. A topic is written down once.

use std::fmt;
use std::net::SocketAddr;

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

/// What a crate teaches.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Manifest {
    /// The package: `phase1-http`.
    pub package: &'static str,
    /// The title: "Phase 1: HTTP and the language".
    pub title: &'static str,
    /// The port it listens on by default.
    pub port: u16,
    pub topics: &'static [Topic],
    /// Copy-paste commands for the tour; `{base}` is replaced by the server's base URL.
    pub try_it: &'static [&'static str],
}

/// One topic of the roadmap (or one part of it: 4.3 has a provider and a client).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Topic {
    /// The topic's ID: `1.4`.
    pub id: &'static str,
    pub title: &'static str,
    /// The files that teach it, under `src/`: `bodies.rs`.
    pub modules: &'static [&'static str],
    /// What to try: routes (`GET /books`, `POST /books`) or commands (`-- raw`).
    pub routes: &'static [&'static str],
}

impl Manifest {
    /// The distinct topic IDs, in order.
    pub fn topic_ids(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = Vec::new();
        for topic in self.topics {
            if !ids.contains(&topic.id) {
                ids.push(topic.id);
            }
        }
        ids
    }

    /// The tour printed when the server starts at `address`, with `notes` between the topics and
    /// the commands (demo users, what it is connected to).
    pub fn tour<'a>(&'a self, address: SocketAddr, notes: &'a [String]) -> Tour<'a> {
        Tour {
            manifest: self,
            address,
            notes,
        }
    }

    /// `GET /`: this index, as HTML or JSON. Mounted for every crate by [`crate::server::serve`].
    pub fn routes(self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self))
            .route("/", web::get().to(index));
    }
}

/// What a crate prints when it starts: where it listens, what it teaches, and what to try first.
#[derive(Debug)]
pub struct Tour<'a> {
    manifest: &'a Manifest,
    address: SocketAddr,
    notes: &'a [String],
}

impl fmt::Display for Tour<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = format!("http://{}", self.address);
        writeln!(f, "{}", self.manifest.title)?;
        writeln!(f, "listening on {base}  (Ctrl-C stops)")?;
        writeln!(f)?;
        writeln!(f, "topics:")?;
        for topic in self.manifest.topics {
            writeln!(
                f,
                "  {:<4} {:<36} {}",
                topic.id,
                topic.title,
                topic.routes.join(", ")
            )?;
        }
        writeln!(f)?;
        for note in self.notes {
            writeln!(f, "{note}")?;
        }
        writeln!(f, "docs: {base}/docs/   index: {base}/")?;
        writeln!(f)?;
        writeln!(f, "try:")?;
        for line in self.manifest.try_it {
            writeln!(f, "  {}", line.replace("{base}", &base))?;
        }
        Ok(())
    }
}

/// The index as JSON.
#[derive(Debug, Serialize)]
struct Index<'a> {
    title: &'a str,
    package: &'a str,
    topics: &'a [Topic],
    docs: &'static str,
    openapi: &'static str,
}

async fn index(req: HttpRequest, manifest: web::Data<Manifest>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    // One URL, two representations: caches must key on `Accept`.
    response
        .insert_header((header::VARY, "Accept"))
        .insert_header(CacheControl(vec![CacheDirective::NoCache]));
    if prefers_json(&req) {
        return response.json(Index {
            title: manifest.title,
            package: manifest.package,
            topics: manifest.topics,
            docs: "/docs/",
            openapi: "/openapi.json",
        });
    }
    response
        .content_type("text/html; charset=utf-8")
        .body(html(&manifest))
}

/// JSON when `Accept` names it (or any `+json` type) and not HTML first; HTML otherwise, which is
/// what a browser asks for.
fn prefers_json(req: &HttpRequest) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let json = accept.find("json");
    let html = accept.find("html");
    match (json, html) {
        (Some(json), Some(html)) => json < html,
        (Some(_), None) => true,
        _ => false,
    }
}

fn html(manifest: &Manifest) -> String {
    let mut rows = String::new();
    for topic in manifest.topics {
        let routes: Vec<String> = topic.routes.iter().map(|route| route_html(route)).collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(topic.id),
            escape(topic.title),
            routes.join(", "),
            escape(&topic.modules.join(", ")),
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}}</style>\
         </head><body>\n<h1>{title}</h1>\n<p>The API's documents: <a href=\"/docs/\">Swagger UI</a> and \
         <a href=\"/openapi.json\">/openapi.json</a>. This page as JSON: \
         <code>curl -H 'Accept: application/json' /</code>.</p>\n\
         <table><thead><tr><th>ID</th><th>topic</th><th>try</th><th>source</th></tr></thead><tbody>\n\
         {rows}</tbody></table>\n</body></html>\n",
        title = escape(manifest.title),
    )
}

/// A `GET /path` without parameters becomes a link; anything else is shown as text.
fn route_html(route: &str) -> String {
    match route.strip_prefix("GET ") {
        Some(path) if path.starts_with('/') && !path.contains(['{', ' ', '?']) => {
            format!("<a href=\"{0}\">GET {0}</a>", escape(path))
        }
        _ => format!("<code>{}</code>", escape(route)),
    }
}

/// Text made safe to put inside HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: Manifest = Manifest {
        package: "phase0",
        title: "Phase 0 <test>",
        port: 8000,
        topics: &[
            Topic {
                id: "0.1",
                title: "first",
                modules: &["first.rs"],
                routes: &["GET /first", "POST /first"],
            },
            Topic {
                id: "0.1",
                title: "first, again",
                modules: &["again.rs"],
                routes: &["GET /items/{id}"],
            },
        ],
        try_it: &["curl {base}/first"],
    };

    #[test]
    fn the_tour_lists_topics_and_fills_in_the_address() {
        let tour = MANIFEST
            .tour(([127, 0, 0, 1], 8000).into(), &[])
            .to_string();
        assert!(
            tour.contains("  curl http://127.0.0.1:8000/first"),
            "{tour}"
        );
        assert!(tour.contains("0.1  first"), "{tour}");
        assert_eq!(MANIFEST.topic_ids(), ["0.1"]);
    }

    #[test]
    fn the_html_index_links_plain_gets_and_escapes_text() {
        let page = html(&MANIFEST);
        assert!(page.contains("<a href=\"/first\">GET /first</a>"));
        assert!(page.contains("<code>GET /items/{id}</code>"));
        assert!(page.contains("Phase 0 &lt;test&gt;"));
    }
}
