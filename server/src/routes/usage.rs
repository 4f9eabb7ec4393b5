//! `GET /usage/daily`: the transport bureau's daily pass data.

use axum::Json;
use axum::extract::State;
use passgate_shared::sync::DailyUsage;
use passgate_shared::time::local_day_range;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiQuery;
use super::doc::{BodyRefusals, Refusals};
use crate::auth::{Caller, ReadData};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(daily))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DayQuery {
    /// The Beijing day, `YYYY-MM-DD`.
    #[param(required = true, value_type = String, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    date: Option<String>,
}

#[utoipa::path(
    get,
    path = "/usage/daily",
    tag = "usage",
    summary = "Daily pass use (transport bureau)",
    params(DayQuery),
    responses(
        (status = 200, description = "Pass use counts of the day", body = DailyUsage),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn daily(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> ApiResult<Json<DailyUsage>> {
    let date = q.date.unwrap_or_default();
    if local_day_range(&date).is_none() {
        return Err(ApiError::field(
            "date",
            "a date as YYYY-MM-DD (Beijing time) / 日期格式应为 YYYY-MM-DD",
        ));
    }
    let rows = st.store.daily_usage(&date).await?;
    let total = rows.iter().map(|r| r.count).sum();
    Ok(Json(DailyUsage { date, total, rows }))
}
