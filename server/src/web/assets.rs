//! The console's one stylesheet and one script, compiled into the binary: the console needs
//! nothing from the internet (no CDN, no web fonts; the system's Chinese fonts are used).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

pub const CSS_PATH: &str = "/static/console.css";
pub const JS_PATH: &str = "/static/console.js";

const CSS: &str = include_str!("../../web/static/console.css");
const JS: &str = include_str!("../../web/static/console.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(CSS_PATH, get(css))
        .route(JS_PATH, get(js))
}

const CACHE: &str = "public, max-age=300";

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        JS,
    )
}
