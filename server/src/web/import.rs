//! Bulk issuance from a spreadsheet: `/passes/import`.
//!
//! The operations bureau uploads a CSV (UTF-8) or XLSX file with one pass per row. Every row
//! goes through the same [`validate`] as the form and the API, so a rule lives once. The
//! import is all or nothing: if any row is bad, nothing is issued and the page lists every
//! problem by spreadsheet row and column; if every row is good, the serials are reserved at
//! once, each pass is signed with [`sign_record`], and all are stored in one transaction.
//!
//! The work runs as a background job (a large file takes a few seconds), kept in memory in
//! [`Jobs`]; the upload answers `303` to the job's page, which refreshes itself until the job
//! is done. A job is visible only to the user who started it and is dropped an hour after it
//! started.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::Cursor;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use calamine::{DataRef, Reader, Xlsx};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use maud::{Markup, html};
use passgate_shared::time::LOCAL_OFFSET_SECONDS;
use passgate_shared::{Cargo, Lang, PassClass};

use super::access::{Access, roles};
use super::i18n::{tr, trf};
use super::layout::{datetime, field_message, notice, page};
use super::{Ctx, Page, WebError, WebResult, see_other};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::routes::passes::{Issue, NewPass, issue_many, rfc3339, validate};
use crate::state::{AppState, now};

/// Largest upload.
pub const UPLOAD_LIMIT: usize = 20 * 1024 * 1024;
/// Most data rows one file may hold.
pub const MAX_ROWS: usize = 20_000;
/// How long a job is kept after it started.
const JOB_TTL: Duration = Duration::from_secs(3600);
/// Problems shown on the page (all of them are in the CSV download).
const PROBLEMS_SHOWN: usize = 1000;

const OPS: Access = Access::Roles(roles::OPS);

pub fn pages() -> Vec<Page> {
    vec![
        Page::get("/passes/import", OPS, get(form)),
        Page::post(
            "/passes/import",
            OPS,
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        ),
        Page::get("/passes/import/template.xlsx", OPS, get(template_xlsx)),
        Page::get("/passes/import/template.csv", OPS, get(template_csv)),
        Page::get("/passes/import/{id}", OPS, get(job_page)),
        Page::get("/passes/import/{id}/result.xlsx", OPS, get(result_xlsx)),
        Page::get("/passes/import/{id}/problems.csv", OPS, get(problems_csv)),
    ]
}

// ---------------------------------------------------------------------------------------
// Messages in both languages (a job outlives the request that started it)

/// A message in both languages, chosen when the page is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    zh: String,
    en: String,
}

impl Text {
    /// A catalog message (`key` written with `crate::k!` at the call site).
    fn key(key: &str, args: &[(&str, &dyn Display)]) -> Text {
        Text {
            zh: trf(Lang::Zh, key, args),
            en: trf(Lang::En, key, args),
        }
    }

    /// A validation message as the shared rules write it (`English / 中文`).
    fn bilingual(message: &str) -> Text {
        Text {
            zh: field_message(Lang::Zh, message).to_owned(),
            en: field_message(Lang::En, message).to_owned(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Columns

/// A column the import understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    Plate,
    Class,
    Driver,
    CoDriver,
    DriverId,
    CrewPhone,
    EnterpriseId,
    EnterpriseName,
    Origin,
    Destination,
    Checkpoints,
    Cargo,
    ValidFrom,
    ValidUntil,
    MaxDwell,
    Note,
}

/// One column of the file format: its header (the template's, Chinese), the other names it
/// is known by, whether it must be filled, and its explanation.
struct Spec {
    col: Col,
    header: &'static str,
    aliases: &'static [&'static str],
    /// The catalog key of "required", "optional", or the condition.
    need: &'static str,
    help: &'static str,
}

const REQUIRED: &str = crate::k!("import.need.required");
const OPTIONAL: &str = crate::k!("import.need.optional");

const COLUMNS: &[Spec] = &[
    Spec {
        col: Col::Plate,
        header: "车牌号",
        aliases: &["车牌号码", "车牌", "plate", "plate number"],
        need: REQUIRED,
        help: crate::k!("import.col.plate"),
    },
    Spec {
        col: Col::Class,
        header: "通行证类别",
        aliases: &["通行证类型", "类别", "class", "pass class"],
        need: REQUIRED,
        help: crate::k!("import.col.class"),
    },
    Spec {
        col: Col::Driver,
        header: "驾驶员",
        aliases: &["驾驶员姓名", "司机", "司机姓名", "driver"],
        need: REQUIRED,
        help: crate::k!("import.col.driver"),
    },
    Spec {
        col: Col::CoDriver,
        header: "副驾驶",
        aliases: &[
            "副驾驶姓名",
            "副驾驶员",
            "co_driver",
            "co-driver",
            "codriver",
        ],
        need: OPTIONAL,
        help: crate::k!("import.col.co_driver"),
    },
    Spec {
        col: Col::DriverId,
        header: "驾驶员身份证号",
        aliases: &[
            "驾驶员身份证号码",
            "身份证号",
            "身份证号码",
            "driver_id_number",
            "driver id number",
        ],
        need: OPTIONAL,
        help: crate::k!("import.col.driver_id"),
    },
    Spec {
        col: Col::CrewPhone,
        header: "联系电话",
        aliases: &[
            "司乘联系电话",
            "手机号",
            "手机号码",
            "电话",
            "crew_phone",
            "crew phone",
            "phone",
            "mobile",
        ],
        need: OPTIONAL,
        help: crate::k!("import.col.crew_phone"),
    },
    Spec {
        col: Col::EnterpriseId,
        header: "企业编号",
        aliases: &["企业id", "enterprise_id", "enterprise id"],
        need: crate::k!("import.need.enterprise"),
        help: crate::k!("import.col.enterprise_id"),
    },
    Spec {
        col: Col::EnterpriseName,
        header: "企业名称",
        aliases: &["企业", "enterprise", "enterprise_name", "enterprise name"],
        need: crate::k!("import.need.enterprise"),
        help: crate::k!("import.col.enterprise_name"),
    },
    Spec {
        col: Col::Origin,
        header: "始发地区划",
        aliases: &["始发地区划代码", "始发地", "origin"],
        need: REQUIRED,
        help: crate::k!("import.col.origin"),
    },
    Spec {
        col: Col::Destination,
        header: "目的地区划",
        aliases: &["目的地区划代码", "目的地", "destination"],
        need: REQUIRED,
        help: crate::k!("import.col.destination"),
    },
    Spec {
        col: Col::Checkpoints,
        header: "途经查验点",
        aliases: &["查验点", "线路查验点", "checkpoints", "route checkpoints"],
        need: crate::k!("import.need.long_haul"),
        help: crate::k!("import.col.checkpoints"),
    },
    Spec {
        col: Col::Cargo,
        header: "货物类别",
        aliases: &["货物", "cargo"],
        need: REQUIRED,
        help: crate::k!("import.col.cargo"),
    },
    Spec {
        col: Col::ValidFrom,
        header: "有效期起",
        aliases: &["有效期开始", "起始时间", "valid_from", "valid from"],
        need: REQUIRED,
        help: crate::k!("import.col.valid_from"),
    },
    Spec {
        col: Col::ValidUntil,
        header: "有效期止",
        aliases: &["有效期截止", "截止时间", "valid_until", "valid until"],
        need: REQUIRED,
        help: crate::k!("import.col.valid_until"),
    },
    Spec {
        col: Col::MaxDwell,
        header: "最长停留分钟",
        aliases: &[
            "最长停留时间",
            "最长停留",
            "max_dwell_minutes",
            "max dwell minutes",
            "max dwell",
        ],
        need: crate::k!("import.need.dwell"),
        help: crate::k!("import.col.max_dwell"),
    },
    Spec {
        col: Col::Note,
        header: "备注",
        aliases: &["note", "remark"],
        need: OPTIONAL,
        help: crate::k!("import.col.note"),
    },
];

/// A note that starts with this marks the template's example row, which is skipped.
const EXAMPLE_MARK: &str = "示例";

fn spec(col: Col) -> &'static Spec {
    COLUMNS.iter().find(|s| s.col == col).unwrap_or(&COLUMNS[0])
}

/// A header cell as compared: no spaces, `_` or `-`, no required mark, nothing after an
/// opening parenthesis, lower case.
fn normalize_header(s: &str) -> String {
    let s = s.trim().trim_start_matches('\u{feff}');
    let s = s.split(['(', '（']).next().unwrap_or_default();
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '*' | '＊'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn column_of_header(h: &str) -> Option<Col> {
    let n = normalize_header(h);
    if n.is_empty() {
        return None;
    }
    COLUMNS
        .iter()
        .find(|s| {
            normalize_header(s.header) == n || s.aliases.iter().any(|a| normalize_header(a) == n)
        })
        .map(|s| s.col)
}

/// The column a field of [`validate`] reports on.
fn column_of_field(field: &str) -> Col {
    match field {
        "class" => Col::Class,
        "driver" => Col::Driver,
        "co_driver" => Col::CoDriver,
        "driver_id_number" => Col::DriverId,
        "crew_phone" => Col::CrewPhone,
        "enterprise_id" => Col::EnterpriseId,
        "origin" => Col::Origin,
        "destination" => Col::Destination,
        "checkpoints" => Col::Checkpoints,
        "cargo" => Col::Cargo,
        "valid_from" => Col::ValidFrom,
        "valid_until" => Col::ValidUntil,
        "max_dwell_minutes" => Col::MaxDwell,
        _ => Col::Plate,
    }
}

fn parse_class(s: &str) -> Option<PassClass> {
    let t = s.trim();
    PassClass::ALL.into_iter().find(|c| {
        c.as_str().eq_ignore_ascii_case(t)
            || c.name_zh() == t
            || c.name_en().eq_ignore_ascii_case(t)
            || c.code().to_string() == t
    })
}

fn parse_cargo(s: &str) -> Option<Cargo> {
    let t = s.trim();
    Cargo::ALL.into_iter().find(|c| {
        c.as_str().eq_ignore_ascii_case(t)
            || c.name_zh() == t
            || c.name_en().eq_ignore_ascii_case(t)
            || c.code().to_string() == t
    })
}

/// The allowed values of the class column, for people: `长途闭环 (long_haul)、…`.
fn class_values() -> String {
    PassClass::ALL
        .iter()
        .map(|c| format!("{} ({})", c.name_zh(), c.as_str()))
        .collect::<Vec<_>>()
        .join("、")
}

fn cargo_values() -> String {
    Cargo::ALL
        .iter()
        .map(|c| format!("{} ({})", c.name_zh(), c.as_str()))
        .collect::<Vec<_>>()
        .join("、")
}

// ---------------------------------------------------------------------------------------
// Reading a file

/// One cell as read from the file.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// An Excel date/time cell: days since 1899-12-30, Beijing time.
    Date(f64),
}

impl Cell {
    fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as text (numbers without a needless `.0`).
    fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.trim().to_owned(),
            Cell::Number(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Cell::Number(f) => f.to_string(),
            Cell::Date(d) => excel_to_unix(*d).map(datetime).unwrap_or_default(),
        }
    }
}

/// The rows of the first sheet, each with its spreadsheet row number (1-based).
type Rows = Vec<(u32, Vec<Cell>)>;

/// What kind of file an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Csv,
    Xlsx,
}

/// Tell a CSV from an XLSX file, and refuse anything else with a message a person can act on.
fn detect(bytes: &[u8]) -> Result<Kind, Text> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Text::key(crate::k!("import.err.empty_file"), &[]));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(Kind::Xlsx);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(Text::key(crate::k!("import.err.old_xls"), &[]));
    }
    let sample = &bytes[..bytes.len().min(8192)];
    let control = sample
        .iter()
        .filter(|b| **b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'))
        .count();
    if sample.contains(&0) || control * 20 > sample.len() {
        return Err(Text::key(crate::k!("import.err.not_table"), &[]));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(body).is_err() {
        return Err(Text::key(crate::k!("import.err.not_utf8"), &[]));
    }
    Ok(Kind::Csv)
}

/// Split CSV text into records (RFC 4180: quoted fields may hold separators, quotes written
/// twice and line breaks). The separator is the one the header line uses most: `,`, `;` or
/// a tab.
fn parse_csv(text: &str) -> Rows {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let sep = [',', ';', '\t']
        .into_iter()
        .max_by_key(|c| first_line.matches(*c).count())
        .unwrap_or(',');
    let mut rows = Vec::new();
    let mut row: Vec<Cell> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line_no: u32 = 1;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            c if c == sep => row.push(Cell::Text(std::mem::take(&mut field))),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                row.push(Cell::Text(std::mem::take(&mut field)));
                rows.push((line_no, std::mem::take(&mut row)));
                line_no = line_no.saturating_add(1);
                any = false;
            }
            c => field.push(c),
        }
    }
    if any {
        row.push(Cell::Text(field));
        rows.push((line_no, row));
    }
    rows
}

/// Columns of a worksheet the import reads; cells further right are ignored (the template
/// has 16 columns, and no header the import knows can sit beyond these).
const MAX_COLUMNS: u32 = 64;

/// Rows of a worksheet the import reads, counting the header and the rows above it, blank
/// rows and the template's example rows. A sheet with more is refused as too large.
const MAX_READ_ROWS: usize = MAX_ROWS + 1 + 1000;

/// The first worksheet, cell by cell. Only the cells the sheet holds are read: a stray cell
/// far away (say at XFD1048576) does not make the reader allocate the whole rectangle up to
/// it, which a worksheet range would.
fn read_xlsx(bytes: Vec<u8>) -> Result<Rows, Text> {
    // The spreadsheet reader is a third party's parser of hostile input: one that panics on
    // a file (fuzzing found an arithmetic overflow on a cell reference of nine letters) must
    // cost the user a clear "not a readable XLSX", not the import job.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_xlsx_cells(bytes)))
        .unwrap_or_else(|_| {
            tracing::warn!("the XLSX reader panicked on an uploaded file");
            Err(Text::key(crate::k!("import.err.bad_xlsx"), &[]))
        })
}

fn read_xlsx_cells(bytes: Vec<u8>) -> Result<Rows, Text> {
    let broken = |e: &dyn std::fmt::Display| {
        tracing::info!(error = %e, "an uploaded XLSX could not be read");
        Text::key(crate::k!("import.err.bad_xlsx"), &[])
    };
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| broken(&e))?;
    let Some(name) = book.sheet_names().first().cloned() else {
        return Err(Text::key(crate::k!("import.err.empty_file"), &[]));
    };
    let mut reader = book.worksheet_cells_reader(&name).map_err(|e| broken(&e))?;
    let mut sheet: std::collections::BTreeMap<u32, Vec<Cell>> = Default::default();
    while let Some(cell) = reader.next_cell().map_err(|e| broken(&e))? {
        let (row, col) = cell.get_position();
        let value = match cell.get_value() {
            DataRef::Empty => continue,
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
                Cell::Text(s.clone())
            }
            DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
            DataRef::Int(n) => Cell::Number(*n as f64),
            DataRef::Float(f) => Cell::Number(*f),
            DataRef::Bool(b) => Cell::Text(b.to_string()),
            DataRef::DateTime(d) => Cell::Date(d.as_f64()),
            DataRef::Error(e) => Cell::Text(format!("#{e:?}")),
        };
        if col >= MAX_COLUMNS {
            continue;
        }
        if sheet.len() >= MAX_READ_ROWS && !sheet.contains_key(&row) {
            return Err(too_many_rows(sheet.len()));
        }
        let at = col as usize;
        let cells = sheet.entry(row).or_default();
        if cells.len() <= at {
            cells.resize(at + 1, Cell::Empty);
        }
        cells[at] = value;
    }
    Ok(sheet
        .into_iter()
        .map(|(row, cells)| (row.saturating_add(1), cells))
        .collect())
}

fn too_many_rows(n: usize) -> Text {
    Text::key(
        crate::k!("import.err.too_many_rows"),
        &[("rows", &n), ("max", &MAX_ROWS)],
    )
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).unwrap_or_else(|| chrono::Utc.fix())
}

/// An Excel serial date (days since 1899-12-30, Beijing time) as Unix seconds, to the minute.
fn excel_to_unix(days: f64) -> Option<i64> {
    if !(1.0..2_958_466.0).contains(&days) {
        return None;
    }
    let minutes = (days * 1440.0).round() as i64;
    let local = minutes * 60 - 25_569 * 86_400;
    Some(local - i64::from(LOCAL_OFFSET_SECONDS))
}

/// A time as people write it in a spreadsheet, in Beijing time: `2026-12-01 08:00`,
/// `2026/12/1 8:00`, `2026年12月1日 8:00`, with or without seconds, or RFC 3339. A date
/// alone means the start of the day, or for the end of a validity (`end_of_day`) 23:59.
fn parse_local_time(s: &str, end_of_day: bool) -> Option<i64> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp());
    }
    let norm: String = t
        .chars()
        .map(|c| match c {
            '/' | '.' | '年' | '月' => '-',
            '日' => ' ',
            'T' | 't' => ' ',
            '：' => ':',
            c => c,
        })
        .collect();
    let mut parts = norm.split_whitespace();
    let date = parts.next()?;
    let time = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let ymd: Vec<&str> = date.split('-').filter(|p| !p.is_empty()).collect();
    let [y, m, d] = ymd.as_slice() else {
        return None;
    };
    // Four-digit years only: chrono takes years up to 262143, which no RFC 3339 time (the
    // form the import hands to the API) can carry.
    if y.len() != 4 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    let time = match time {
        None if end_of_day => NaiveTime::from_hms_opt(23, 59, 0)?,
        None => NaiveTime::from_hms_opt(0, 0, 0)?,
        Some(hm) => {
            let p: Vec<&str> = hm.split(':').collect();
            let (h, m, sec) = match p.as_slice() {
                [h, m] => (h.parse().ok()?, m.parse().ok()?, 0),
                [h, m, s] => (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?),
                _ => return None,
            };
            NaiveTime::from_hms_opt(h, m, sec)?
        }
    };
    beijing()
        .from_local_datetime(&NaiveDateTime::new(date, time))
        .single()
        .map(|d| d.timestamp())
}

// ---------------------------------------------------------------------------------------
// Jobs

/// One problem of an uploaded file.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The spreadsheet row (the header is row 1 in a template).
    pub row: u32,
    /// The column header as the file writes it.
    pub column: String,
    pub value: String,
    pub message: Text,
}

/// One issued pass, for the result page and its download.
#[derive(Debug, Clone)]
pub struct Issued {
    pub row: u32,
    pub number: String,
    pub plate: String,
    pub class: PassClass,
    pub valid_from: i64,
    pub valid_until: i64,
}

/// How a finished job ended.
#[derive(Debug)]
pub enum Outcome {
    Issued(Vec<Issued>),
    /// Nothing was issued: these rows are bad.
    Rejected {
        rows: usize,
        problems: Vec<Problem>,
    },
}

/// Where a job is.
#[derive(Debug, Clone)]
pub enum Phase {
    Reading,
    Checking { done: usize, total: usize },
    Issuing { done: usize, total: usize },
    Saving { total: usize },
    Done(Arc<Outcome>),
    Failed(Text),
}

#[derive(Debug, Clone)]
struct Job {
    owner: i64,
    file_name: String,
    started: Instant,
    phase: Phase,
}

/// The running and recent imports of this instance, in memory.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("count", &self.lock().len())
            .finish()
    }
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, id: &str, owner: i64, file_name: String) {
        let mut jobs = self.lock();
        let now = Instant::now();
        jobs.retain(|_, j| now.duration_since(j.started) < JOB_TTL);
        jobs.insert(
            id.to_owned(),
            Job {
                owner,
                file_name,
                started: now,
                phase: Phase::Reading,
            },
        );
    }

    fn set(&self, id: &str, phase: Phase) {
        if let Some(j) = self.lock().get_mut(id) {
            j.phase = phase;
        }
    }

    /// The job `id` if `owner` started it (anyone else is told it does not exist).
    fn get(&self, id: &str, owner: i64) -> Option<Job> {
        self.lock()
            .get(id)
            .filter(|j| j.owner == owner && j.started.elapsed() < JOB_TTL)
            .cloned()
    }
}

// ---------------------------------------------------------------------------------------
// The job itself

/// Read, check and (if every row is good) issue the passes of one file.
async fn run(st: AppState, id: String, bytes: Vec<u8>, created_by: String) {
    let jobs = &st.web.imports;
    let phase = match process(&st, &id, bytes, &created_by).await {
        Ok(outcome) => Phase::Done(Arc::new(outcome)),
        Err(JobError::File(text)) => Phase::Failed(text),
        Err(JobError::Internal(cause)) => {
            tracing::error!(%cause, job = %id, "an import failed");
            Phase::Failed(Text::key(crate::k!("import.err.internal"), &[]))
        }
    };
    jobs.set(&id, phase);
}

enum JobError {
    /// Something about the file as a whole, to show to the user.
    File(Text),
    /// Something on our side; logged, not shown.
    Internal(String),
}

impl From<ApiError> for JobError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Conflict(m) => JobError::File(Text::bilingual(&m)),
            other => JobError::Internal(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        JobError::Internal(e.to_string())
    }
}

/// The header of a file: which column index holds which column, and its header text.
struct Header {
    index: HashMap<Col, (usize, String)>,
}

impl Header {
    fn find(rows: &Rows) -> Result<(usize, Header), Text> {
        let Some(at) = rows
            .iter()
            .position(|(_, cells)| cells.iter().any(|c| !c.is_empty()))
        else {
            return Err(Text::key(crate::k!("import.err.empty_file"), &[]));
        };
        let mut index: HashMap<Col, (usize, String)> = HashMap::new();
        for (i, cell) in rows[at].1.iter().enumerate() {
            let text = cell.text();
            if let Some(col) = column_of_header(&text) {
                if let Some((_, first)) = index.get(&col) {
                    return Err(Text::key(
                        crate::k!("import.err.duplicate_column"),
                        &[("first", first), ("second", &text)],
                    ));
                }
                index.insert(col, (i, text));
            }
        }
        let mut missing: Vec<&str> = [
            Col::Plate,
            Col::Class,
            Col::Driver,
            Col::Origin,
            Col::Destination,
            Col::Cargo,
            Col::ValidFrom,
            Col::ValidUntil,
        ]
        .into_iter()
        .filter(|c| !index.contains_key(c))
        .map(|c| spec(c).header)
        .collect();
        if !index.contains_key(&Col::EnterpriseId) && !index.contains_key(&Col::EnterpriseName) {
            missing.push("企业编号 / 企业名称");
        }
        if !missing.is_empty() {
            return Err(Text::key(
                crate::k!("import.err.missing_columns"),
                &[("columns", &missing.join("、"))],
            ));
        }
        Ok((at, Header { index }))
    }

    fn cell<'a>(&self, cells: &'a [Cell], col: Col) -> &'a Cell {
        self.index
            .get(&col)
            .and_then(|(i, _)| cells.get(*i))
            .unwrap_or(&Cell::Empty)
    }

    /// The column's header as the file writes it (the template's if the file lacks it).
    fn name(&self, col: Col) -> String {
        match self.index.get(&col) {
            Some((_, h)) => h.clone(),
            None => spec(col).header.to_owned(),
        }
    }
}

/// Validity windows `(from, until, row)` of one plate and class.
type Windows = Vec<(i64, i64, u32)>;

/// Enterprise and checkpoint names to ids, looked up once per file: a row may name them
/// instead of giving their numbers.
pub struct Directory {
    enterprises: HashMap<String, Vec<u32>>,
    checkpoints: HashMap<String, Vec<u32>>,
}

impl Directory {
    /// From `(name, id)` pairs as the store lists them. Names are compared trimmed; a name
    /// that two of them share is ambiguous in a file.
    pub fn new(
        enterprises: impl IntoIterator<Item = (String, u32)>,
        checkpoints: impl IntoIterator<Item = (String, u32)>,
    ) -> Directory {
        let index = |pairs: &mut dyn Iterator<Item = (String, u32)>| {
            let mut map: HashMap<String, Vec<u32>> = HashMap::new();
            for (name, id) in pairs {
                map.entry(name.trim().to_owned()).or_default().push(id);
            }
            map
        };
        Directory {
            enterprises: index(&mut enterprises.into_iter()),
            checkpoints: index(&mut checkpoints.into_iter()),
        }
    }
}

/// One row turned into a request, with the problems found before [`validate`].
pub struct RowRequest {
    /// What the row asks for, as the form and the API would send it.
    pub body: NewPass,
    problems: Vec<(Col, Text)>,
}

impl RowRequest {
    /// The cells of the row that could not be read, as the page reports them.
    pub fn problems(&self) -> impl Iterator<Item = &Text> {
        self.problems.iter().map(|(_, t)| t)
    }
}

fn text_opt(cell: &Cell) -> Option<String> {
    let t = cell.text();
    (!t.is_empty()).then_some(t)
}

fn row_request(h: &Header, dir: &Directory, cells: &[Cell]) -> RowRequest {
    let mut problems: Vec<(Col, Text)> = Vec::new();
    let mut body = NewPass {
        plate: text_opt(h.cell(cells, Col::Plate)),
        driver: text_opt(h.cell(cells, Col::Driver)),
        co_driver: text_opt(h.cell(cells, Col::CoDriver)),
        driver_id_number: text_opt(h.cell(cells, Col::DriverId)),
        crew_phone: text_opt(h.cell(cells, Col::CrewPhone)),
        origin: text_opt(h.cell(cells, Col::Origin)),
        destination: text_opt(h.cell(cells, Col::Destination)),
        ..NewPass::default()
    };
    if let Some(v) = text_opt(h.cell(cells, Col::Class)) {
        match parse_class(&v) {
            Some(c) => body.class = Some(c.as_str().to_owned()),
            None => problems.push((
                Col::Class,
                Text::key(
                    crate::k!("import.err.class"),
                    &[("values", &class_values())],
                ),
            )),
        }
    }
    if let Some(v) = text_opt(h.cell(cells, Col::Cargo)) {
        match parse_cargo(&v) {
            Some(c) => body.cargo = Some(c.as_str().to_owned()),
            None => problems.push((
                Col::Cargo,
                Text::key(
                    crate::k!("import.err.cargo"),
                    &[("values", &cargo_values())],
                ),
            )),
        }
    }
    // The enterprise: by number, or by name.
    let by_id = text_opt(h.cell(cells, Col::EnterpriseId)).map(|v| {
        v.parse::<u32>().map_err(|_| {
            problems.push((
                Col::EnterpriseId,
                Text::key(crate::k!("import.err.enterprise_id"), &[]),
            ))
        })
    });
    let by_name = text_opt(h.cell(cells, Col::EnterpriseName)).map(|name| {
        match dir.enterprises.get(&name).map(Vec::as_slice) {
            Some([id]) => Ok(*id),
            Some(_) => {
                problems.push((
                    Col::EnterpriseName,
                    Text::key(crate::k!("import.err.enterprise_ambiguous"), &[]),
                ));
                Err(())
            }
            None => {
                problems.push((
                    Col::EnterpriseName,
                    Text::key(
                        crate::k!("import.err.enterprise_unknown"),
                        &[("name", &name)],
                    ),
                ));
                Err(())
            }
        }
    });
    match (by_id, by_name) {
        (Some(Ok(a)), Some(Ok(b))) if a != b => problems.push((
            Col::EnterpriseName,
            Text::key(crate::k!("import.err.enterprise_mismatch"), &[]),
        )),
        (Some(Ok(a)), _) => body.enterprise_id = Some(a),
        (None, Some(Ok(b))) => body.enterprise_id = Some(b),
        _ => {}
    }
    if let Some(v) = text_opt(h.cell(cells, Col::Checkpoints)) {
        let mut ids = Vec::new();
        for token in v
            .split(['、', ',', '，', ';', '；', '|'])
            .flat_map(str::split_whitespace)
            .filter(|t| !t.is_empty())
        {
            if let Ok(id) = token.parse::<u32>() {
                ids.push(id);
                continue;
            }
            match dir.checkpoints.get(token).map(Vec::as_slice) {
                Some([id]) => ids.push(*id),
                Some(_) => problems.push((
                    Col::Checkpoints,
                    Text::key(
                        crate::k!("import.err.checkpoint_ambiguous"),
                        &[("name", &token)],
                    ),
                )),
                None => problems.push((
                    Col::Checkpoints,
                    Text::key(
                        crate::k!("import.err.checkpoint_unknown"),
                        &[("name", &token)],
                    ),
                )),
            }
        }
        body.checkpoints = Some(ids);
    }
    for (col, end_of_day) in [(Col::ValidFrom, false), (Col::ValidUntil, true)] {
        let cell = h.cell(cells, col);
        let t = match cell {
            Cell::Empty => continue,
            Cell::Date(d) | Cell::Number(d) => excel_to_unix(*d),
            Cell::Text(s) if s.trim().is_empty() => continue,
            Cell::Text(s) => parse_local_time(s, end_of_day),
        };
        match t {
            Some(t) => {
                let v = Some(rfc3339(t));
                match col {
                    Col::ValidFrom => body.valid_from = v,
                    _ => body.valid_until = v,
                }
            }
            None => problems.push((col, Text::key(crate::k!("import.err.time"), &[]))),
        }
    }
    if let Some(v) = text_opt(h.cell(cells, Col::MaxDwell)) {
        match v.parse::<u32>() {
            Ok(m) => body.max_dwell_minutes = Some(m),
            Err(_) => problems.push((
                Col::MaxDwell,
                Text::key(crate::k!("import.err.minutes"), &[]),
            )),
        }
    }
    RowRequest { body, problems }
}

/// Whether a row is the template's example (its note starts with 示例 / "example").
fn is_example(h: &Header, cells: &[Cell]) -> bool {
    let note = h.cell(cells, Col::Note).text();
    note.starts_with(EXAMPLE_MARK) || note.to_lowercase().starts_with("example")
}

/// An uploaded file read into its header and data rows, as [`parse_upload`] gives it.
pub struct Sheet {
    header: Header,
    /// The data rows (not blank, not the template's example), each with its spreadsheet
    /// row number.
    rows: Rows,
}

impl Sheet {
    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Each data row's spreadsheet row number and the request it makes; the import then
    /// checks every request with [`validate`].
    pub fn requests(&self, dir: &Directory) -> Vec<(u32, RowRequest)> {
        self.rows
            .iter()
            .map(|(row, cells)| (*row, row_request(&self.header, dir, cells)))
            .collect()
    }
}

/// Read an uploaded file: tell CSV from XLSX, read the first sheet, find the header row and
/// keep the data rows. Pure (no store, no clock): the import job runs it on every upload,
/// and `fuzz/` runs it on anything. The error is the message for the whole file.
pub fn parse_upload(bytes: Vec<u8>) -> Result<Sheet, Text> {
    let rows = match detect(&bytes)? {
        Kind::Xlsx => read_xlsx(bytes)?,
        Kind::Csv => {
            let text = String::from_utf8(bytes)
                .map_err(|_| Text::key(crate::k!("import.err.not_utf8"), &[]))?;
            parse_csv(&text)
        }
    };
    let (header_at, header) = Header::find(&rows)?;
    let data: Rows = rows
        .into_iter()
        .skip(header_at + 1)
        .filter(|(_, cells)| cells.iter().any(|c| !c.is_empty()))
        .filter(|(_, cells)| !is_example(&header, cells))
        .collect();
    if data.is_empty() {
        return Err(Text::key(crate::k!("import.err.no_rows"), &[]));
    }
    if data.len() > MAX_ROWS {
        return Err(too_many_rows(data.len()));
    }
    Ok(Sheet { header, rows: data })
}

async fn process(
    st: &AppState,
    id: &str,
    bytes: Vec<u8>,
    created_by: &str,
) -> Result<Outcome, JobError> {
    let jobs = &st.web.imports;
    let sheet = tokio::task::spawn_blocking(move || parse_upload(bytes))
        .await
        .map_err(|e| JobError::Internal(e.to_string()))?
        .map_err(JobError::File)?;
    let total = sheet.len();
    jobs.set(id, Phase::Checking { done: 0, total });

    let dir = Directory::new(
        st.store
            .list_enterprises()
            .await?
            .into_iter()
            .map(|e| (e.name, e.id.0)),
        st.store
            .list_checkpoints()
            .await?
            .into_iter()
            .map(|c| (c.name, c.id.0)),
    );

    let now = now();
    let header = &sheet.header;
    let mut problems: Vec<Problem> = Vec::new();
    let mut issues: Vec<(u32, Issue)> = Vec::with_capacity(total);
    // (plate, class) → validity windows already seen, with their rows.
    let mut seen: HashMap<(String, PassClass), Windows> = HashMap::new();
    let requests = sheet.requests(&dir);
    for (i, ((row, cells), (_, req))) in sheet.rows.iter().zip(requests).enumerate() {
        let row = *row;
        let value_of = |col: Col| header.cell(cells, col).text();
        let mut flagged: Vec<Col> = Vec::new();
        for (col, message) in req.problems {
            flagged.push(col);
            problems.push(Problem {
                row,
                column: header.name(col),
                value: value_of(col),
                message,
            });
        }
        match validate(st, &req.body, now).await {
            Ok(issue) => {
                if flagged.is_empty() {
                    let p = &issue.pass;
                    let (from, until) = (p.validity.from().to_unix(), p.validity.until().to_unix());
                    let windows = seen.entry((p.plate.to_string(), p.class)).or_default();
                    if let Some((_, _, other)) =
                        windows.iter().find(|(f, u, _)| from < *u && *f < until)
                    {
                        problems.push(Problem {
                            row,
                            column: header.name(Col::Plate),
                            value: value_of(Col::Plate),
                            message: Text::key(
                                crate::k!("import.err.duplicate_row"),
                                &[("row", other)],
                            ),
                        });
                    } else {
                        windows.push((from, until, row));
                        issues.push((row, issue));
                    }
                }
            }
            Err(ApiError::Validation(fields)) => {
                for f in fields {
                    let mut col = column_of_field(&f.field);
                    if col == Col::EnterpriseId && !header.index.contains_key(&Col::EnterpriseId) {
                        col = Col::EnterpriseName;
                    }
                    // A cell we could not read is reported once, as we read it.
                    if flagged.contains(&col) {
                        continue;
                    }
                    problems.push(Problem {
                        row,
                        column: header.name(col),
                        value: value_of(col),
                        message: Text::bilingual(&f.message),
                    });
                }
            }
            Err(other) => return Err(other.into()),
        }
        if i % 50 == 49 {
            jobs.set(id, Phase::Checking { done: i + 1, total });
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.row);
        return Ok(Outcome::Rejected {
            rows: total,
            problems,
        });
    }

    // Every row is good: number, sign and store them all.
    let (rows, issues): (Vec<u32>, Vec<Issue>) = issues.into_iter().unzip();
    jobs.set(id, Phase::Issuing { done: 0, total });
    let records = issue_many(
        st,
        issues,
        now,
        created_by,
        &format!("import:{id}"),
        |done| {
            let phase = if done == total {
                Phase::Saving { total }
            } else {
                Phase::Issuing { done, total }
            };
            jobs.set(id, phase);
        },
    )
    .await?;
    let issued: Vec<Issued> = rows
        .into_iter()
        .zip(&records)
        .map(|(row, record)| Issued {
            row,
            number: record.number.to_string(),
            plate: record.plate.clone(),
            class: record.class,
            valid_from: record.valid_from,
            valid_until: record.valid_until,
        })
        .collect();
    Metrics::add(&st.metrics.passes_issued, records.len() as u64);
    tracing::info!(
        count = records.len(),
        by = created_by,
        "passes issued by import"
    );
    Ok(Outcome::Issued(issued))
}

// ---------------------------------------------------------------------------------------
// Pages

/// The explanation of every column, as a table.
fn columns_table(ctx: &Ctx) -> Markup {
    html! {
        div class="table-wrap" {
            table class="import-columns" {
                thead { tr {
                    th scope="col" { (ctx.t("import.columns.name")) }
                    th scope="col" { (ctx.t("import.columns.need")) }
                    th scope="col" { (ctx.t("import.columns.help")) }
                } }
                tbody {
                    @for s in COLUMNS {
                        tr {
                            th scope="row" { (s.header) }
                            td { (ctx.t(s.need)) }
                            td { (column_help(ctx.lang, s)) }
                        }
                    }
                }
            }
        }
    }
}

/// A column's explanation, with the allowed values where there is a list.
fn column_help(lang: Lang, s: &Spec) -> String {
    match s.col {
        Col::Class => format!("{} {}", tr(lang, s.help), class_values()),
        Col::Cargo => format!("{} {}", tr(lang, s.help), cargo_values()),
        _ => tr(lang, s.help).to_owned(),
    }
}

fn form_page(ctx: &Ctx, error: Option<&str>) -> Markup {
    let action = format!("/passes/import?_csrf={}", super::urlencode(&ctx.csrf));
    page(
        ctx,
        ctx.t("import.title"),
        html! {
            h1 { (ctx.t("import.title")) }
            p { (ctx.tf("import.intro", &[("max", &MAX_ROWS)])) }
            @if let Some(e) = error {
                div class="alert error" role="alert" { p { (e) } }
            }
            section class="card import-upload" {
                h2 { (ctx.t("import.upload.heading")) }
                form method="post" enctype="multipart/form-data" action=(action) {
                    div class="field" {
                        label for="f-file" {
                            (ctx.t("import.upload.label"))
                            span class="req" aria-hidden="true" { " *" }
                            span class="sr-only" { (ctx.t("form.required")) }
                        }
                        input id="f-file" name="file" type="file" accept=".csv,.xlsx" required
                            aria-describedby="f-file-hint";
                        small id="f-file-hint" class="hint" {
                            (ctx.tf("import.upload.hint", &[("mb", &(UPLOAD_LIMIT / 1024 / 1024))]))
                        }
                    }
                    button type="submit" class="primary" { (ctx.t("import.upload.submit")) }
                }
            }
            h2 { (ctx.t("import.template.heading")) }
            p { (ctx.t("import.template.intro")) }
            div class="actions" {
                a class="button" href="/passes/import/template.xlsx" download { (ctx.t("import.template.xlsx")) }
                a class="button" href="/passes/import/template.csv" download { (ctx.t("import.template.csv")) }
            }
            h2 { (ctx.t("import.columns.heading")) }
            ul class="import-rules" {
                li { (ctx.t("import.rules.all_or_nothing")) }
                li { (ctx.t("import.rules.times")) }
                li { (ctx.t("import.rules.checkpoints")) }
                li { (ctx.t("import.rules.csv")) }
                li { (ctx.t("import.rules.example")) }
            }
            (columns_table(ctx))
        },
    )
}

async fn form(ctx: Ctx) -> Markup {
    form_page(&ctx, None)
}

/// The form again with what was wrong with the upload (nothing has changed).
fn refuse(ctx: &Ctx, status: StatusCode, message: &str) -> Response {
    (status, form_page(ctx, Some(message))).into_response()
}

async fn upload(
    State(st): State<AppState>,
    ctx: Ctx,
    multipart: Result<Multipart, MultipartRejection>,
) -> WebResult<Response> {
    let user = ctx.user()?.clone();
    let no_file = || ctx.t("import.err.no_file");
    let Ok(mut multipart) = multipart else {
        return Ok(refuse(&ctx, StatusCode::BAD_REQUEST, no_file()));
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Ok(upload_error(&ctx, e.status())),
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or_default().to_owned();
        match field.bytes().await {
            Ok(b) => file = Some((name, b.to_vec())),
            Err(e) => return Ok(upload_error(&ctx, e.status())),
        }
    }
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Ok(refuse(&ctx, StatusCode::BAD_REQUEST, no_file()));
    };
    // Refused at once when it is no table at all; the job reads it (parse_upload).
    if let Err(text) = detect(&bytes) {
        return Ok(refuse(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            text.get(ctx.lang),
        ));
    }
    let id = super::session::random_hex()?;
    let id = id[..32.min(id.len())].to_owned();
    st.web.imports.start(&id, user.id, name);
    let job = tokio::spawn(run(st.clone(), id.clone(), bytes, user.username.clone()));
    // A job that panicked must not stay "running" for ever.
    let watcher_state = st.clone();
    let watcher_id = id.clone();
    tokio::spawn(async move {
        if let Err(e) = job.await {
            tracing::error!(error = %e, job = %watcher_id, "an import job stopped");
            watcher_state.web.imports.set(
                &watcher_id,
                Phase::Failed(Text::key(crate::k!("import.err.internal"), &[])),
            );
        }
    });
    Ok(see_other(&format!("/passes/import/{id}")))
}

fn upload_error(ctx: &Ctx, status: StatusCode) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let msg = ctx.tf(
            "import.err.too_large",
            &[("mb", &(UPLOAD_LIMIT / 1024 / 1024))],
        );
        refuse(ctx, StatusCode::PAYLOAD_TOO_LARGE, &msg)
    } else {
        refuse(ctx, StatusCode::BAD_REQUEST, ctx.t("import.err.upload"))
    }
}

fn find_job(st: &AppState, ctx: &Ctx, id: &str) -> WebResult<Job> {
    let user = ctx.user()?;
    st.web
        .imports
        .get(id, user.id)
        .ok_or(WebError::NotFound("import"))
}

fn progress(ctx: &Ctx, label: String, done: usize, total: usize) -> Markup {
    html! {
        p id="import-phase" { (label) }
        progress aria-labelledby="import-phase" value=(done) max=(total.max(1)) {
            (done) " / " (total)
        }
        p class="hint" { (ctx.t("import.job.refreshing")) }
    }
}

async fn job_page(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let job = find_job(&st, &ctx, &id)?;
    let running = !matches!(job.phase, Phase::Done(_) | Phase::Failed(_));
    let body = html! {
        @if running {
            // Reload every second while the job runs: no script needed.
            meta http-equiv="refresh" content="1";
        }
        h1 { (ctx.t("import.job.title")) }
        p { (ctx.tf("import.job.file", &[("name", &job.file_name)])) }
        @match &job.phase {
            Phase::Reading => {
                p id="import-phase" { (ctx.t("import.phase.reading")) }
                progress aria-labelledby="import-phase" {}
                p class="hint" { (ctx.t("import.job.refreshing")) }
            }
            Phase::Checking { done, total } => {
                (progress(&ctx, ctx.tf("import.phase.checking", &[("done", done), ("total", total)]), *done, *total))
            }
            Phase::Issuing { done, total } => {
                (progress(&ctx, ctx.tf("import.phase.issuing", &[("done", done), ("total", total)]), *done, *total))
            }
            Phase::Saving { total } => {
                (progress(&ctx, ctx.tf("import.phase.saving", &[("total", total)]), *total, *total))
            }
            Phase::Failed(text) => {
                div class="alert error" role="alert" {
                    p { strong { (ctx.t("import.phase.failed")) } }
                    p { (text.get(ctx.lang)) }
                    p { (ctx.t("import.nothing_issued")) }
                }
                p { a href="/passes/import" { (ctx.t("import.again")) } }
            }
            Phase::Done(outcome) => {
                @match outcome.as_ref() {
                    Outcome::Issued(passes) => {
                        (notice(&ctx.tf("import.done.issued", &[("count", &passes.len())])))
                        div class="actions" {
                            a class="button primary" href={ "/passes/import/" (id) "/result.xlsx" } download {
                                (ctx.t("import.done.download"))
                            }
                            a class="button" href="/passes" { (ctx.t("import.done.list")) }
                            a class="button" href="/passes/import" { (ctx.t("import.done.another")) }
                        }
                    }
                    Outcome::Rejected { rows, problems } => {
                        div class="alert error" role="alert" {
                            p { strong { (ctx.tf("import.rejected.summary", &[("rows", rows), ("count", &problems.len())])) } }
                            p { (ctx.t("import.nothing_issued")) }
                        }
                        div class="actions" {
                            a class="button" href={ "/passes/import/" (id) "/problems.csv" } download {
                                (ctx.t("import.rejected.download"))
                            }
                            a class="button primary" href="/passes/import" { (ctx.t("import.again")) }
                        }
                        @if problems.len() > PROBLEMS_SHOWN {
                            p { (ctx.tf("import.rejected.truncated", &[("shown", &PROBLEMS_SHOWN)])) }
                        }
                        div class="table-wrap" {
                            table class="import-problems" {
                                caption class="sr-only" { (ctx.t("import.rejected.caption")) }
                                thead { tr {
                                    th scope="col" class="num" { (ctx.t("import.problem.row")) }
                                    th scope="col" { (ctx.t("import.problem.column")) }
                                    th scope="col" { (ctx.t("import.problem.value")) }
                                    th scope="col" { (ctx.t("import.problem.message")) }
                                } }
                                tbody {
                                    @for p in problems.iter().take(PROBLEMS_SHOWN) {
                                        tr {
                                            td class="num" { (p.row) }
                                            td { (p.column) }
                                            td class="value" { (p.value) }
                                            td { (p.message.get(ctx.lang)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut resp = page(&ctx, ctx.t("import.job.title"), body).into_response();
    if running {
        resp.headers_mut()
            .insert(header::REFRESH, HeaderValue::from_static("1"));
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------------------
// Downloads

fn download(content_type: &'static str, file_name: &str, body: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const CSV_TYPE: &str = "text/csv; charset=utf-8";

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> WebError {
    WebError::Internal(format!("xlsx: {e}"))
}

/// The example row of the templates: a long-haul pass from tomorrow for two weeks.
fn example_row() -> Vec<String> {
    let tomorrow = (now() / 86_400 + 1) * 86_400;
    let day = |t: i64| datetime(t).split(' ').next().unwrap_or_default().to_owned();
    let values: [(Col, String); 16] = [
        (Col::Plate, "豫U12345".into()),
        (Col::Class, PassClass::LongHaul.name_zh().into()),
        (Col::Driver, "张三".into()),
        (Col::CoDriver, "李四".into()),
        (Col::DriverId, String::new()),
        (Col::CrewPhone, String::new()),
        (Col::EnterpriseId, "1".into()),
        (Col::EnterpriseName, String::new()),
        (Col::Origin, "419001".into()),
        (Col::Destination, "410102".into()),
        (Col::Checkpoints, "1、2".into()),
        (Col::Cargo, Cargo::ProductionMaterials.name_zh().into()),
        (Col::ValidFrom, format!("{} 08:00", day(tomorrow))),
        (
            Col::ValidUntil,
            format!("{} 18:00", day(tomorrow + 13 * 86_400)),
        ),
        (Col::MaxDwell, String::new()),
        (
            Col::Note,
            format!("{EXAMPLE_MARK}行（导入时自动跳过，可删除）"),
        ),
    ];
    COLUMNS
        .iter()
        .map(|s| {
            values
                .iter()
                .find(|(c, _)| *c == s.col)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect()
}

async fn template_xlsx(ctx: Ctx) -> WebResult<Response> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold().set_background_color(0x00DD_EBF7);
    let text = Format::new().set_num_format("@");
    let wrap = Format::new().set_text_wrap();
    let sheet = book.add_worksheet();
    sheet.set_name("通行证").map_err(xlsx_error)?;
    for (i, s) in COLUMNS.iter().enumerate() {
        let col = u16::try_from(i).unwrap_or(u16::MAX);
        // Text columns keep plates, codes and ID numbers as typed (no 4.19E+05).
        sheet.set_column_format(col, &text).map_err(xlsx_error)?;
        sheet
            .set_column_width(col, if s.col == Col::Note { 36 } else { 16 })
            .map_err(xlsx_error)?;
        sheet
            .write_string_with_format(0, col, s.header, &bold)
            .map_err(xlsx_error)?;
    }
    for (i, v) in example_row().into_iter().enumerate() {
        let col = u16::try_from(i).unwrap_or(u16::MAX);
        sheet
            .write_string_with_format(1, col, v, &text)
            .map_err(xlsx_error)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;

    let help = book.add_worksheet();
    help.set_name("填写说明").map_err(xlsx_error)?;
    for (col, key) in [
        crate::k!("import.columns.name"),
        crate::k!("import.columns.need"),
        crate::k!("import.columns.help"),
    ]
    .into_iter()
    .enumerate()
    {
        let col = u16::try_from(col).unwrap_or(u16::MAX);
        help.write_string_with_format(0, col, tr(ctx.lang, key), &bold)
            .map_err(xlsx_error)?;
    }
    help.set_column_width(0, 18).map_err(xlsx_error)?;
    help.set_column_width(1, 22).map_err(xlsx_error)?;
    help.set_column_width(2, 90).map_err(xlsx_error)?;
    for (i, s) in COLUMNS.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        help.write_string(row, 0, s.header).map_err(xlsx_error)?;
        help.write_string(row, 1, tr(ctx.lang, s.need))
            .map_err(xlsx_error)?;
        help.write_string_with_format(row, 2, column_help(ctx.lang, s), &wrap)
            .map_err(xlsx_error)?;
    }
    let first_rule_row = u32::try_from(COLUMNS.len() + 2).unwrap_or(u32::MAX);
    let rules = [
        crate::k!("import.rules.all_or_nothing"),
        crate::k!("import.rules.times"),
        crate::k!("import.rules.checkpoints"),
        crate::k!("import.rules.example"),
    ];
    for (row, key) in (first_rule_row..).zip(rules) {
        help.write_string(row, 0, tr(ctx.lang, key))
            .map_err(xlsx_error)?;
    }
    let bytes = book.save_to_buffer().map_err(xlsx_error)?;
    Ok(download(XLSX_TYPE, "pass-import-template.xlsx", bytes))
}

/// One CSV field, quoted when it needs to be; a leading `=`, `+`, `-` or `@` is kept as text
/// so that a spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_line(out: &mut String, fields: &[String]) {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

async fn template_csv() -> Response {
    let mut out = String::from("\u{feff}");
    let headers: Vec<String> = COLUMNS.iter().map(|s| s.header.to_owned()).collect();
    csv_line(&mut out, &headers);
    csv_line(&mut out, &example_row());
    download(CSV_TYPE, "pass-import-template.csv", out.into_bytes())
}

async fn result_xlsx(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> WebResult<Response> {
    use rust_xlsxwriter::{Format, Workbook};
    let job = find_job(&st, &ctx, &id)?;
    let Phase::Done(outcome) = &job.phase else {
        return Err(WebError::NotFound("import result"));
    };
    let Outcome::Issued(passes) = outcome.as_ref() else {
        return Err(WebError::NotFound("import result"));
    };
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = book.add_worksheet();
    let heads = [
        crate::k!("import.result.number"),
        crate::k!("import.result.plate"),
        crate::k!("import.result.class"),
        crate::k!("import.result.valid_from"),
        crate::k!("import.result.valid_until"),
        crate::k!("import.result.row"),
    ];
    for (i, key) in heads.into_iter().enumerate() {
        let col = u16::try_from(i).unwrap_or(u16::MAX);
        sheet
            .write_string_with_format(0, col, ctx.t(key), &bold)
            .map_err(xlsx_error)?;
        sheet.set_column_width(col, 20).map_err(xlsx_error)?;
    }
    for (i, p) in passes.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let class = match ctx.lang {
            Lang::Zh => p.class.name_zh(),
            Lang::En => p.class.name_en(),
        };
        sheet.write_string(row, 0, &p.number).map_err(xlsx_error)?;
        sheet.write_string(row, 1, &p.plate).map_err(xlsx_error)?;
        sheet.write_string(row, 2, class).map_err(xlsx_error)?;
        sheet
            .write_string(row, 3, datetime(p.valid_from))
            .map_err(xlsx_error)?;
        sheet
            .write_string(row, 4, datetime(p.valid_until))
            .map_err(xlsx_error)?;
        sheet.write_number(row, 5, p.row).map_err(xlsx_error)?;
    }
    let bytes = book.save_to_buffer().map_err(xlsx_error)?;
    Ok(download(XLSX_TYPE, "issued-passes.xlsx", bytes))
}

async fn problems_csv(
    State(st): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let job = find_job(&st, &ctx, &id)?;
    let Phase::Done(outcome) = &job.phase else {
        return Err(WebError::NotFound("import problems"));
    };
    let Outcome::Rejected { problems, .. } = outcome.as_ref() else {
        return Err(WebError::NotFound("import problems"));
    };
    let mut out = String::from("\u{feff}");
    csv_line(
        &mut out,
        &[
            ctx.t("import.problem.row").to_owned(),
            ctx.t("import.problem.column").to_owned(),
            ctx.t("import.problem.value").to_owned(),
            ctx.t("import.problem.message").to_owned(),
        ],
    );
    for p in problems {
        csv_line(
            &mut out,
            &[
                p.row.to_string(),
                p.column.clone(),
                p.value.clone(),
                p.message.get(ctx.lang).to_owned(),
            ],
        );
    }
    Ok(download(CSV_TYPE, "import-problems.csv", out.into_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn headers_match_in_chinese_and_english() {
        assert_eq!(column_of_header("车牌号"), Some(Col::Plate));
        assert_eq!(column_of_header(" 车牌号* "), Some(Col::Plate));
        assert_eq!(column_of_header("车牌号（必填）"), Some(Col::Plate));
        assert_eq!(column_of_header("Valid From"), Some(Col::ValidFrom));
        assert_eq!(column_of_header("max_dwell_minutes"), Some(Col::MaxDwell));
        assert_eq!(column_of_header("\u{feff}车牌号"), Some(Col::Plate));
        assert_eq!(column_of_header("颜色"), None);
    }

    #[test]
    fn class_and_cargo_in_chinese_or_code() {
        assert_eq!(parse_class("长途闭环"), Some(PassClass::LongHaul));
        assert_eq!(parse_class("short_haul"), Some(PassClass::ShortHaul));
        assert_eq!(parse_class("3"), Some(PassClass::LoadUnloadLeave));
        assert_eq!(parse_class("卡车"), None);
        assert_eq!(parse_cargo("防疫物资"), Some(Cargo::EpidemicSupplies));
        assert_eq!(
            parse_cargo("daily_necessities"),
            Some(Cargo::DailyNecessities)
        );
    }

    /// Found by fuzzing: one stray cell at the sheet's far corner made the reader allocate
    /// every cell of the rectangle up to it (about 17 billion) and the server ran out of
    /// memory. The reader keeps only the cells the sheet holds.
    #[test]
    fn a_stray_far_cell_does_not_blow_up_the_reader() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(2, 1, "车牌号").unwrap();
        sheet.write_string(3, 1, "豫U12345").unwrap();
        sheet.write_string(3, 3, "长途闭环").unwrap();
        sheet.write_string(1_048_575, 16_383, "far away").unwrap();
        sheet
            .write_string(5, 70, "beyond the columns read")
            .unwrap();
        sheet.write_string(1_048_575, 0, "last row").unwrap();
        let rows = read_xlsx(book.save_to_buffer().unwrap()).unwrap();
        let numbers: Vec<u32> = rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [3, 4, 1_048_576]);
        assert_eq!(
            rows[1].1,
            [
                Cell::Empty,
                Cell::Text("豫U12345".into()),
                Cell::Empty,
                Cell::Text("长途闭环".into())
            ]
        );
        // Row 6 held only a cell past the columns read, so it is not there at all.
        assert_eq!(rows[2].1, [Cell::Text("last row".into())]);
    }

    /// Found by fuzzing: a cell reference of nine letters overflowed the spreadsheet
    /// reader's arithmetic, which panics in a checked build. The file is refused as not a
    /// readable XLSX instead.
    #[test]
    fn a_cell_reference_that_breaks_the_reader_is_a_bad_file() {
        use std::io::{Read, Write};
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "车牌号").unwrap();
        sheet.write_string(0, 1, "类别").unwrap();
        let good = book.save_to_buffer().unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(good)).unwrap();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            let name = file.name().unwrap().to_string();
            let mut body = Vec::new();
            file.read_to_end(&mut body).unwrap();
            if name == "xl/worksheets/sheet1.xml" {
                let xml = String::from_utf8(body).unwrap();
                assert!(xml.contains(r#"r="B1""#), "{xml}");
                body = xml.replace(r#"r="B1""#, r#"r="INLINESTR1""#).into_bytes();
            }
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(&body).unwrap();
        }
        let bad = out.finish().unwrap().into_inner();
        let err = read_xlsx(bad).unwrap_err();
        assert_eq!(err, Text::key(crate::k!("import.err.bad_xlsx"), &[]));
    }

    #[test]
    fn times_as_people_write_them() {
        let t = parse_local_time("2026-12-01 08:00", false).unwrap();
        assert_eq!(rfc3339(t), "2026-12-01T08:00:00+08:00");
        assert_eq!(parse_local_time("2026/12/1 8:00", false), Some(t));
        assert_eq!(parse_local_time("2026年12月1日 8:00", false), Some(t));
        assert_eq!(
            parse_local_time("2026-12-01T08:00:00+08:00", false),
            Some(t)
        );
        assert_eq!(
            parse_local_time("2026-12-01", true).map(rfc3339).unwrap(),
            "2026-12-01T23:59:00+08:00"
        );
        assert_eq!(parse_local_time("2026-13-01 08:00", false), None);
        // Found by fuzzing: chrono reads five-digit years, which no RFC 3339 time can carry,
        // so the API refused the time the import handed it with a confusing message.
        assert_eq!(parse_local_time("20260-12-01 08:00", false), None);
        assert_eq!(parse_local_time("99999/1/1", true), None);
        assert_eq!(parse_local_time("明天", false), None);
        // Excel: 2026-12-01 08:00 is serial 46357 + 1/3.
        assert_eq!(excel_to_unix(46357.0 + 8.0 / 24.0), Some(t));
    }

    #[test]
    fn csv_with_quotes_bom_and_line_breaks() {
        let rows = parse_csv("\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\nthere\"\r\n1,2");
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0].1,
            vec![Cell::Text("a".into()), Cell::Text("b".into())]
        );
        assert_eq!(rows[1].1[0], Cell::Text("x, y".into()));
        assert_eq!(rows[1].1[1], Cell::Text("say \"hi\"\nthere".into()));
        assert_eq!(rows[2].0, 3);
        let semi = parse_csv("a;b\n1;2\n");
        assert_eq!(semi[1].1.len(), 2);
    }

    #[test]
    fn files_are_told_apart() {
        assert_eq!(detect("车牌号,通行证类别\n".as_bytes()), Ok(Kind::Csv));
        assert_eq!(detect(b"PK\x03\x04rest"), Ok(Kind::Xlsx));
        // 车牌号 in GBK.
        let gbk = b"\xb3\xb5\xc5\xc6\xba\xc5,a\n";
        assert_eq!(
            detect(gbk).unwrap_err(),
            Text::key(crate::k!("import.err.not_utf8"), &[])
        );
        assert_eq!(
            detect(&[0, 1, 2, 3, 200, 201]).unwrap_err(),
            Text::key(crate::k!("import.err.not_table"), &[])
        );
        assert!(detect(b"  \n").is_err());
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
    }
}
