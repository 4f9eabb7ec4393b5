//! # The web console
//!
//! Server-rendered HTML pages for the people of the operations bureau, the transport bureau,
//! the task force and the enterprises, in Simplified Chinese by default (English on a switch).
//! Everything the console needs is served by this server: no CDN, no web fonts, one small
//! script file for checks-as-you-type, so it works in an office with no internet.
//!
//! ## How a request goes through
//! 1. [`load_ctx`] (a middleware on every console route) reads the session cookie, the
//!    language cookie and the CSRF token into a [`Ctx`] and puts it in the request.
//! 2. The route's [`Access`] rule, declared next to the route in a [`Page`] list, is checked by
//!    [`guard`]: a visitor with no session is sent to the login page, a role the rule does not
//!    name gets 403. Every state-changing request must also carry the session's CSRF token
//!    (`_csrf` in the form body, or in the query string of a file upload) and, if the browser
//!    sends an `Origin`, it must be this site. Handlers cannot forget either check: the router is
//!    built from the same list the access test walks.
//! 3. The handler renders with [`layout::page`] and the catalog in [`i18n`].
//!
//! Rules that depend on the data (an enterprise user sees only its own passes) are checked in
//! the handlers.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use passgate_shared::Lang;

use crate::state::AppState;
use crate::store::{Session, User, UserRole};

pub mod access;
pub mod applications;
pub mod assets;
pub mod audit;
pub mod chart;
pub mod dashboard;
pub mod error;
pub mod export;
pub mod held;
pub mod home;
pub mod i18n;
pub mod import;
pub mod keys;
pub mod layout;
pub mod orgs;
pub mod passes;
pub mod reporting;
pub mod reporting_config;
pub mod reporting_form;
pub mod reporting_profile;
pub mod risk;
pub mod session;
pub mod taskforce;
pub mod teams;
pub mod users;

pub use access::Access;
pub use error::{WebError, WebResult};

/// The console's in-memory state.
#[derive(Debug, Default)]
pub struct WebState {
    pub throttle: session::Throttle,
    /// Running and recent bulk imports.
    pub imports: import::Jobs,
}

/// One console route: where, which method, who may use it, and the handler.
pub struct Page {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: MethodRouter<AppState>,
}

impl Page {
    pub fn get(path: &'static str, access: Access, handler: MethodRouter<AppState>) -> Page {
        Page {
            method: Method::GET,
            path,
            access,
            handler,
        }
    }

    pub fn post(path: &'static str, access: Access, handler: MethodRouter<AppState>) -> Page {
        Page {
            method: Method::POST,
            path,
            access,
            handler,
        }
    }
}

/// Every console route. The router and the access test are both built from this list.
pub fn pages() -> Vec<Page> {
    let mut pages = Vec::new();
    pages.extend(session::pages());
    pages.extend(home::pages());
    pages.extend(passes::pages());
    pages.extend(import::pages());
    pages.extend(orgs::pages());
    pages.extend(users::pages());
    pages.extend(keys::pages());
    pages.extend(dashboard::pages());
    pages.extend(applications::pages());
    pages.extend(held::pages());
    pages.extend(audit::pages());
    pages.extend(reporting::pages());
    pages.extend(reporting_config::pages());
    pages.extend(reporting_profile::pages());
    pages.extend(taskforce::pages());
    pages.extend(risk::pages());
    pages.extend(teams::pages());
    pages
}

/// The console router: every [`Page`] behind its access rule, plus the static assets.
pub fn router(state: AppState) -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for page in pages() {
        let access = page.access;
        let guarded = page.handler.route_layer(axum::middleware::from_fn(
            move |req: Request, next: Next| guard(access, req, next),
        ));
        let entry = by_path.remove(page.path);
        let merged = match entry {
            Some(existing) => existing.merge(guarded),
            None => guarded,
        };
        by_path.insert(page.path, merged);
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    // The stylesheet and script need no session: they are merged after the layer, so
    // fetching them costs no session lookup.
    router
        .layer(axum::middleware::from_fn_with_state(state, load_ctx))
        .merge(assets::router())
}

/// What every console handler knows about the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    /// The logged-in user, if any.
    pub user: Option<User>,
    /// The token this page's forms must send back: the session's, or before login the
    /// pre-session cookie's.
    pub csrf: String,
    /// The session cookie's hash (to log out).
    pub session_hash: Option<String>,
    /// Whether the request came over HTTPS (cookies then get `Secure`).
    pub secure: bool,
    /// The request path, for the navigation and redirects after login.
    pub path: String,
}

impl Ctx {
    /// A catalog string in this request's language.
    pub fn t(&self, key: &str) -> &'static str {
        i18n::tr(self.lang, key)
    }

    /// A catalog string with `{name}` placeholders filled in.
    pub fn tf(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        i18n::trf(self.lang, key, args)
    }

    /// The logged-in user (handlers behind a role rule always have one).
    pub fn user(&self) -> WebResult<&User> {
        self.user.as_ref().ok_or(WebError::LoginRequired)
    }

    pub fn role(&self) -> Option<UserRole> {
        self.user.as_ref().map(|u| u.role)
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| WebError::Internal("console context missing".into()))
    }
}

/// Value of one cookie of a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether the request reached us over HTTPS (directly or through a proxy that says so).
fn is_secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Middleware: build the [`Ctx`] of a console request.
pub async fn load_ctx(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let secure = is_secure(headers);
    let lang = cookie(headers, session::LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or_default();
    let path = req.uri().path().to_owned();
    let mut session: Option<Session> = None;
    let mut session_hash = None;
    if let Some(token) = cookie(headers, session::SESSION_COOKIE) {
        let hash = crate::auth::hash_token(token);
        match st.store.find_session(&hash, crate::state::now()).await {
            Ok(found) => {
                session_hash = found.as_ref().map(|_| hash);
                session = found;
            }
            Err(e) => return WebError::from(e).render(lang),
        }
    }
    let mut new_pre_csrf = None;
    let csrf = match &session {
        Some(s) => s.csrf.clone(),
        None => match cookie(headers, session::PRE_CSRF_COOKIE).filter(|c| c.len() == 64) {
            Some(c) => c.to_owned(),
            None => match session::random_hex() {
                Ok(c) => {
                    new_pre_csrf = Some(c.clone());
                    c
                }
                Err(e) => return e.render(lang),
            },
        },
    };
    req.extensions_mut().insert(Ctx {
        lang,
        user: session.map(|s| s.user),
        csrf,
        session_hash,
        secure,
        path,
    });
    let mut resp = next.run(req).await;
    if lang != Lang::Zh
        && let Some(err) = resp.extensions_mut().remove::<WebError>()
    {
        resp = err.render(lang);
    }
    if let Some(c) = new_pre_csrf
        && let Ok(v) = HeaderValue::from_str(&session::cookie_header(
            session::PRE_CSRF_COOKIE,
            &c,
            secure,
            None,
        ))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// Middleware of each route: its access rule, then CSRF for anything that changes state.
async fn guard(access: Access, req: Request, next: Next) -> Response {
    let Some(ctx) = req.extensions().get::<Ctx>().cloned() else {
        return WebError::Internal("console context missing".into()).render(Lang::Zh);
    };
    match access.check(ctx.user.as_ref()) {
        access::Decision::Allow => {}
        access::Decision::Login => {
            return if req.method() == Method::GET {
                Redirect::to(&format!("/login?next={}", urlencode(&ctx.path))).into_response()
            } else {
                WebError::LoginRequired.render(ctx.lang)
            };
        }
        access::Decision::Refuse => return WebError::Forbidden.render(ctx.lang),
    }
    // A password set by someone else (the first admin's, a reset) must be changed first.
    if let Some(user) = &ctx.user
        && user.must_change_password
        && !session::ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&ctx.path.as_str())
    {
        return Redirect::to("/account/password").into_response();
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    match session::check_csrf(req, &ctx).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.render(ctx.lang),
    }
}

/// Percent-encode a path or value for a URL query.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Headers every response of the server carries: no inline script, no framing, no sniffing,
/// no referrer to other sites.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// A `303 See Other` to `to`, the answer to a successful form post.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}
