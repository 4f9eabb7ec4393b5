//! `/passes`: issue, list, show, print (QR) and revoke.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, FixedOffset, Offset, Utc};
use passgate_shared::pass::MAX_DWELL_MINUTES;
use passgate_shared::time::LOCAL_OFFSET_SECONDS;
use passgate_shared::{
    Cargo, CheckpointId, Crew, DivisionCode, EnterpriseId, KeyId, MaskedName, Minute, Pass,
    PassClass, PassNumber, Plate, Route, Validity,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::doc::{BodyRefusals, ErrorBody, Refusals};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::{Caller, OpsWrite, ReadData};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::metrics::Metrics;
use crate::privacy::{Phone, hash_id_number, seal_phone, validate_id_number};
use crate::signing::{Signer, signer};
use crate::state::{AppState, now};
use crate::store::{PassFilter, PassRecord, PassStatus};

/// Longest validity a pass may have, in days.
pub const MAX_VALIDITY_DAYS: i64 = 90;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, issue))
        .routes(routes!(show))
        .routes(routes!(qr_png))
        .routes(routes!(qr_svg))
        .routes(routes!(revoke))
}

/// The request body of `POST /passes`. Every field is optional here so that every missing
/// or bad field is reported at once, not just the first.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewPass {
    pub class: Option<String>,
    pub plate: Option<String>,
    pub driver: Option<String>,
    pub co_driver: Option<String>,
    pub driver_id_number: Option<String>,
    pub enterprise_id: Option<u32>,
    pub origin: Option<String>,
    pub destination: Option<String>,
    pub checkpoints: Option<Vec<u32>>,
    pub cargo: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub max_dwell_minutes: Option<u32>,
    /// The crew's contact phone (optional): kept on the server, sealed; never in the QR.
    pub crew_phone: Option<String>,
}

/// A pass as the API shows it: masked crew and masked phone only.
#[derive(Debug, Serialize, ToSchema)]
pub struct PassView {
    pub number: String,
    pub status: PassStatus,
    pub class: PassClass,
    pub class_name: &'static str,
    pub plate: String,
    pub driver: String,
    pub co_driver: Option<String>,
    pub enterprise_id: EnterpriseId,
    pub origin: String,
    pub destination: String,
    pub checkpoints: Vec<CheckpointId>,
    pub cargo: String,
    pub valid_from: String,
    pub valid_until: String,
    pub max_dwell_minutes: Option<u16>,
    pub key_id: u8,
    pub qr_text: String,
    pub qr_png: String,
    pub qr_svg: String,
    pub created_at: String,
    pub created_by: String,
    pub revoked_at: Option<String>,
    pub revoke_reason: Option<String>,
    /// Masked (`138****5678`).
    pub crew_phone: Option<String>,
    /// Set when the pass was signed again after its key was compromised.
    pub reissued_at: Option<String>,
    pub reissued_from_key: Option<u8>,
}

/// RFC 3339 in Beijing time.
pub fn rfc3339(t: i64) -> String {
    let tz = FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).unwrap_or(Utc.fix());
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|d| d.with_timezone(&tz).to_rfc3339())
        .unwrap_or_default()
}

impl From<&PassRecord> for PassView {
    fn from(p: &PassRecord) -> Self {
        let n = p.number.to_string();
        PassView {
            qr_png: format!("/api/v1/passes/{n}/qr.png"),
            qr_svg: format!("/api/v1/passes/{n}/qr.svg"),
            number: n,
            status: p.status,
            class: p.class,
            class_name: p.class.name_zh(),
            plate: p.plate.clone(),
            driver: p.driver_masked.clone(),
            co_driver: p.co_driver_masked.clone(),
            enterprise_id: p.enterprise_id,
            origin: p.origin.to_string(),
            destination: p.destination.to_string(),
            checkpoints: p.route_checkpoints.clone(),
            cargo: p.cargo.clone(),
            valid_from: rfc3339(p.valid_from),
            valid_until: rfc3339(p.valid_until),
            max_dwell_minutes: p.max_dwell_minutes,
            key_id: p.key_id.0,
            qr_text: p.qr_text.clone(),
            created_at: rfc3339(p.created_at),
            created_by: p.created_by.clone(),
            revoked_at: p.revoked_at.map(rfc3339),
            revoke_reason: p.revoke_reason.clone(),
            crew_phone: p.crew_phone_masked.clone(),
            reissued_at: p.reissued_at.map(rfc3339),
            reissued_from_key: p.reissued_from_key.map(|k| k.0),
        }
    }
}

fn parse_time(field: &str, v: Option<&str>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        errors.push(FieldError::new(
            field,
            "required, as RFC 3339 such as 2026-12-01T08:00:00+08:00 / 必填",
        ));
        return None;
    };
    match DateTime::parse_from_rfc3339(v) {
        Ok(t) => Some(t.timestamp()),
        Err(e) => {
            errors.push(FieldError::new(
                field,
                format!(
                    "not an RFC 3339 time ({e}); use e.g. 2026-12-01T08:00:00+08:00 / 时间格式错误"
                ),
            ));
            None
        }
    }
}

fn parse_required<T, E: std::fmt::Display>(
    field: &str,
    v: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => {
            errors.push(FieldError::new(field, "required / 必填"));
            None
        }
        Some(v) => parse(v)
            .map_err(|e| errors.push(FieldError::new(field, e.to_string())))
            .ok(),
    }
}

/// A validated pass request, ready to be numbered and signed.
#[derive(Debug, Clone)]
pub struct Issue {
    pub pass: Pass,
    pub driver_name: String,
    pub co_driver_name: Option<String>,
    pub driver_id_hash: Option<String>,
    pub crew_phone: Option<Phone>,
}

/// Check every field of a request and build the pass it asks for (numbered 0 until it is
/// issued). Every bad field is reported, not just the first. Used by the API, the console
/// form (also for its checks as you type) and the bulk import.
pub async fn validate(st: &AppState, body: &NewPass, now: i64) -> ApiResult<Issue> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let class = parse_required(
        "class",
        body.class.as_deref(),
        |s| {
            PassClass::parse(s)
                .ok_or("one of long_haul, short_haul, load_unload_leave / 通行证类别无效")
        },
        e,
    );
    let plate = parse_required("plate", body.plate.as_deref(), Plate::parse, e);
    let driver = parse_required("driver", body.driver.as_deref(), MaskedName::mask, e);
    let co_driver = match body
        .co_driver
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Some(None),
        Some(s) => MaskedName::mask(s)
            .map(Some)
            .map_err(|err| e.push(FieldError::new("co_driver", err.to_string())))
            .ok(),
    };
    let driver_id_hash = match body
        .driver_id_number
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Some(None),
        Some(s) => validate_id_number(s)
            .map(|id| Some(hash_id_number(&st.id_hash_secret, &id)))
            .map_err(|err| e.push(FieldError::new("driver_id_number", err.to_string())))
            .ok(),
    };
    let crew_phone = match body
        .crew_phone
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Some(None),
        Some(s) => Phone::parse(s)
            .map(Some)
            .map_err(|err| e.push(FieldError::new("crew_phone", err.to_string())))
            .ok(),
    };
    let enterprise = match body.enterprise_id {
        None => {
            e.push(FieldError::new("enterprise_id", "required / 必填"));
            None
        }
        Some(id) if st.store.get_enterprise(EnterpriseId(id)).await?.is_none() => {
            e.push(FieldError::new(
                "enterprise_id",
                format!("no enterprise {id} / 企业 {id} 不存在"),
            ));
            None
        }
        Some(id) => Some(EnterpriseId(id)),
    };
    let origin = parse_required("origin", body.origin.as_deref(), DivisionCode::parse, e);
    let destination = parse_required(
        "destination",
        body.destination.as_deref(),
        DivisionCode::parse,
        e,
    );
    let cargo = parse_required(
        "cargo",
        body.cargo.as_deref(),
        |s| {
            Cargo::parse(s).ok_or(
                "one of epidemic_supplies, production_materials, daily_necessities / 货物类别无效",
            )
        },
        e,
    );
    let from = parse_time("valid_from", body.valid_from.as_deref(), e);
    let until = parse_time("valid_until", body.valid_until.as_deref(), e);
    let validity = match (from, until) {
        (Some(f), Some(u)) => {
            let window = (Minute::from_unix(f), Minute::from_unix(u));
            let problem = if u <= f {
                Some((
                    "valid_until",
                    "must be after valid_from / 截止时间须晚于起始时间".to_owned(),
                ))
            } else if u <= now {
                Some((
                    "valid_until",
                    "is already in the past / 截止时间已过".to_owned(),
                ))
            } else if u - f > MAX_VALIDITY_DAYS * 86_400 {
                Some((
                    "valid_until",
                    format!(
                        "a pass is valid for at most {MAX_VALIDITY_DAYS} days / 有效期最长 {MAX_VALIDITY_DAYS} 天"
                    ),
                ))
            } else if window.0.is_none() {
                Some((
                    "valid_from",
                    "must be after 2020-01-01 / 须晚于 2020-01-01".to_owned(),
                ))
            } else {
                None
            };
            match (problem, window) {
                (Some((field, msg)), _) => {
                    e.push(FieldError::new(field, msg));
                    None
                }
                (None, (Some(a), Some(b))) => Validity::new(a, b).or_else(|| {
                    e.push(FieldError::new("valid_until", "must be at least one minute after valid_from / 截止时间须晚于起始时间至少 1 分钟"));
                    None
                }),
                (None, _) => None,
            }
        }
        _ => None,
    };
    let mut checkpoints = Vec::new();
    match (class, &body.checkpoints) {
        (Some(PassClass::LongHaul), None) => e.push(FieldError::new(
            "checkpoints",
            "a long-haul pass lists the checkpoints on its route / 长途闭环须填写线路查验点",
        )),
        (Some(PassClass::LongHaul), Some(ids)) => {
            let known = st.store.list_checkpoints().await?;
            for id in ids {
                if !known.iter().any(|c| c.id.0 == *id) {
                    e.push(FieldError::new(
                        "checkpoints",
                        format!("no checkpoint {id} / 查验点 {id} 不存在"),
                    ));
                }
            }
            checkpoints = ids.iter().copied().map(CheckpointId).collect();
        }
        (Some(_), Some(ids)) if !ids.is_empty() => e.push(FieldError::new(
            "checkpoints",
            "only long-haul passes list route checkpoints / 只有长途闭环填写线路查验点",
        )),
        _ => {}
    }
    let max_dwell = match (class, body.max_dwell_minutes) {
        (Some(PassClass::LoadUnloadLeave), None) => {
            Some(st.settings.policy.default_max_dwell_minutes)
        }
        (Some(PassClass::LoadUnloadLeave), Some(m))
            if (1..=u32::from(MAX_DWELL_MINUTES)).contains(&m) =>
        {
            Some(m as u16)
        }
        (Some(PassClass::LoadUnloadLeave), Some(_)) => {
            e.push(FieldError::new(
                "max_dwell_minutes",
                format!("1 to {MAX_DWELL_MINUTES} minutes / 1 至 {MAX_DWELL_MINUTES} 分钟"),
            ));
            None
        }
        (Some(_), Some(_)) => {
            e.push(FieldError::new(
                "max_dwell_minutes",
                "only load-unload-leave passes have a max dwell / 只有即装即卸即走设最长停留",
            ));
            None
        }
        _ => None,
    };
    let (
        Some(class),
        Some(plate),
        Some(driver),
        Some(co_driver),
        Some(driver_id_hash),
        Some(enterprise),
    ) = (class, plate, driver, co_driver, driver_id_hash, enterprise)
    else {
        return Err(ApiError::Validation(errors));
    };
    let (Some(origin), Some(destination), Some(cargo), Some(validity), Some(crew_phone)) =
        (origin, destination, cargo, validity, crew_phone)
    else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    // The number and the key are set when it is signed ([`sign_record`]); placeholders keep
    // the class checks in one place.
    let key_id = KeyId(0);
    let placeholder =
        PassNumber::new(st.settings.area, 0).map_err(|err| ApiError::Internal(err.to_string()))?;
    let pass = Pass {
        number: placeholder,
        class,
        key_id,
        validity,
        plate,
        crew: Crew { driver, co_driver },
        route: Route {
            origin,
            destination,
            checkpoints,
        },
        enterprise,
        cargo,
        max_dwell_minutes: max_dwell,
    };
    pass.check()
        .map_err(|err| ApiError::field("checkpoints", err.to_string()))?;
    Ok(Issue {
        pass,
        driver_name: body.driver.as_deref().unwrap_or_default().trim().to_owned(),
        co_driver_name: body
            .co_driver
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        driver_id_hash,
        crew_phone,
    })
}

/// Validate, number, sign and store one pass. Shared by the API, the console and the demo
/// seeder.
pub async fn issue_pass(st: &AppState, body: &NewPass, created_by: &str) -> ApiResult<PassRecord> {
    let now = now();
    let issue = validate(st, body, now).await?;
    let signer = signer(st).await?;
    let serial = st.store.next_serial(st.settings.area).await?;
    let record = sign_record(st, issue, serial, now, created_by, &signer)?;
    st.store.insert_pass(&record).await?;
    crate::audit::record(
        st,
        created_by,
        crate::audit::Action::PassIssued,
        &format!("pass:{}", record.number),
        serde_json::json!({ "class": record.class.as_str(), "plate": record.plate, "key_id": record.key_id.0 }),
    )
    .await?;
    tracing::info!(number = %record.number, class = record.class.as_str(), by = created_by, "pass issued");
    Ok(record)
}

/// Number, sign and store validated passes in one go, with one audit entry naming them all
/// (`passes_imported`, target `target`): the bulk import's issuing step. Serials are
/// reserved as one block, and the passes are stored in one transaction, so either every
/// pass is issued or none is. `progress` is told how many are signed so far, every 200, and
/// once more with all of them just before they are stored.
pub async fn issue_many(
    st: &AppState,
    issues: Vec<Issue>,
    now: i64,
    created_by: &str,
    target: &str,
    mut progress: impl FnMut(usize),
) -> ApiResult<Vec<PassRecord>> {
    let n = u32::try_from(issues.len())
        .map_err(|_| ApiError::Internal(format!("{} passes in one batch", issues.len())))?;
    let signer = signer(st).await?;
    let first = st.store.reserve_serials(st.settings.area, n).await?;
    let mut records: Vec<PassRecord> = Vec::with_capacity(issues.len());
    for (i, issue) in issues.into_iter().enumerate() {
        let serial = first.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
        records.push(sign_record(st, issue, serial, now, created_by, &signer)?);
        if i % 200 == 199 {
            progress(i + 1);
        }
    }
    progress(records.len());
    st.store.insert_passes(&records).await?;
    let numbers: Vec<String> = records.iter().map(|r| r.number.to_string()).collect();
    crate::audit::record(
        st,
        created_by,
        crate::audit::Action::PassesImported,
        target,
        serde_json::json!({ "count": records.len(), "numbers": numbers }),
    )
    .await?;
    Ok(records)
}

/// Number a validated pass with `serial`, sign it with `signer` (the active issuer key, from
/// [`signer`]), and make the record the server keeps (the phone sealed to the pass).
pub fn sign_record(
    st: &AppState,
    issue: Issue,
    serial: u32,
    now: i64,
    created_by: &str,
    signer: &Signer,
) -> ApiResult<PassRecord> {
    let Issue {
        mut pass,
        driver_name,
        co_driver_name,
        driver_id_hash,
        crew_phone,
    } = issue;
    pass.number = PassNumber::new(st.settings.area, serial).map_err(|_| {
        ApiError::Conflict(format!(
            "the issuing area {} has used all its serials",
            st.settings.area
        ))
    })?;
    pass.key_id = signer.id;
    let qr_text = passgate_shared::codec::sign_to_text(&pass, signer.key())
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let crew_phone_sealed = crew_phone
        .as_ref()
        .map(|p| seal_phone(&st.personal_secret, pass.number, p))
        .transpose()
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(PassRecord {
        number: pass.number,
        class: pass.class,
        plate: pass.plate.to_string(),
        driver_name,
        driver_masked: pass.crew.driver.to_string(),
        driver_id_hash,
        co_driver_name,
        co_driver_masked: pass.crew.co_driver.as_ref().map(|n| n.to_string()),
        enterprise_id: pass.enterprise,
        origin: pass.route.origin,
        destination: pass.route.destination,
        route_checkpoints: pass.route.checkpoints.clone(),
        cargo: pass.cargo.as_str().to_owned(),
        valid_from: pass.validity.from().to_unix(),
        valid_until: pass.validity.until().to_unix(),
        max_dwell_minutes: pass.max_dwell_minutes,
        key_id: pass.key_id,
        qr_text,
        status: PassStatus::Active,
        revoked_at: None,
        revoke_reason: None,
        created_at: now,
        created_by: created_by.to_owned(),
        crew_phone_masked: crew_phone.as_ref().map(Phone::masked),
        crew_phone_sealed,
        reissued_at: None,
        reissued_from_key: None,
    })
}

#[utoipa::path(
    post,
    path = "/passes",
    tag = "passes",
    summary = "Issue a pass",
    request_body = NewPass,
    responses(
        (status = 201, description = "The pass issued and signed", body = PassView),
        (status = 404, description = "enterprise or checkpoint not found", body = ErrorBody),
        (status = 409, description = "no key may sign now (the active one is compromised), or the number range is used up", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops"])),
)]
async fn issue(
    State(st): State<AppState>,
    caller: Caller<OpsWrite>,
    ApiJson(body): ApiJson<NewPass>,
) -> ApiResult<(StatusCode, Json<PassView>)> {
    let record = issue_pass(&st, &body, caller.name()).await?;
    Metrics::add(&st.metrics.passes_issued, 1);
    Ok((StatusCode::CREATED, Json(PassView::from(&record))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    class: Option<String>,
    plate: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct PassList {
    total: u64,
    limit: u32,
    offset: u32,
    passes: Vec<PassView>,
}

#[utoipa::path(
    get,
    path = "/passes",
    tag = "passes",
    summary = "List passes",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of passes, newest first", body = PassList),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn list(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<PassList>> {
    let mut errors = Vec::new();
    let class = q.class.as_deref().filter(|s| !s.is_empty()).and_then(|c| {
        PassClass::parse(c).or_else(|| {
            errors.push(FieldError::new(
                "class",
                "one of long_haul, short_haul, load_unload_leave",
            ));
            None
        })
    });
    let status = q.status.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
        PassStatus::parse(s).or_else(|| {
            errors.push(FieldError::new("status", "one of active, revoked"));
            None
        })
    });
    let plate = q.plate.as_deref().filter(|s| !s.is_empty()).and_then(|p| {
        Plate::parse(p)
            .map(|p| p.to_string())
            .map_err(|e| errors.push(FieldError::new("plate", e.to_string())))
            .ok()
    });
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let offset = q.offset.unwrap_or(0);
    let filter = PassFilter {
        class,
        plate,
        status,
        limit,
        offset,
        ..PassFilter::default()
    };
    let (passes, total) = st.store.list_passes(&filter).await?;
    Ok(Json(PassList {
        total,
        limit,
        offset,
        passes: passes.iter().map(PassView::from).collect(),
    }))
}

async fn find(st: &AppState, number: &str) -> ApiResult<PassRecord> {
    let n = PassNumber::parse(number).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    st.store
        .get_pass(n)
        .await?
        .ok_or(ApiError::NotFound("pass"))
}

#[utoipa::path(
    get,
    path = "/passes/{number}",
    tag = "passes",
    summary = "One pass",
    params(("number" = String, Path, pattern = r"^\s*[0-9]{12}\s*$", description = "The pass number: 12 digits")),
    responses(
        (status = 200, description = "The pass", body = PassView),
        (status = 404, description = "pass not found", body = ErrorBody),
        Refusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn show(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<PassView>> {
    Ok(Json(PassView::from(&find(&st, &number).await?)))
}

#[utoipa::path(
    get,
    path = "/passes/{number}/qr.png",
    tag = "passes",
    summary = "The pass's QR code as PNG",
    params(("number" = String, Path, pattern = r"^\s*[0-9]{12}\s*$", description = "The pass number: 12 digits")),
    responses(
        (status = 200, description = "The pass's QR code", content_type = "image/png", body = Vec<u8>),
        (status = 404, description = "pass not found", body = ErrorBody),
        Refusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn qr_png(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let p = find(&st, &number).await?;
    let png = crate::qr::png(&p.qr_text, 10).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png))
}

#[utoipa::path(
    get,
    path = "/passes/{number}/qr.svg",
    tag = "passes",
    summary = "The pass's QR code as SVG",
    params(("number" = String, Path, pattern = r"^\s*[0-9]{12}\s*$", description = "The pass number: 12 digits")),
    responses(
        (status = 200, description = "The pass's QR code", content_type = "image/svg+xml", body = String),
        (status = 404, description = "pass not found", body = ErrorBody),
        Refusals
    ),
    security(("bearer" = ["admin", "ops", "transport"])),
)]
async fn qr_svg(
    State(st): State<AppState>,
    _caller: Caller<ReadData>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let p = find(&st, &number).await?;
    let svg = crate::qr::svg(&p.qr_text, 50).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg))
}

#[derive(Deserialize, ToSchema)]
struct RevokeBody {
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/passes/{number}/revoke",
    tag = "passes",
    summary = "Revoke a pass",
    params(("number" = String, Path, pattern = r"^\s*[0-9]{12}\s*$", description = "The pass number: 12 digits")),
    request_body = RevokeBody,
    responses(
        (status = 200, description = "The pass, revoked", body = PassView),
        (status = 404, description = "pass not found", body = ErrorBody),
        (status = 409, description = "the pass is revoked already", body = ErrorBody),
        Refusals,
        BodyRefusals
    ),
    security(("bearer" = ["admin", "ops"])),
)]
async fn revoke(
    State(st): State<AppState>,
    caller: Caller<OpsWrite>,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<RevokeBody>,
) -> ApiResult<Json<PassView>> {
    let reason = super::enterprises::required_name("reason", body.reason.as_deref(), 200)
        .map_err(|f| ApiError::Validation(vec![f]))?;
    let n = PassNumber::parse(&number).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let p = st.store.revoke_pass(n, &reason, now()).await?;
    crate::audit::record(
        &st,
        caller.name(),
        crate::audit::Action::PassRevoked,
        &format!("pass:{n}"),
        serde_json::json!({ "reason": reason }),
    )
    .await?;
    Metrics::add(&st.metrics.passes_revoked, 1);
    tracing::info!(number = %n, by = caller.name(), "pass revoked");
    Ok(Json(PassView::from(&p)))
}
