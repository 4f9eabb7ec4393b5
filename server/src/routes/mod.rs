//! The JSON API under `/api/v1`, one module per resource.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

pub mod anomalies;
pub mod checkpoints;
pub mod devices;
pub mod enterprises;
pub mod keys;
pub mod passes;
pub mod reports;
pub mod sync;
pub mod usage;

/// All `/api/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(enterprises::router())
        .merge(devices::router())
        .merge(anomalies::router())
        .merge(checkpoints::router())
        .merge(passes::router())
        .merge(reports::router())
        .merge(keys::router())
        .merge(sync::router())
        .merge(usage::router())
        .fallback(get(not_found).post(not_found))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// `Json<T>` whose rejections are [`ApiError`]s: bad JSON is a 400, a body of the wrong
/// shape a 422 naming the problem, a missing content type a 400 saying so.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::field("body", e.body_text())),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::BadRequest(format!(
                "the body is not valid JSON: {}",
                e.body_text()
            ))),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                "send the body as JSON with Content-Type: application/json".into(),
            )),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}
