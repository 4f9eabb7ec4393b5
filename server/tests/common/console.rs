//! Console test helpers: accounts of each role with live sessions, and requests that carry
//! the session cookie and the CSRF token the way a browser form would.

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use passgate_server::state::AppState;
use passgate_server::store::{NewUser, User, UserRole};
use passgate_server::web::session::SESSION_COOKIE;
use passgate_server::{app, open};
use passgate_shared::EnterpriseId;
use tower::ServiceExt;

use super::TestDb;

/// A server state on a fresh database, with one enterprise for enterprise accounts.
pub struct Console {
    pub _db: TestDb,
    pub state: AppState,
    pub enterprise: EnterpriseId,
}

/// A logged-in browser: its session cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub user: User,
    pub cookie: String,
    pub csrf: String,
}

/// What a request returned.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: String,
    pub set_cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Console {
    pub async fn new(db: TestDb) -> Console {
        let state = open(&db.config()).await.unwrap();
        let enterprise = state
            .store
            .create_enterprise("测试企业", 1_800_000_000)
            .await
            .unwrap()
            .id;
        Console {
            _db: db,
            state,
            enterprise,
        }
    }

    /// A new account of `role` (enterprise accounts belong to `self.enterprise`).
    pub async fn user(&self, role: UserRole, username: &str) -> User {
        let user = NewUser {
            username: username.into(),
            display_name: format!("{} 用户", role.as_str()),
            role,
            enterprise_id: (role == UserRole::Enterprise).then_some(self.enterprise),
            team_id: None,
            // Tests log in through sessions made here; the password path has its own tests.
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$invalid".into(),
            must_change_password: false,
        };
        self.state
            .store
            .create_user(&user, passgate_server::state::now())
            .await
            .unwrap()
    }

    /// A fresh session for `user`, as if it had just logged in.
    pub async fn login(&self, user: &User) -> Browser {
        let token = passgate_server::web::session::random_hex().unwrap();
        let csrf = passgate_server::web::session::random_hex().unwrap();
        let now = passgate_server::state::now();
        self.state
            .store
            .create_session(
                &passgate_server::auth::hash_token(&token),
                user.id,
                &csrf,
                now,
                now + 3600,
            )
            .await
            .unwrap();
        Browser {
            user: user.clone(),
            cookie: format!("{SESSION_COOKIE}={token}"),
            csrf,
        }
    }

    /// A new account of `role`, logged in.
    pub async fn browser(&self, role: UserRole) -> Browser {
        let name = format!(
            "{}-{}",
            role.as_str(),
            passgate_server::web::session::random_hex().unwrap()
        );
        let user = self.user(role, &name[..24]).await;
        self.login(&user).await
    }

    /// Send a request to the real router.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let header_text = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let location = header_text(header::LOCATION);
        let content_type = header_text(header::CONTENT_TYPE).unwrap_or_default();
        let set_cookies = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let body = to_bytes(resp.into_body(), 64 * 1024 * 1024)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            location,
            content_type,
            set_cookies,
            body,
        }
    }

    /// `GET path` as `who` (or anonymously).
    pub async fn get(&self, who: Option<&Browser>, path: &str) -> Reply {
        let mut req = Request::builder().method(Method::GET).uri(path);
        if let Some(b) = who {
            req = req.header(header::COOKIE, &b.cookie);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// A form post as `who`, with its CSRF token added (pairs are urlencoded here).
    pub async fn post_form(
        &self,
        who: Option<&Browser>,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let mut body = String::new();
        // Without a session, a browser holds a pre-session token in a cookie (login form).
        let pre = passgate_server::web::session::random_hex().unwrap();
        let csrf = who.map(|b| b.csrf.clone()).unwrap_or_else(|| pre.clone());
        let mut all: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        for (i, (k, v)) in all.iter().enumerate() {
            if i > 0 {
                body.push('&');
            }
            body.push_str(&passgate_server::web::urlencode(k));
            body.push('=');
            body.push_str(&passgate_server::web::urlencode(v));
        }
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "console.test")
            .header(header::ORIGIN, "http://console.test");
        req = match who {
            Some(b) => req.header(header::COOKIE, &b.cookie),
            None => req.header(header::COOKIE, format!("pg_csrf={pre}")),
        };
        self.send(req.body(Body::from(body)).unwrap()).await
    }
}
