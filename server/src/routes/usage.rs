//! `GET /usage/daily`: the transport bureau's daily pass data.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use passgate_shared::sync::DailyUsage;
use passgate_shared::time::local_day_range;
use serde::Deserialize;

use crate::auth::{Caller, ReadData};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/usage/daily", get(daily))
}

#[derive(Deserialize)]
struct DayQuery {
    date: Option<String>,
}

async fn daily(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
    Query(q): Query<DayQuery>,
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
