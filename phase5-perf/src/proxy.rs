//! Behind a reverse proxy: who the client is, and which instance answered.
//!
//! **Roadmap:** a reverse proxy (Nginx, Traefik) in front of the app: TLS termination, load
//! balancing, static files.
//!
//! **Python:** Gunicorn's `--forwarded-allow-ips`, Uvicorn's `--proxy-headers` with
//! `FORWARDED_ALLOW_IPS`, werkzeug's `ProxyFix(x_for=1, x_proto=1)`: believe `X-Forwarded-*` only
//! from the proxy.
//!
//! **Rust:** [`Client`], an extractor that reads `Forwarded` (RFC 7239) or `X-Forwarded-For` /
//! `X-Forwarded-Proto` / `X-Forwarded-Host` only when the connection comes from an address in
//! `--trusted-proxies`, walking the chain from the right and stopping at the first hop that is not
//! a trusted proxy: that hop is the client. A handler that needs to know who is calling takes a
//! `Client`, and the others pay nothing. Every response names its instance in `X-Instance`
//! (actix's `DefaultHeaders`, in `lib.rs`), so that a test, or you with curl, can see the load
//! balancer at work. `nginx/nginx.conf` is the proxy: TLS, HTTP to HTTPS, HSTS, two
//! upstreams with keep-alive and failover, gzip, static files, body size and timeouts;
//! `tests/api/proxy.rs` runs it in front of two instances.
//!
//! **Why:** actix's `ConnectionInfo::realip_remote_addr()` believes `X-Forwarded-For` from anyone:
//! a client that sends `X-Forwarded-For: 10.0.0.1` straight to the app becomes `10.0.0.1` to a rate
//! limiter or an audit log. The headers say something true only when the proxy wrote them, and
//! only the proxy's address proves that.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

/// A network, `127.0.0.1/32` or `10.0.0.0/8` or `::1/128`; an address alone is one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or a network like 10.0.0.0/8"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
            None => bits,
        };
        Ok(Self { address, prefix })
    }
}

impl Network {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (self.address, address) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies whose forwarding headers are believed, and this instance's name.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub trusted: Vec<Network>,
    pub instance: String,
}

impl ProxySettings {
    fn trusts(&self, address: IpAddr) -> bool {
        self.trusted.iter().any(|network| network.contains(address))
    }
}

/// Who sent the request, as far as the app can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Client {
    /// The client's address: the connection's, or what a trusted proxy said.
    #[schema(value_type = String)]
    pub ip: IpAddr,
    /// `http` or `https`, as the client used it.
    pub scheme: String,
    /// The host the client asked for.
    pub host: Option<String>,
    /// Whether a trusted proxy forwarded the request.
    pub via_proxy: bool,
}

/// One hop as the headers describe it.
#[derive(Debug, Default)]
struct Hop {
    for_ip: Option<IpAddr>,
    proto: Option<String>,
    host: Option<String>,
}

/// An address as `Forwarded` writes it: `192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:80`.
fn node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.parse()
        .ok()
        .or_else(|| text.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok()))
}

/// `Forwarded: for=192.0.2.1;proto=https;host=example.com, for=10.0.0.2` as hops, nearest last.
fn forwarded_hops(value: &str) -> Vec<Hop> {
    value
        .split(',')
        .map(|element| {
            let mut hop = Hop::default();
            for pair in element.split(';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.for_ip = node(value),
                    "proto" => hop.proto = Some(value.to_ascii_lowercase()),
                    "host" => hop.host = Some(value.to_owned()),
                    _ => {}
                }
            }
            hop
        })
        .collect()
}

fn header_text<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Works out the [`Client`] of `req` under `settings`.
fn client_of(req: &HttpRequest, settings: &ProxySettings) -> Client {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |addr| addr.ip());
    // Not `connection_info().scheme()`: it believes the forwarding headers from anyone.
    let own_scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let direct = Client {
        ip: peer,
        scheme: own_scheme.to_owned(),
        host: header_text(req, "host").map(str::to_owned),
        via_proxy: false,
    };
    // Straight from the client (or from a proxy we do not know): the headers are ignored.
    if !settings.trusts(peer) {
        return direct;
    }
    let hops = match header_text(req, "forwarded") {
        Some(value) => forwarded_hops(value),
        None => {
            let Some(chain) = header_text(req, "x-forwarded-for") else {
                return direct;
            };
            let mut hops: Vec<Hop> = chain
                .split(',')
                .map(|ip| Hop {
                    for_ip: node(ip),
                    ..Hop::default()
                })
                .collect();
            if let Some(last) = hops.last_mut() {
                last.proto = header_text(req, "x-forwarded-proto").map(str::to_ascii_lowercase);
                last.host = header_text(req, "x-forwarded-host").map(str::to_owned);
            }
            hops
        }
    };
    // From the right: each hop that is a trusted proxy passes us on to the one before it.
    let mut client = Client {
        via_proxy: true,
        ..direct
    };
    for hop in hops.iter().rev() {
        if let Some(proto) = &hop.proto {
            client.scheme.clone_from(proto);
        }
        if let Some(host) = &hop.host {
            client.host = Some(host.clone());
        }
        match hop.for_ip {
            Some(ip) => {
                client.ip = ip;
                if !settings.trusts(ip) {
                    break;
                }
            }
            // `for=unknown` or an obfuscated name: nothing to go on beyond this hop.
            None => break,
        }
    }
    client
}

impl FromRequest for Client {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    /// Believes no proxy when the app has no [`ProxySettings`].
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let client = match req.app_data::<web::Data<ProxySettings>>() {
            Some(settings) => client_of(req, settings),
            None => client_of(
                req,
                &ProxySettings {
                    trusted: Vec::new(),
                    instance: String::new(),
                },
            ),
        };
        std::future::ready(Ok(client))
    }
}

/// What `GET /whoami` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub client: Client,
    /// The instance that answered (also in `X-Instance`).
    pub instance: String,
}

#[utoipa::path(
    tag = "reverse proxy",
    responses(
        (status = 200, description = "Who the app thinks you are, and which instance answered", body = WhoAmI,
            headers(("X-Instance" = String, description = "The instance that answered"))),
    )
)]
#[get("/whoami")]
pub(crate) async fn whoami(client: Client, settings: web::Data<ProxySettings>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WhoAmI {
            client,
            instance: settings.instance.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let net: Network = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        let host: Network = "127.0.0.1".parse().unwrap();
        assert!(host.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!host.contains("127.0.0.2".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("localhost".parse::<Network>().is_err());
    }

    #[test]
    fn forwarded_elements_are_read_as_rfc_7239_writes_them() {
        let hops = forwarded_hops(
            r#"for="[2001:db8::1]:4711";proto=https;host=shop.example, for=10.0.0.2"#,
        );
        assert_eq!(hops.len(), 2);
        assert_eq!(hops[0].for_ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(hops[0].proto.as_deref(), Some("https"));
        assert_eq!(hops[0].host.as_deref(), Some("shop.example"));
        assert_eq!(hops[1].for_ip, Some("10.0.0.2".parse().unwrap()));
        assert_eq!(node("192.0.2.1:80"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(node("unknown"), None);
    }
}
