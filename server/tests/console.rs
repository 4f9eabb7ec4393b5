//! Console tests against the real router, on both backends: who may open which page (route ×
//! role, from the same list the router is built from), login, sessions, CSRF, throttling and
//! the first administrator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    every_console_route_checks_its_roles,
    login_logout_and_the_generic_failure,
    forms_need_the_csrf_token_and_this_origin,
    logins_are_throttled,
    first_admin_must_change_the_one_time_password,
    pages_switch_language_and_carry_security_headers,
);

use axum::http::{Method, StatusCode};
use common::TestDb;
use common::console::Console;
use passgate_server::store::UserRole;
use passgate_server::web::{self, Access};

/// A concrete path for a route pattern: each `{param}` gets a sample value.
fn sample_path(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e + 1)
            .unwrap_or(rest.len());
        let value = match &rest[start + 1..end - 1] {
            "code" => "en",
            "number" => "419001000001",
            _ => "1",
        };
        out.push_str(value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn every_console_route_checks_its_roles(db: TestDb) {
    let c = Console::new(db).await;
    let pages = web::pages();
    assert!(
        pages.len() >= 6,
        "the console lists only {} routes",
        pages.len()
    );
    let mut checked = 0;
    for page in &pages {
        let path = sample_path(page.path);
        // Anonymous visitors: public pages open, others send to the login page.
        let anon = if page.method == Method::GET {
            c.get(None, &path).await
        } else {
            c.post_form(None, &path, &[]).await
        };
        match page.access {
            Access::Public => {
                assert_ne!(anon.status, StatusCode::FORBIDDEN, "{} {path}", page.method)
            }
            _ if page.method == Method::GET => {
                assert_eq!(anon.status, StatusCode::SEE_OTHER, "GET {path} anonymous");
                assert!(
                    anon.location
                        .as_deref()
                        .unwrap_or_default()
                        .starts_with("/login")
                );
            }
            _ => assert_eq!(
                anon.status,
                StatusCode::UNAUTHORIZED,
                "POST {path} anonymous"
            ),
        }
        for role in UserRole::ALL {
            // A fresh session each time: some routes (logout) end it.
            let who = c.browser(role).await;
            let reply = if page.method == Method::GET {
                c.get(Some(&who), &path).await
            } else {
                c.post_form(Some(&who), &path, &[]).await
            };
            let allowed = page.access.allows(role);
            if allowed {
                assert_ne!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{} {path} as {role:?}: {}",
                    page.method,
                    reply.text()
                );
                assert_ne!(
                    reply.status,
                    StatusCode::UNAUTHORIZED,
                    "{} {path} as {role:?}",
                    page.method
                );
                assert!(
                    !reply
                        .location
                        .as_deref()
                        .unwrap_or_default()
                        .starts_with("/login")
                        || page.path == "/logout",
                    "{} {path} as {role:?} was sent to log in",
                    page.method
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{} {path} as {role:?}",
                    page.method
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, pages.len() * UserRole::ALL.len());
}

async fn login_logout_and_the_generic_failure(db: TestDb) {
    let c = Console::new(db).await;
    let hash = web::session::hash_password("a long enough secret".into())
        .await
        .unwrap();
    let user = c.user(UserRole::Ops, "ops1").await;
    c.state
        .store
        .set_password(user.id, &hash, false)
        .await
        .unwrap();

    // The login form carries a pre-session CSRF cookie and the same token in the form.
    let form = c.get(None, "/login").await;
    assert_eq!(form.status, StatusCode::OK);
    let cookie = form
        .set_cookies
        .iter()
        .find(|s| s.starts_with("pg_csrf="))
        .expect("a pre-session CSRF cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let token = cookie
        .trim_start_matches("pg_csrf=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(form.text().contains(&token));

    let post = |username: &'static str, password: &'static str| {
        let token = token.clone();
        let c = &c;
        async move {
            let body = format!(
                "_csrf={token}&username={username}&password={}&next=/passes",
                web::urlencode(password)
            );
            let req = axum::http::Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("pg_csrf={token}"))
                .body(axum::body::Body::from(body))
                .unwrap();
            c.send(req).await
        }
    };
    // A wrong password and an unknown user get the same answer.
    let wrong = post("ops1", "not the password").await;
    let unknown = post("nobody", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("用户名或密码错误"));
    assert!(unknown.text().contains("用户名或密码错误"));

    let ok = post("OPS1", "a long enough secret").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(ok.location.as_deref(), Some("/passes"));
    let session = ok
        .set_cookies
        .iter()
        .find(|s| s.starts_with("pg_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    assert!(
        !session.contains("Secure"),
        "plain http gets no Secure flag"
    );
    let cookie = session.split(';').next().unwrap().to_owned();

    let home = c
        .send(
            axum::http::Request::get("/")
                .header("cookie", &cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text().contains("ops 用户"));
    let csrf = c
        .state
        .store
        .find_session(
            &passgate_server::auth::hash_token(cookie.trim_start_matches("pg_session=")),
            passgate_server::state::now(),
        )
        .await
        .unwrap()
        .unwrap()
        .csrf;
    let out = c
        .send(
            axum::http::Request::post("/logout")
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(format!("_csrf={csrf}")))
                .unwrap(),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = c
        .send(
            axum::http::Request::get("/")
                .header("cookie", &cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the session ended");

    // Behind an HTTPS proxy the session cookie is Secure.
    let body = format!("_csrf={token}&username=ops1&password=a+long+enough+secret");
    let secure = c
        .send(
            axum::http::Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("pg_csrf={token}"))
                .header("x-forwarded-proto", "https")
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    assert!(
        secure
            .set_cookies
            .iter()
            .any(|s| s.starts_with("pg_session=") && s.contains("Secure"))
    );
}

async fn forms_need_the_csrf_token_and_this_origin(db: TestDb) {
    let c = Console::new(db).await;
    let who = c.browser(UserRole::Ops).await;
    // No token at all.
    let req = axum::http::Request::post("/logout")
        .header("cookie", &who.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("x=1"))
        .unwrap();
    let r = c.send(req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("表单已过期或来源不明"));
    // The right token, posted from another site.
    let req = axum::http::Request::post("/logout")
        .header("cookie", &who.cookie)
        .header("host", "console.test")
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!("_csrf={}", who.csrf)))
        .unwrap();
    assert_eq!(c.send(req).await.status, StatusCode::FORBIDDEN);
    // Another session's token.
    let other = c.browser(UserRole::Ops).await;
    let req = axum::http::Request::post("/logout")
        .header("cookie", &who.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!("_csrf={}", other.csrf)))
        .unwrap();
    assert_eq!(c.send(req).await.status, StatusCode::FORBIDDEN);
    // The session is still alive after all that.
    assert_eq!(c.get(Some(&who), "/").await.status, StatusCode::OK);
    assert_eq!(
        c.post_form(Some(&who), "/logout", &[]).await.status,
        StatusCode::SEE_OTHER
    );
}

async fn logins_are_throttled(db: TestDb) {
    let c = Console::new(db).await;
    c.user(UserRole::Transport, "tr1").await;
    let form = c.get(None, "/login").await;
    let token = form
        .set_cookies
        .iter()
        .find(|s| s.starts_with("pg_csrf="))
        .unwrap();
    let token = token
        .trim_start_matches("pg_csrf=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let req = axum::http::Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("pg_csrf={token}"))
            .body(axum::body::Body::from(format!(
                "_csrf={token}&username=tr1&password=guess"
            )))
            .unwrap();
        statuses.push(c.send(req).await.status);
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS);
}

async fn first_admin_must_change_the_one_time_password(db: TestDb) {
    let c = Console::new(db).await;
    let password = web::session::ensure_first_admin(&c.state)
        .await
        .unwrap()
        .expect("an admin is made");
    assert!(
        web::session::ensure_first_admin(&c.state)
            .await
            .unwrap()
            .is_none(),
        "only once"
    );
    let admin = c.state.store.find_user("admin").await.unwrap().unwrap();
    assert_eq!(admin.role, UserRole::Admin);
    assert!(admin.must_change_password);
    assert!(web::session::verify_password(password.clone(), admin.password_hash.clone()).await);

    let who = c.login(&admin).await;
    let home = c.get(Some(&who), "/").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location.as_deref(), Some("/account/password"));

    let short = c
        .post_form(
            Some(&who),
            "/account/password",
            &[
                ("current", &password),
                ("new_password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text().contains("密码至少需要 10 个字符"));
    let changed = c
        .post_form(
            Some(&who),
            "/account/password",
            &[
                ("current", &password),
                ("new_password", "my own good password"),
                ("confirm", "my own good password"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text());
    let admin = c.state.store.find_user("admin").await.unwrap().unwrap();
    assert!(!admin.must_change_password);
    // The old session ended with the change; the new cookie works.
    assert_eq!(c.get(Some(&who), "/").await.status, StatusCode::SEE_OTHER);
    let cookie = changed
        .set_cookies
        .iter()
        .find(|s| s.starts_with("pg_session="))
        .unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let home = c
        .send(
            axum::http::Request::get("/")
                .header("cookie", cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(home.status, StatusCode::OK);
}

async fn pages_switch_language_and_carry_security_headers(db: TestDb) {
    let c = Console::new(db).await;
    let resp = app_get_with_headers(&c, "/login").await;
    let csp = resp
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(
        resp.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert!(resp.headers().get("referrer-policy").is_some());

    let zh = c.get(None, "/login").await;
    assert!(zh.text().contains("登录") && zh.text().contains("lang=\"zh-CN\""));
    let switch = c.get(None, "/lang/en?next=/login").await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.location.as_deref(), Some("/login"));
    let lang_cookie = switch
        .set_cookies
        .iter()
        .find(|s| s.starts_with("pg_lang=en"))
        .unwrap();
    let en = c
        .send(
            axum::http::Request::get("/login")
                .header("cookie", lang_cookie.split(';').next().unwrap())
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(en.text().contains("Log in") && en.text().contains("lang=\"en\""));
    // An error page comes in the visitor's language too.
    let who = c.browser(UserRole::Enterprise).await;
    let refused = c
        .send(
            axum::http::Request::get("/users")
                .header(
                    "cookie",
                    format!("{}; {}", who.cookie, lang_cookie.split(';').next().unwrap()),
                )
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    if refused.status == StatusCode::FORBIDDEN {
        assert!(
            refused.text().contains("Your account may not do this"),
            "{}",
            refused.text()
        );
    }
    // The stylesheet needs no session: it is served without one and sets no cookie.
    let css = c.get(None, "/static/console.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.content_type.starts_with("text/css"));
    assert!(css.set_cookies.is_empty(), "{:?}", css.set_cookies);
    // A redirect elsewhere is not followed.
    let evil = c.get(None, "/lang/en?next=//evil.example").await;
    assert_eq!(evil.location.as_deref(), Some("/"));
}

async fn app_get_with_headers(c: &Console, path: &str) -> axum::response::Response {
    use tower::ServiceExt;
    passgate_server::app(c.state.clone())
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}
