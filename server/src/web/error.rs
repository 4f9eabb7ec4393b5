//! Errors of console pages, rendered as a page in the user's language. Internal causes are
//! logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use passgate_shared::Lang;

use crate::error::{ApiError, FieldError};
use crate::store::StoreError;

use super::i18n::tr;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WebError {
    #[error("login required")]
    LoginRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("the form is stale or came from another site")]
    Csrf,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("too many attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

pub type WebResult<T> = Result<T, WebError>;

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => WebError::NotFound(what),
            StoreError::Conflict(m) => WebError::Conflict(m),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthenticated => WebError::LoginRequired,
            ApiError::Forbidden | ApiError::DeviceRevoked(_) => WebError::Forbidden,
            ApiError::NotFound(what) => WebError::NotFound(what),
            ApiError::Validation(fields) => WebError::Validation(fields),
            ApiError::Conflict(m) => WebError::Conflict(m),
            ApiError::Internal(m) => WebError::Internal(m),
            other => WebError::BadRequest(other.to_string()),
        }
    }
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::LoginRequired => StatusCode::UNAUTHORIZED,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A page saying what went wrong and what to do.
    pub fn render(&self, lang: Lang) -> Response {
        if let WebError::Internal(cause) = self {
            tracing::error!(%cause, "console request failed");
        }
        let (title, detail) = match self {
            WebError::LoginRequired => (tr(lang, "error.login_required"), None),
            WebError::Forbidden => (tr(lang, "error.forbidden"), None),
            WebError::Csrf => (tr(lang, "error.csrf"), None),
            WebError::NotFound(_) => (tr(lang, "error.not_found"), None),
            WebError::BadRequest(m) | WebError::Conflict(m) => {
                (tr(lang, "error.bad_request"), Some(m.clone()))
            }
            WebError::Validation(fields) => (
                tr(lang, "error.bad_request"),
                Some(
                    fields
                        .iter()
                        .map(|f| format!("{}: {}", f.field, f.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            ),
            WebError::TooManyAttempts { retry_after_secs } => (
                tr(lang, "error.too_many"),
                Some(super::i18n::trf(
                    lang,
                    "error.retry_after",
                    &[("minutes", &retry_after_secs.div_ceil(60))],
                )),
            ),
            WebError::Internal(_) => (tr(lang, "error.internal"), None),
        };
        let body = html! {
            main class="narrow" {
                h1 { (title) }
                @if let Some(d) = detail { p { (d) } }
                p { a href="/" { (tr(lang, "error.back_home")) } }
            }
        };
        let mut resp = (self.status(), super::layout::bare(lang, title, body)).into_response();
        if let WebError::TooManyAttempts { retry_after_secs } = self
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

/// A handler's error, rendered in Chinese and kept in the response so that
/// [`super::load_ctx`], which knows the request's language, can render it again.
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut resp = self.render(Lang::Zh);
        resp.extensions_mut().insert(self);
        resp
    }
}
