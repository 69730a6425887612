//! What keeps a web page on another site — or another name for this machine —
//! from using the local server with a visitor's browser: the `Host` must name
//! the address served (no DNS rebinding), a browser's `Origin` must be this
//! server's, a cross-site fetch is refused, and JSON may not arrive as a
//! "simple" content type that a form could send without asking.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use askdocs_shared::embedded::FsObjectStore;
use askdocs_shared::Error;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The names this server answers to and the origins its own page has.
#[derive(Debug, Clone)]
pub struct LocalOrigins {
    hosts: HashSet<String>,
    origins: HashSet<String>,
    /// Bound to every interface: any IP literal with our port is a fine `Host`.
    any_ip_port: Option<u16>,
    /// No public URL is configured: the URLs the server hands out (upload,
    /// download) name the host each request came to.
    urls_follow_host: bool,
}

impl LocalOrigins {
    pub fn new(bound: SocketAddr, public_url: Option<&str>) -> Self {
        let port = bound.port();
        let mut hosts = HashSet::new();
        hosts.insert(format!("localhost:{port}"));
        hosts.insert(match bound.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]:{port}"),
            ip => format!("{ip}:{port}"),
        });
        if bound.ip().is_loopback() || bound.ip().is_unspecified() {
            hosts.insert(format!("127.0.0.1:{port}"));
            hosts.insert(format!("[::1]:{port}"));
        }
        let mut origins: HashSet<String> =
            hosts.iter().map(|host| format!("http://{host}")).collect();
        if let Some(url) = public_url {
            let origin = url.split('/').take(3).collect::<Vec<_>>().join("/");
            if let Some(authority) = origin.split("//").nth(1) {
                hosts.insert(authority.to_string());
                // A default port may be left out of a Host header.
                if let Some((host, _)) = authority.rsplit_once(':') {
                    hosts.insert(host.to_string());
                }
            }
            origins.insert(origin);
        }
        LocalOrigins {
            hosts,
            origins,
            any_ip_port: bound.ip().is_unspecified().then_some(port),
            urls_follow_host: public_url.is_none(),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.hosts.contains(&host) {
            return true;
        }
        match (self.any_ip_port, host.rsplit_once(':')) {
            (Some(port), Some((ip, host_port))) => {
                host_port == port.to_string()
                    && ip
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<std::net::IpAddr>()
                        .is_ok()
            }
            _ => false,
        }
    }
}

fn forbidden(message: &str) -> Response {
    Error::Forbidden(message.to_string()).into_response()
}

/// Routes whose body is JSON (the upload route is JSON unless it carries `?fileName=`).
fn takes_json(request: &Request) -> bool {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    path.starts_with("/auth/")
        || path == "/query/ask"
        || (path == "/documents/upload" && !query.contains("fileName="))
}

fn is_simple_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
    )
}

/// The local object routes stand in for S3, whose bucket CORS lets the page
/// upload from any of this server's names (the page may be open at
/// `localhost` while its upload URLs name `127.0.0.1`).
fn object_cors(origin: &str, mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

fn object_preflight(origin: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("PUT, GET"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, if-none-match"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    object_cors(origin, response)
}

pub async fn guard(origins: Arc<LocalOrigins>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !origins.host_allowed(host) {
        return forbidden("this server answers only to the address it listens on");
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok());
    if let Some(origin) = origin {
        if !origins.origins.contains(origin) {
            return forbidden("requests from other sites are not accepted");
        }
    }
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("none");
    let navigation = request.method() == Method::GET
        && headers
            .get("sec-fetch-mode")
            .and_then(|value| value.to_str().ok())
            == Some("navigate");
    if matches!(fetch_site, "cross-site" | "same-site") && !navigation {
        return forbidden("requests from other sites are not accepted");
    }
    let object_route = request.uri().path().starts_with("/local-objects/");
    if let (true, Some(origin)) = (object_route, origin) {
        if request.method() == Method::OPTIONS {
            return object_preflight(origin);
        }
        let origin = origin.to_string();
        return object_cors(&origin, next.run(request).await);
    }
    let from_a_browser = origin.is_some() || fetch_site != "none";
    let simple_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_simple_content_type);
    if from_a_browser && simple_type && takes_json(&request) {
        return forbidden("send JSON from a browser as application/json");
    }
    if origins.urls_follow_host {
        let origin = format!("http://{}", host.to_ascii_lowercase());
        return FsObjectStore::with_request_origin(origin, next.run(request)).await;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_served_names_are_hosts() {
        let origins = LocalOrigins::new("127.0.0.1:3000".parse().unwrap(), None);
        assert!(origins.host_allowed("127.0.0.1:3000"));
        assert!(origins.host_allowed("localhost:3000"));
        assert!(!origins.host_allowed("evil.example:3000"));
        assert!(!origins.host_allowed("127.0.0.1:3001"));
        assert!(origins.origins.contains("http://localhost:3000"));
        let public = LocalOrigins::new(
            "0.0.0.0:8080".parse().unwrap(),
            Some("https://docs.example.org"),
        );
        assert!(public.host_allowed("docs.example.org"));
        assert!(public.host_allowed("192.168.1.20:8080"));
        assert!(!public.host_allowed("rebound.attacker.example:8080"));
        assert!(public.origins.contains("https://docs.example.org"));
    }
}
