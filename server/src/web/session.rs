//! Logging in and out, the session cookie, CSRF, login throttling, passwords (argon2id) and
//! the first administrator.
//!
//! - The session cookie is 32 random bytes; only its SHA-256 is stored. It is `HttpOnly`,
//!   `SameSite=Strict`, and `Secure` when the request came over HTTPS.
//! - Each session has its own CSRF token, sent back by every form as `_csrf`. Before login, a
//!   random `pg_csrf` cookie plays that part (double submit), so the login form has one too.
//! - A failed login says only "user name or password is wrong", whichever it was, and costs
//!   the same time either way (an unknown user is checked against a dummy hash).
//! - Failures are counted per user name and per client address; after
//!   [`Throttle::MAX_FAILURES`] within the window, logins for that name or address wait.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::Form;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use passgate_shared::Lang;
use serde::Deserialize;
use serde_json::json;

use super::access::Access;
use super::layout::{Input, csrf_field, error_summary, page};
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::audit::{self, Action};
use crate::error::FieldError;
use crate::keyring::random_bytes;
use crate::state::{AppState, now};
use crate::store::{NewUser, User, UserRole};

pub const SESSION_COOKIE: &str = "pg_session";
pub const PRE_CSRF_COOKIE: &str = "pg_csrf";
pub const LANG_COOKIE: &str = "pg_lang";
/// How long a session lasts: one working day and a bit.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// Shortest password we accept.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Paths a user who must change the password may still open.
pub const ALLOWED_BEFORE_PASSWORD_CHANGE: &[&str] = &["/account/password", "/logout"];

pub fn pages() -> Vec<Page> {
    vec![
        Page::get("/login", Access::Public, get(login_form)),
        Page::post("/login", Access::Public, post(login)),
        Page::post("/logout", Access::AnyUser, post(logout)),
        Page::get("/lang/{code}", Access::Public, get(set_lang)),
        Page::get("/account/password", Access::AnyUser, get(password_form)),
        Page::post("/account/password", Access::AnyUser, post(change_password)),
    ]
}

/// 32 random bytes as hex.
pub fn random_hex() -> WebResult<String> {
    random_bytes()
        .map(hex::encode)
        .map_err(|e| WebError::Internal(e.to_string()))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, Secure over HTTPS.
pub fn cookie_header(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn hasher() -> Argon2<'static> {
    Argon2::default()
}

/// Hash a password with argon2id and a random salt (off the async threads: it is slow on
/// purpose).
pub async fn hash_password(password: String) -> WebResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = random_bytes().map_err(|e| WebError::Internal(e.to_string()))?;
        let salt = &salt[..16];
        hasher()
            .hash_password_with_salt(password.as_bytes(), salt)
            .map(|h| h.to_string())
            .map_err(|e| WebError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
}

/// Check a password against a stored hash (false for a malformed hash).
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                hasher()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A random password for people to type: 16 characters without look-alikes.
pub fn new_password() -> WebResult<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes().map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(bytes
        .iter()
        .take(16)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// Why a new password is not acceptable, in the user's language.
pub fn password_problem(lang: Lang, password: &str, username: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Some(super::i18n::trf(
            lang,
            "password.too_short",
            &[("min", &MIN_PASSWORD_CHARS)],
        ));
    }
    if password.eq_ignore_ascii_case(username) {
        return Some(super::i18n::tr(lang, "password.same_as_name").to_owned());
    }
    None
}

/// Create the first administrator if there is no account yet, and return its one-time
/// password (the caller prints it once; it must be changed at first login).
pub async fn ensure_first_admin(st: &AppState) -> WebResult<Option<String>> {
    if st.store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = new_password()?;
    let user = NewUser {
        username: "admin".into(),
        display_name: "管理员".into(),
        role: UserRole::Admin,
        enterprise_id: None,
        team_id: None,
        password_hash: hash_password(password.clone()).await?,
        must_change_password: true,
    };
    match st.store.create_user(&user, now()).await {
        Ok(_) => {
            audit::record(
                st,
                "system",
                Action::UserCreated,
                "user:admin",
                json!({ "role": "admin", "first_start": true }),
            )
            .await?;
            Ok(Some(password))
        }
        // Another instance created it first.
        Err(crate::store::StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Login failures per user name and per client address.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    /// Failures allowed within [`Throttle::WINDOW`] before logins wait.
    pub const MAX_FAILURES: usize = 5;
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);

    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("user:{}", username.trim().to_lowercase())];
        if let Some(ip) = ip {
            keys.push(format!("ip:{ip}"));
        }
        keys
    }

    /// `Err` with the seconds to wait when a key has used up its failures.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in Self::keys(username, ip) {
            if let Some(times) = map.get_mut(&key) {
                times.retain(|t| now.duration_since(*t) < Self::WINDOW);
                if times.len() >= Self::MAX_FAILURES
                    && let Some(oldest) = times.first()
                {
                    let wait = Self::WINDOW.saturating_sub(now.duration_since(*oldest));
                    return Err(wait.as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn fail(&self, username: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Keep the table bounded under a spray of made-up names.
        if map.len() > 100_000 {
            map.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < Self::WINDOW));
        }
        for key in Self::keys(username, ip) {
            map.entry(key).or_default().push(now);
        }
    }

    pub fn succeed(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("user:{}", username.trim().to_lowercase()));
    }
}

/// Largest urlencoded form we read to find the CSRF field (bigger bodies are uploads, which
/// carry the token in the query string).
const CSRF_SCAN_LIMIT: usize = 1024 * 1024;

/// Check the CSRF token of a state-changing request and hand the request back, body intact.
pub async fn check_csrf(req: Request, ctx: &Ctx) -> WebResult<Request> {
    // A browser that says where the form came from must say it came from here.
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let origin = origin.to_str().unwrap_or_default();
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o == host);
        if !same {
            return Err(WebError::Csrf);
        }
    }
    let from_query = req.uri().query().and_then(|q| {
        form_urlencoded_pairs(q)
            .into_iter()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v)
    });
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (parts, body) = req.into_parts();
    let (token, body) = if let Some(t) = from_query {
        (Some(t), body)
    } else if is_form {
        let bytes = axum::body::to_bytes(body, CSRF_SCAN_LIMIT)
            .await
            .map_err(|_| WebError::BadRequest("the form is too large".into()))?;
        let text = String::from_utf8_lossy(&bytes);
        let token = form_urlencoded_pairs(&text)
            .into_iter()
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v);
        (token, Body::from(bytes))
    } else {
        (None, body)
    };
    match token {
        Some(t) if constant_time_eq(t.as_bytes(), ctx.csrf.as_bytes()) => {
            Ok(Request::from_parts(parts, body))
        }
        _ => Err(WebError::Csrf),
    }
}

/// Compare two secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Decode `a=b&c=d` (plus signs are spaces, `%XX` escapes).
pub fn form_urlencoded_pairs(s: &str) -> Vec<(String, String)> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => match (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi * 16 + lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The peer address of a request, when the server was started with it (tests that call the
/// router directly have none).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after login or a language switch.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

async fn login_form(ctx: Ctx, Query(q): Query<NextQuery>) -> Response {
    if ctx.user.is_some() {
        return see_other(safe_next(q.next.as_deref()));
    }
    render_login(&ctx, "", q.next.as_deref(), None).into_response()
}

fn render_login(
    ctx: &Ctx,
    username: &str,
    next: Option<&str>,
    error: Option<&str>,
) -> maud::Markup {
    let errors: Vec<FieldError> = error
        .map(|e| vec![FieldError::new("username", e)])
        .unwrap_or_default();
    page(
        ctx,
        ctx.t("login.title"),
        html! {
            div class="narrow card" {
                h1 { (ctx.t("login.title")) }
                (error_summary(ctx, &errors))
                form method="post" action="/login" {
                    (csrf_field(ctx))
                    input type="hidden" name="next" value=(safe_next(next));
                    (Input::text("username", ctx.t("login.username"), username)
                        .required().autocomplete("username").render(ctx, &[]))
                    (Input::text("password", ctx.t("login.password"), "")
                        .kind("password").required().autocomplete("current-password").render(ctx, &[]))
                    button type="submit" class="primary" { (ctx.t("login.submit")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(st): State<AppState>,
    ctx: Ctx,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> WebResult<Response> {
    if let Err(wait) = st.web.throttle.check(&form.username, ip) {
        tracing::warn!(user = %form.username.trim(), ?ip, "login throttled");
        return Err(WebError::TooManyAttempts {
            retry_after_secs: wait,
        });
    }
    let user = st.store.find_user(&form.username).await?;
    // The same argon2 work whether or not the user exists, so timing says nothing either.
    let (hash, user) = match user {
        Some(u) if u.active => (u.password_hash.clone(), Some(u)),
        _ => (dummy_hash().await?, None),
    };
    let ok = verify_password(form.password.clone(), hash).await;
    let Some(user) = user.filter(|_| ok) else {
        st.web.throttle.fail(&form.username, ip);
        tracing::info!(user = %form.username.trim(), ?ip, "login failed");
        let name: String = form.username.trim().chars().take(64).collect();
        let _ = audit::record(
            &st,
            &name,
            Action::LoginFailed,
            &format!("user:{name}"),
            json!({ "ip": ip.map(|i| i.to_string()) }),
        )
        .await;
        let mut resp = render_login(
            &ctx,
            &form.username,
            form.next.as_deref(),
            Some(ctx.t("login.failed")),
        )
        .into_response();
        *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(resp);
    };
    st.web.throttle.succeed(&form.username);
    audit::record(
        &st,
        &user.username,
        Action::Login,
        &format!("user:{}", user.username),
        json!({ "ip": ip.map(|i| i.to_string()), "role": user.role.as_str() }),
    )
    .await?;
    start_session(&st, &ctx, &user, safe_next(form.next.as_deref())).await
}

/// A hash of a random password, made once, to check unknown users against.
async fn dummy_hash() -> WebResult<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| async { hash_password(random_hex()?).await })
        .await
        .cloned()
}

/// Log `user` in: a new session, its cookie, and off to `next` (or the password change).
pub async fn start_session(
    st: &AppState,
    ctx: &Ctx,
    user: &User,
    next: &str,
) -> WebResult<Response> {
    let token = random_hex()?;
    let csrf = random_hex()?;
    let now = now();
    st.store
        .create_session(
            &crate::auth::hash_token(&token),
            user.id,
            &csrf,
            now,
            now + SESSION_SECONDS,
        )
        .await?;
    st.store.record_login(user.id, now).await?;
    tracing::info!(user = %user.username, role = user.role.as_str(), "login");
    let to = if user.must_change_password {
        "/account/password"
    } else {
        next
    };
    let mut resp = see_other(to);
    let cookie = cookie_header(SESSION_COOKIE, &token, ctx.secure, Some(SESSION_SECONDS));
    resp.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| WebError::Internal(e.to_string()))?,
    );
    Ok(resp)
}

async fn logout(State(st): State<AppState>, ctx: Ctx) -> WebResult<Response> {
    if let Some(hash) = &ctx.session_hash {
        st.store.delete_session(hash).await?;
    }
    let mut resp = see_other("/login");
    let cookie = cookie_header(SESSION_COOKIE, "", ctx.secure, Some(0));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

async fn set_lang(ctx: Ctx, Path(code): Path<String>, Query(q): Query<NextQuery>) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let code = match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    };
    let mut resp = see_other(safe_next(q.next.as_deref()));
    let cookie = cookie_header(LANG_COOKIE, code, ctx.secure, Some(365 * 86_400));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn render_password(ctx: &Ctx, errors: &[FieldError]) -> maud::Markup {
    let must = ctx.user.as_ref().is_some_and(|u| u.must_change_password);
    page(
        ctx,
        ctx.t("password.title"),
        html! {
            div class="narrow card" {
                h1 { (ctx.t("password.title")) }
                @if must { p class="alert" { (ctx.t("password.must_change")) } }
                (error_summary(ctx, errors))
                form method="post" action="/account/password" {
                    (csrf_field(ctx))
                    (Input::text("current", ctx.t("password.current"), "")
                        .kind("password").required().autocomplete("current-password").render(ctx, errors))
                    (Input::text("new_password", ctx.t("password.new"), "")
                        .kind("password").required().autocomplete("new-password")
                        .hint(&ctx.tf("password.hint", &[("min", &MIN_PASSWORD_CHARS)]))
                        .render(ctx, errors))
                    (Input::text("confirm", ctx.t("password.confirm"), "")
                        .kind("password").required().autocomplete("new-password").render(ctx, errors))
                    button type="submit" class="primary" { (ctx.t("password.submit")) }
                }
            }
        },
    )
}

async fn password_form(ctx: Ctx) -> maud::Markup {
    render_password(&ctx, &[])
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new_password: String,
    confirm: String,
}

async fn change_password(
    State(st): State<AppState>,
    ctx: Ctx,
    Form(form): Form<PasswordForm>,
) -> WebResult<Response> {
    let user = ctx.user()?.clone();
    let mut errors = Vec::new();
    if !verify_password(form.current.clone(), user.password_hash.clone()).await {
        errors.push(FieldError::new("current", ctx.t("password.wrong_current")));
    }
    if let Some(p) = password_problem(ctx.lang, &form.new_password, &user.username) {
        errors.push(FieldError::new("new_password", p));
    } else if form.new_password == form.current {
        errors.push(FieldError::new(
            "new_password",
            ctx.t("password.same_as_old"),
        ));
    }
    if form.confirm != form.new_password {
        errors.push(FieldError::new("confirm", ctx.t("password.mismatch")));
    }
    if !errors.is_empty() {
        let mut resp = render_password(&ctx, &errors).into_response();
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let hash = hash_password(form.new_password).await?;
    audit::record(
        &st,
        &user.username,
        Action::UserChanged,
        &format!("user:{}", user.username),
        json!({ "change": "own_password" }),
    )
    .await?;
    // This ends every session of the user, this one too; start a fresh one.
    st.store.set_password(user.id, &hash, false).await?;
    let user = st
        .store
        .get_user(user.id)
        .await?
        .ok_or(WebError::NotFound("user"))?;
    start_session(&st, &ctx, &user, "/").await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(
            form_urlencoded_pairs("a=1&_csrf=ab%2Fc&name=%E4%B8%AD+x&empty"),
            vec![
                ("a".into(), "1".into()),
                ("_csrf".into(), "ab/c".into()),
                ("name".into(), "中 x".into()),
                ("empty".into(), String::new()),
            ]
        );
        // A stray or short escape is kept, never a panic.
        assert_eq!(form_urlencoded_pairs("a=%")[0].1, "%");
        assert_eq!(form_urlencoded_pairs("a=%4")[0].1, "%4");
        assert_eq!(form_urlencoded_pairs("a=%zz")[0].1, "%zz");
    }

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/passes?x=1")), "/passes?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn throttle_locks_after_max_failures_and_forgets_on_success() {
        let t = Throttle::default();
        let ip: Option<IpAddr> = "10.0.0.1".parse().ok();
        for _ in 0..Throttle::MAX_FAILURES {
            assert!(t.check("ops", ip).is_ok());
            t.fail("ops", ip);
        }
        let wait = t.check("OPS", None).unwrap_err();
        assert!(wait > 0 && wait <= Throttle::WINDOW.as_secs());
        // The address is locked too, whatever name it tries next.
        assert!(t.check("someone-else", ip).is_err());
        assert!(t.check("someone-else", "10.0.0.2".parse().ok()).is_ok());
    }

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), h.clone()).await);
        assert!(!verify_password("wrong".into(), h).await);
        assert!(!verify_password("x".into(), "not a hash".into()).await);
    }

    #[test]
    fn generated_passwords_are_long_enough() {
        let p = new_password().unwrap();
        assert_eq!(p.chars().count(), 16);
        assert!(password_problem(Lang::Zh, &p, "admin").is_none());
        assert!(password_problem(Lang::En, "short", "admin").is_some());
    }
}
