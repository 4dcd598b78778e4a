//! The web dashboard at `/dashboard` (and `/` for a browser): one page,
//! its style sheet, script and icon, embedded in the binary (nothing is
//! fetched from elsewhere), under a strict Content-Security-Policy. The
//! files need no token: the page asks for one and sends it with every API
//! request; its data come from `GET /api/v1/events`.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Where the page's files are served.
pub const DASHBOARD_PATHS: &[&str] = &[
    "/",
    "/dashboard",
    "/dashboard.css",
    "/dashboard.js",
    "/favicon.svg",
];

/// Only this origin's script, style and API; no inline code, no frames,
/// no forms posted anywhere.
pub const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

const PAGE: &str = include_str!("../assets/dashboard.html");
const STYLE: &str = include_str!("../assets/dashboard.css");
const SCRIPT: &str = include_str!("../assets/dashboard.js");
const ICON: &str = include_str!("../assets/favicon.svg");

/// The page's routes (no token: the page asks for one).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(root))
        .route("/dashboard", get(page))
        .route("/dashboard.css", get(style))
        .route("/dashboard.js", get(script))
        .route("/favicon.svg", get(icon))
}

/// `/` is the page for a browser (which asks for HTML); an API client
/// gets the API's 404 problem document, as for any path that is not a
/// resource.
async fn root(headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/html"));
    if wants_html {
        page().await
    } else {
        crate::routes::not_found(uri).await.into_response()
    }
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

/// One embedded file with the headers every one of them carries.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DASHBOARD_CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    (headers, body).into_response()
}
