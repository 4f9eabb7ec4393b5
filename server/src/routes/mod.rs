//! The JSON API under `/api/v1`, one module per resource.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

pub mod anomalies;
pub mod checkpoints;
pub mod devices;
pub mod doc;
pub mod enterprises;
pub mod keys;
pub mod passes;
pub mod reports;
pub mod sync;
pub mod usage;

/// Every `/api/v1` route with its OpenAPI description, from the same `routes!` lists that
/// mount them: a route cannot be served without being described, nor described without
/// being served.
pub fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .merge(enterprises::router())
        .merge(devices::router())
        .merge(anomalies::router())
        .merge(checkpoints::router())
        .merge(passes::router())
        .merge(reports::router())
        .merge(keys::router())
        .merge(sync::router())
        .merge(usage::router())
}

/// The OpenAPI document of the API, as `GET /api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().split_for_parts().1
}

/// All `/api/v1` routes, and `GET /openapi.json` (no token needed) describing them.
pub fn router() -> Router<AppState> {
    let (router, api) = documented().split_for_parts();
    let api = std::sync::Arc::new(api);
    router
        .route(
            "/openapi.json",
            get(move || {
                let api = api.clone();
                async move { Json(api.as_ref().clone()).into_response() }
            }),
        )
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

/// `Path<T>` whose rejections are [`ApiError`]s (a JSON body naming the bad segment, 400),
/// not axum's plain-text ones.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::BadRequest(format!(
                "bad path parameter: {} / 路径参数有误",
                e.body_text()
            ))),
        }
    }
}

/// `Query<T>` whose rejections are [`ApiError`]s: a query of the wrong shape is a 422 on
/// `query` naming the problem, as a JSON body.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::field("query", e.body_text())),
        }
    }
}
