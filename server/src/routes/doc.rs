//! The OpenAPI document's frame: title, the Bearer token scheme, and the JSON error body
//! every refusal uses. The operations themselves come from the `#[utoipa::path]` beside
//! each handler, gathered by the same `routes!` lists that mount them
//! ([`super::documented`]).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Name of the security scheme in the document.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "passgate API",
        description = "Signed vehicle passes, offline checkpoint sync, daily usage and \
            enterprise reporting. Every operation that names a security requirement takes \
            `Authorization: Bearer <token>`; the requirement's list holds the token roles \
            admitted (an administrator is admitted everywhere). Every refusal is a JSON \
            `ErrorBody`.",
    ),
    servers((url = "/api/v1")),
    components(schemas(ErrorBody, FieldErrorBody)),
    modifiers(&BearerToken),
    tags(
        (name = "enterprises"), (name = "checkpoints"), (name = "devices"),
        (name = "passes"), (name = "keys"), (name = "sync"), (name = "usage"),
        (name = "anomalies"), (name = "reports"),
    )
)]
pub struct ApiDoc;

/// Adds the Bearer token scheme.
pub struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`pgt_…`), made with `passgate-server token create`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The body of every refusal (see `crate::error::ApiError`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// A stable code: `unauthenticated`, `forbidden`, `not_found`, `bad_request`,
    /// `conflict`, `validation`, `payload_too_large`, `device_revoked`, `enrollment_*`,
    /// `batch_refused`, `too_many_requests`, `internal`, …
    error: String,
    /// What went wrong, for a person to act on.
    message: String,
    /// The bad fields, on `validation` errors only.
    fields: Option<Vec<FieldErrorBody>>,
}

/// One bad field of a request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldErrorBody {
    field: String,
    message: String,
}

/// The refusals every operation behind a token can give.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Refusals {
    /// A bad path parameter, query or body.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No Bearer token, or an unknown one.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The token's role may not do this, or the token is a revoked device's, or an
    /// enterprise token reaches past its own enterprise.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Too many requests from this token (or, with bad tokens, this address); the
    /// `Retry-After` header says when to try again.
    #[response(status = 429)]
    TooManyRequests(ErrorBody),
    /// The server could not complete the request; the cause is in its log.
    #[response(status = 500)]
    Internal(ErrorBody),
}

/// The further refusals of an operation that reads a JSON body.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BodyRefusals {
    /// The body is over the server's limit.
    #[response(status = 413)]
    PayloadTooLarge(ErrorBody),
    /// The body (or a query) is well-formed but has invalid fields, named in `fields`.
    #[response(status = 422)]
    Validation(ErrorBody),
}
