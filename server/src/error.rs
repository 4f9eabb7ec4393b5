//! One error type for the HTTP boundary: a status, a stable code and a message a person can
//! act on. Internal causes are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use passgate_shared::reporting::FlowError;

use crate::store::StoreError;

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a Bearer token is required")]
    Unauthenticated,
    #[error("this token's role may not do this")]
    Forbidden,
    /// An enterprise token reaching past its own enterprise (a 403 like [`Self::Forbidden`]).
    #[error(
        "this token may act only for the enterprise it was made for / 该令牌只能访问其所属企业的数据"
    )]
    OtherEnterprise,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("this device was revoked by the operations bureau: {0}")]
    DeviceRevoked(String),
    #[error("{0}")]
    Enrollment(crate::store::EnrollFailure),
    #[error("the upload was refused: {0}")]
    BatchRefused(String),
    #[error("too many requests; try again in {0} s / 请求过于频繁，请 {0} 秒后再试")]
    TooManyRequests(u64),
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::OtherEnterprise => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::DeviceRevoked(_) => StatusCode::FORBIDDEN,
            ApiError::Enrollment(crate::store::EnrollFailure::Unknown) => StatusCode::NOT_FOUND,
            ApiError::Enrollment(crate::store::EnrollFailure::Used) => StatusCode::CONFLICT,
            ApiError::Enrollment(crate::store::EnrollFailure::Expired) => StatusCode::GONE,
            ApiError::BatchRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden | ApiError::OtherEnterprise => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::Validation(_) => "validation",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::DeviceRevoked(_) => "device_revoked",
            ApiError::Enrollment(f) => f.code(),
            ApiError::BatchRefused(_) => "batch_refused",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Enrollment(f) => ApiError::Enrollment(f),
            e @ (StoreError::ChainFork { .. } | StoreError::BrokenLink { .. }) => {
                ApiError::BatchRefused(e.to_string())
            }
            // A risk-case step the flow refuses: a missing field is a 422 on that field, a
            // step out of order (or a closed case) a conflict with the case as stored.
            StoreError::Flow(e @ FlowError::Owner) => ApiError::field("owner", e.to_string()),
            StoreError::Flow(e @ FlowError::SkipReason) => {
                ApiError::field("skip_reason", e.to_string())
            }
            StoreError::Flow(e) => ApiError::Conflict(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                "the server could not complete the request; the cause is in the server log"
                    .to_owned()
            }
            ApiError::Validation(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect();
                parts.join("; ")
            }
            other => other.to_string(),
        };
        let fields = match &self {
            ApiError::Validation(f) => Some(f.as_slice()),
            _ => None,
        };
        let body = Body {
            error: self.code(),
            message,
            fields,
        };
        let mut resp = (self.status(), Json(body)).into_response();
        if let ApiError::TooManyRequests(secs) = self
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
