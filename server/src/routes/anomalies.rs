//! `GET /anomalies?date=`: what the server finds after merging every gate's records, for the
//! transport bureau. The detection is `passgate_shared::anomaly`, pure and shared.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use passgate_shared::anomaly::{Anomaly, AnomalyKind, PassFacts, find_anomalies};
use passgate_shared::codec::decode_text;
use passgate_shared::time::local_day_range;
use passgate_shared::{CheckpointId, GateContext, PassNumber};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiQuery;
use super::doc::{BodyRefusals, Refusals};
use crate::auth::{Caller, ReadData};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(anomalies))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DayQuery {
    /// The Beijing day, `YYYY-MM-DD`.
    #[param(required = true, value_type = String, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    date: Option<String>,
}

/// An anomaly with its Chinese name, as the bureau reads it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AnomalyView {
    #[serde(flatten)]
    pub anomaly: Anomaly,
    pub kind_name: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DayAnomalies {
    pub date: String,
    pub total: usize,
    pub anomalies: Vec<AnomalyView>,
}

/// The anomalies of one Beijing day.
pub async fn day_anomalies(st: &AppState, date: &str) -> ApiResult<DayAnomalies> {
    let (from, until) = local_day_range(date).ok_or_else(|| {
        ApiError::field(
            "date",
            "a date as YYYY-MM-DD (Beijing time) / 日期格式应为 YYYY-MM-DD",
        )
    })?;
    let records = st.store.day_records(date).await?;
    let mut facts: HashMap<PassNumber, Option<PassFacts>> = HashMap::new();
    for number in records.iter().filter_map(|r| r.number) {
        if facts.contains_key(&number) {
            continue;
        }
        let f = st.store.get_pass(number).await?.and_then(|p| {
            let pass = decode_text(&p.qr_text).ok()?.pass;
            Some(PassFacts {
                pass,
                revoked_at: p.revoked_at,
            })
        });
        facts.insert(number, f);
    }
    let gates: HashMap<CheckpointId, GateContext> = st
        .store
        .list_checkpoints()
        .await?
        .into_iter()
        .map(|c| {
            (
                c.id,
                GateContext {
                    checkpoint: c.id,
                    inside_zone: c.inside_zone,
                    enterprise: c.enterprise_id,
                },
            )
        })
        .collect();
    let lookup = |n: PassNumber| facts.get(&n).cloned().flatten();
    let gate = |c: CheckpointId| gates.get(&c).cloned();
    let mut found = find_anomalies(
        &records,
        &lookup,
        &gate,
        &st.settings.policy,
        now().min(until),
    );
    for i in st.store.incidents(from, until).await? {
        found.push(Anomaly {
            kind: AnomalyKind::ChainGap,
            number: None,
            plate: None,
            checkpoints: vec![],
            device_id: Some(i.device_id),
            at: i.opened_at,
            detail: format!(
                "{} at seq {}: {}{}",
                i.kind,
                i.seq,
                i.detail,
                if i.closed_at.is_some() {
                    " (closed: the missing records arrived)"
                } else {
                    " (open)"
                }
            ),
            record_ids: vec![],
        });
    }
    let anomalies: Vec<AnomalyView> = found
        .into_iter()
        .map(|a| AnomalyView {
            kind_name: a.kind.name_zh(),
            anomaly: a,
        })
        .collect();
    Ok(DayAnomalies {
        date: date.to_owned(),
        total: anomalies.len(),
        anomalies,
    })
}

#[utoipa::path(
    get,
    path = "/anomalies",
    tag = "anomalies",
    summary = "The anomalies of one Beijing day",
    params(DayQuery),
    responses(
        (status = 200, description = "The anomalies of the day", body = DayAnomalies),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn anomalies(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
    ApiQuery(q): ApiQuery<DayQuery>,
) -> ApiResult<Json<DayAnomalies>> {
    Ok(Json(
        day_anomalies(&st, q.date.as_deref().unwrap_or_default()).await?,
    ))
}
