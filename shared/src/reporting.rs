//! Enterprise reporting rules (企业专班): the unified social credit code, the daily and zero
//! report, supplies' days of cover, the risk-person notice flow and what makes an enterprise
//! "abnormal" on the task force's dashboard.
//!
//! Pure like the rest of this crate: dates are Beijing dates as `YYYY-MM-DD` text (see
//! [`crate::time::local_day`]) and "now" is always a parameter. The server stores what these
//! functions accept and the console shows the messages they return; no rule here is written
//! twice elsewhere.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::time::{UnixSeconds, local_day, local_day_range};

// ---------------------------------------------------------------------------------------
// Unified social credit code (统一社会信用代码, GB 32100-2015)
// ---------------------------------------------------------------------------------------

/// The 31 characters a credit code may use: digits and capital letters except I, O, Z, S, V.
const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A validated unified social credit code: 18 characters, check character correct.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

/// Why a credit code was refused. Each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CreditCodeError {
    #[error("the credit code is empty / 统一社会信用代码为空")]
    Empty,
    #[error(
        "a unified social credit code has 18 characters, this one has {0} / 统一社会信用代码应为 18 位，实为 {0} 位"
    )]
    Length(usize),
    #[error(
        "character {0:?} at position {1} is not allowed: use digits and capital letters except I, O, Z, S, V / 第 {1} 位“{0}”无效：只能用数字和大写字母（不含 I、O、Z、S、V）"
    )]
    Character(char, usize),
    #[error(
        "positions 3–8 are the registering authority's division code and must be digits / 第 3–8 位是登记管理机关行政区划码，须为数字"
    )]
    Division,
    #[error(
        "the check character should be {expected:?}, not {found:?}: check the code for a typo / 校验位应为“{expected}”而不是“{found}”，请核对代码"
    )]
    Check { expected: char, found: char },
}

fn credit_value(c: u8) -> Option<u32> {
    CREDIT_ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// The check character for the first 17 characters of a credit code (which must already be
/// in the alphabet).
fn credit_check(first17: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (&c, w) in first17.iter().zip(CREDIT_WEIGHTS) {
        sum += credit_value(c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    CREDIT_ALPHABET.get(v as usize).copied()
}

impl CreditCode {
    /// Parse a code as people type it: surrounding spaces are ignored and lower-case letters
    /// are accepted.
    pub fn parse(s: &str) -> Result<CreditCode, CreditCodeError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(CreditCodeError::Empty);
        }
        let upper: String = t.chars().map(|c| c.to_ascii_uppercase()).collect();
        let n = upper.chars().count();
        if n != 18 {
            return Err(CreditCodeError::Length(n));
        }
        for (i, c) in upper.chars().enumerate() {
            if !c.is_ascii() || credit_value(c as u8).is_none() {
                return Err(CreditCodeError::Character(c, i + 1));
            }
        }
        let b = upper.as_bytes();
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(CreditCodeError::Division);
        }
        let expected = credit_check(&b[..17]).ok_or(CreditCodeError::Division)?;
        if b[17] != expected {
            return Err(CreditCodeError::Check {
                expected: char::from(expected),
                found: char::from(b[17]),
            });
        }
        Ok(CreditCode(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = CreditCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CreditCode::parse(&s)
    }
}

impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}

// ---------------------------------------------------------------------------------------
// Zones, help, report kinds
// ---------------------------------------------------------------------------------------

/// The risk zones inside a closed-loop plant.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// 绿区: normal production.
    Green,
    /// 蓝区: buffer.
    Blue,
    /// 黄区: close contacts under observation.
    Yellow,
    /// 红区: positive cases.
    Red,
}

impl Zone {
    pub const ALL: [Zone; 4] = [Zone::Green, Zone::Blue, Zone::Yellow, Zone::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Green => "green",
            Zone::Blue => "blue",
            Zone::Yellow => "yellow",
            Zone::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<Zone> {
        Zone::ALL.into_iter().find(|z| z.as_str() == s)
    }

    pub fn label(self, lang: crate::Lang) -> &'static str {
        match self {
            Zone::Green => lang.pick("绿区", "green zone"),
            Zone::Blue => lang.pick("蓝区", "blue zone"),
            Zone::Yellow => lang.pick("黄区", "yellow zone"),
            Zone::Red => lang.pick("红区", "red zone"),
        }
    }
}

/// What an enterprise can ask the task force for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelpKind {
    /// 吃: food.
    Eat,
    /// 住: lodging.
    Sleep,
    /// 检: testing.
    Test,
    /// 物流: logistics.
    Logistics,
}

impl HelpKind {
    pub const ALL: [HelpKind; 4] = [
        HelpKind::Eat,
        HelpKind::Sleep,
        HelpKind::Test,
        HelpKind::Logistics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HelpKind::Eat => "eat",
            HelpKind::Sleep => "sleep",
            HelpKind::Test => "test",
            HelpKind::Logistics => "logistics",
        }
    }

    pub fn parse(s: &str) -> Option<HelpKind> {
        HelpKind::ALL.into_iter().find(|h| h.as_str() == s)
    }

    pub fn label(self, lang: crate::Lang) -> &'static str {
        match self {
            HelpKind::Eat => lang.pick("吃", "food"),
            HelpKind::Sleep => lang.pick("住", "lodging"),
            HelpKind::Test => lang.pick("检", "testing"),
            HelpKind::Logistics => lang.pick("物流", "logistics"),
        }
    }
}

/// A zero report (零报告: nothing abnormal, headcount only) or a full daily report (日报告).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Zero,
    Full,
}

impl ReportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Zero => "zero",
            ReportKind::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<ReportKind> {
        [ReportKind::Zero, ReportKind::Full]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

// ---------------------------------------------------------------------------------------
// The daily report
// ---------------------------------------------------------------------------------------

/// The largest count a report field accepts (no plant has a million people; a bigger number
/// is a typo).
pub const MAX_COUNT: i64 = 1_000_000;
/// The longest "help needed" text, in characters.
pub const MAX_HELP_TEXT: usize = 500;

/// One supply line of a report as submitted: the item's key, the stock now and what was used
/// since the last report (one day).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyLineDraft {
    pub item: String,
    pub stock: i64,
    #[serde(default)]
    pub used: i64,
}

/// A report as typed in a form or sent to the API, before validation. Numbers are signed so
/// that a negative entry reaches the validator and gets its own message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDraft {
    /// The Beijing date reported on, `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub date: String,
    pub kind: ReportKind,
    pub on_site: i64,
    /// Only for a full report.
    #[serde(default)]
    pub green: i64,
    #[serde(default)]
    pub blue: i64,
    #[serde(default)]
    pub yellow: i64,
    #[serde(default)]
    pub red: i64,
    #[serde(default)]
    pub isolation: i64,
    #[serde(default)]
    pub observation: i64,
    #[serde(default)]
    pub tests_done: i64,
    #[serde(default)]
    pub tests_abnormal: i64,
    #[serde(default)]
    pub disinfected: bool,
    #[serde(default)]
    pub vehicles_in: i64,
    #[serde(default)]
    pub vehicles_out: i64,
    #[serde(default)]
    pub supplies: Vec<SupplyLineDraft>,
    #[serde(default)]
    pub help: Vec<HelpKind>,
    #[serde(default)]
    pub help_text: String,
}

impl ReportDraft {
    /// An empty draft of `kind` for `date`.
    pub fn new(date: &str, kind: ReportKind) -> ReportDraft {
        ReportDraft {
            date: date.to_owned(),
            kind,
            on_site: 0,
            green: 0,
            blue: 0,
            yellow: 0,
            red: 0,
            isolation: 0,
            observation: 0,
            tests_done: 0,
            tests_abnormal: 0,
            disinfected: false,
            vehicles_in: 0,
            vehicles_out: 0,
            supplies: Vec::new(),
            help: Vec::new(),
            help_text: String::new(),
        }
    }
}

/// One supply line of a validated report.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplyLine {
    pub item: String,
    pub stock: u32,
    pub used: u32,
}

/// A report that passed [`validate_report`]. A zero report has everyone in the green zone
/// and nothing else to say.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub date: String,
    pub kind: ReportKind,
    pub on_site: u32,
    pub green: u32,
    pub blue: u32,
    pub yellow: u32,
    pub red: u32,
    pub isolation: u32,
    pub observation: u32,
    pub tests_done: u32,
    pub tests_abnormal: u32,
    pub disinfected: bool,
    pub vehicles_in: u32,
    pub vehicles_out: u32,
    pub supplies: Vec<SupplyLine>,
    pub help: Vec<HelpKind>,
    pub help_text: String,
}

/// Why one field of a report was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReportError {
    #[error(
        "the date must be a real date written YYYY-MM-DD / 日期格式应为 年-月-日，如 2022-04-01"
    )]
    Date,
    #[error(
        "a report cannot be for a future date (today is {today}) / 不能填报未来日期（今天是 {today}）"
    )]
    FutureDate { today: String },
    #[error("this number cannot be negative / 不能为负数")]
    Negative,
    #[error("this number is too large (at most {MAX_COUNT}) / 数值过大（最多 {MAX_COUNT}）")]
    TooLarge,
    #[error(
        "the zones add up to {zones}, more than the {on_site} people on site / 各区人数合计 {zones}，超过在岗人数 {on_site}"
    )]
    ZonesExceedOnSite { zones: i64, on_site: i64 },
    #[error(
        "abnormal results ({abnormal}) cannot exceed the tests done ({done}) / 异常人数 {abnormal} 不能多于检测人数 {done}"
    )]
    AbnormalExceedsTests { abnormal: i64, done: i64 },
    #[error(
        "say what help is needed (at most {MAX_HELP_TEXT} characters) / 请说明需要的帮助（不超过 {MAX_HELP_TEXT} 字）"
    )]
    HelpText,
    #[error("unknown supply item {0:?} / 未知物资“{0}”")]
    UnknownSupply(String),
    #[error("supply item {0:?} is listed twice / 物资“{0}”重复填写")]
    DuplicateSupply(String),
    #[error(
        "a zero report says nothing abnormal: use a full report to give zones, tests or help / 零报告表示无异常；如需填写分区、检测或求助，请改用日报告"
    )]
    ZeroWithDetail,
}

/// One refused field: `field` names the form field / JSON key (`on_site`, `red`,
/// `supplies.masks.stock`, …) so the console can put the message next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub error: ReportError,
}

fn count(field: &str, v: i64, problems: &mut Vec<FieldProblem>) -> u32 {
    let error = if v < 0 {
        ReportError::Negative
    } else if v > MAX_COUNT {
        ReportError::TooLarge
    } else {
        return u32::try_from(v).unwrap_or(0);
    };
    problems.push(FieldProblem {
        field: field.to_owned(),
        error,
    });
    0
}

/// Check a draft. `known_items` are the keys of the configured supply items; `now` decides
/// what "future" means. Every bad field is reported, not just the first.
pub fn validate_report(
    draft: &ReportDraft,
    known_items: &[&str],
    now: UnixSeconds,
) -> Result<Report, Vec<FieldProblem>> {
    let mut p = Vec::new();
    let push = |p: &mut Vec<FieldProblem>, field: &str, error| {
        p.push(FieldProblem {
            field: field.to_owned(),
            error,
        })
    };
    let today = local_day(now);
    let date = draft.date.trim();
    if local_day_range(date).is_none() {
        push(&mut p, "date", ReportError::Date);
    } else if date > today.as_str() {
        push(&mut p, "date", ReportError::FutureDate { today });
    }
    let on_site = count("on_site", draft.on_site, &mut p);
    let zero = draft.kind == ReportKind::Zero;
    if zero {
        let detail = [
            draft.blue,
            draft.yellow,
            draft.red,
            draft.isolation,
            draft.observation,
            draft.tests_abnormal,
        ]
        .iter()
        .any(|&v| v != 0)
            || !draft.help.is_empty()
            || !draft.help_text.trim().is_empty();
        if detail {
            push(&mut p, "kind", ReportError::ZeroWithDetail);
        }
    }
    let mut zones = [0u32; 4];
    let drafts = [draft.green, draft.blue, draft.yellow, draft.red];
    for (i, z) in Zone::ALL.into_iter().enumerate() {
        zones[i] = count(z.as_str(), drafts[i], &mut p);
    }
    if zero {
        zones = [on_site, 0, 0, 0];
    } else {
        let sum: i64 = drafts.iter().filter(|v| **v > 0).sum();
        if draft.on_site >= 0 && sum > draft.on_site {
            push(
                &mut p,
                "zones",
                ReportError::ZonesExceedOnSite {
                    zones: sum,
                    on_site: draft.on_site,
                },
            );
        }
    }
    let isolation = count("isolation", draft.isolation, &mut p);
    let observation = count("observation", draft.observation, &mut p);
    let tests_done = count("tests_done", draft.tests_done, &mut p);
    let tests_abnormal = count("tests_abnormal", draft.tests_abnormal, &mut p);
    if draft.tests_abnormal > draft.tests_done && draft.tests_done >= 0 {
        push(
            &mut p,
            "tests_abnormal",
            ReportError::AbnormalExceedsTests {
                abnormal: draft.tests_abnormal,
                done: draft.tests_done,
            },
        );
    }
    let vehicles_in = count("vehicles_in", draft.vehicles_in, &mut p);
    let vehicles_out = count("vehicles_out", draft.vehicles_out, &mut p);
    let mut supplies = Vec::new();
    for line in &draft.supplies {
        let key = line.item.trim();
        if !known_items.contains(&key) {
            push(
                &mut p,
                &format!("supplies.{key}"),
                ReportError::UnknownSupply(key.to_owned()),
            );
            continue;
        }
        if supplies.iter().any(|s: &SupplyLine| s.item == key) {
            push(
                &mut p,
                &format!("supplies.{key}"),
                ReportError::DuplicateSupply(key.to_owned()),
            );
            continue;
        }
        let stock = count(&format!("supplies.{key}.stock"), line.stock, &mut p);
        let used = count(&format!("supplies.{key}.used"), line.used, &mut p);
        supplies.push(SupplyLine {
            item: key.to_owned(),
            stock,
            used,
        });
    }
    let help_text = draft.help_text.trim().to_owned();
    let mut help = draft.help.clone();
    help.sort();
    help.dedup();
    if (!help.is_empty() && help_text.is_empty()) || help_text.chars().count() > MAX_HELP_TEXT {
        push(&mut p, "help_text", ReportError::HelpText);
    }
    if !p.is_empty() {
        return Err(p);
    }
    Ok(Report {
        date: date.to_owned(),
        kind: draft.kind,
        on_site,
        green: zones[0],
        blue: zones[1],
        yellow: zones[2],
        red: zones[3],
        isolation,
        observation,
        tests_done,
        tests_abnormal,
        disinfected: draft.disinfected,
        vehicles_in,
        vehicles_out,
        supplies,
        help,
        help_text,
    })
}

/// The time of day, in Beijing minutes after midnight, by which the day's report is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueTime(pub u16);

impl DueTime {
    /// `HH:MM`, 00:00–23:59.
    pub fn parse(s: &str) -> Option<DueTime> {
        let (h, m) = s.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(DueTime(h * 60 + m))
    }

    /// The instant the report for `date` is due; `None` if `date` is not a date.
    pub fn deadline(self, date: &str) -> Option<UnixSeconds> {
        local_day_range(date).map(|(start, _)| start + i64::from(self.0) * 60)
    }
}

impl std::fmt::Display for DueTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A day's report is late when its **first** version was submitted after the deadline.
/// Later corrections do not make an on-time report late, and a late one stays late.
pub fn is_late(date: &str, first_submitted_at: UnixSeconds, due: DueTime) -> bool {
    due.deadline(date)
        .is_some_and(|deadline| first_submitted_at > deadline)
}

/// Where one enterprise stands for a day, as the task force's coverage counts it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    /// A full report, on time.
    Reported,
    /// A zero report, on time.
    ZeroReported,
    /// A report of either kind, first submitted after the deadline.
    Late,
    /// No report (yet).
    Missing,
}

/// The status of one enterprise's day: `current` is the kind of its latest version and when
/// the first version came in, if any.
pub fn day_status(
    date: &str,
    current: Option<(ReportKind, UnixSeconds)>,
    due: DueTime,
) -> DayStatus {
    match current {
        None => DayStatus::Missing,
        Some((kind, first)) => report_status(kind, is_late(date, first, due)),
    }
}

/// The status a filed report gives its day, once lateness is known: a stored report carries
/// the `late` flag its first version was given (with the due time in force then), so a
/// later change of the due time does not rewrite history.
pub fn report_status(kind: ReportKind, late: bool) -> DayStatus {
    match (kind, late) {
        (_, true) => DayStatus::Late,
        (ReportKind::Zero, false) => DayStatus::ZeroReported,
        (ReportKind::Full, false) => DayStatus::Reported,
    }
}

/// Coverage counts for a group of enterprises on one day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub reported: u32,
    pub zero_reported: u32,
    pub late: u32,
    pub missing: u32,
}

impl Coverage {
    pub fn add(&mut self, s: DayStatus) {
        match s {
            DayStatus::Reported => self.reported += 1,
            DayStatus::ZeroReported => self.zero_reported += 1,
            DayStatus::Late => self.late += 1,
            DayStatus::Missing => self.missing += 1,
        }
    }

    pub fn total(&self) -> u32 {
        self.reported + self.zero_reported + self.late + self.missing
    }
}

/// Why a report puts its enterprise on the task force's abnormal list.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Abnormality {
    RedZone { people: u32 },
    YellowZone { people: u32 },
    AbnormalTests { people: u32 },
    HelpNeeded { help: Vec<HelpKind> },
}

impl Abnormality {
    pub fn message(&self, lang: crate::Lang) -> String {
        match (self, lang) {
            (Abnormality::RedZone { people }, crate::Lang::Zh) => format!("红区 {people} 人"),
            (Abnormality::RedZone { people }, crate::Lang::En) => {
                format!("{people} in the red zone")
            }
            (Abnormality::YellowZone { people }, crate::Lang::Zh) => format!("黄区 {people} 人"),
            (Abnormality::YellowZone { people }, crate::Lang::En) => {
                format!("{people} in the yellow zone")
            }
            (Abnormality::AbnormalTests { people }, crate::Lang::Zh) => {
                format!("检测异常 {people} 人")
            }
            (Abnormality::AbnormalTests { people }, crate::Lang::En) => {
                format!("{people} abnormal test results")
            }
            (Abnormality::HelpNeeded { help }, lang) => {
                let kinds: Vec<&str> = help.iter().map(|h| h.label(lang)).collect();
                match lang {
                    crate::Lang::Zh => format!("需要帮助：{}", kinds.join("、")),
                    crate::Lang::En => format!("needs help: {}", kinds.join(", ")),
                }
            }
        }
    }
}

/// What is abnormal in a report (empty for a normal day).
pub fn abnormalities(r: &Report) -> Vec<Abnormality> {
    let mut out = Vec::new();
    if r.red > 0 {
        out.push(Abnormality::RedZone { people: r.red });
    }
    if r.yellow > 0 {
        out.push(Abnormality::YellowZone { people: r.yellow });
    }
    if r.tests_abnormal > 0 {
        out.push(Abnormality::AbnormalTests {
            people: r.tests_abnormal,
        });
    }
    if !r.help.is_empty() {
        out.push(Abnormality::HelpNeeded {
            help: r.help.clone(),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------
// Supplies
// ---------------------------------------------------------------------------------------

/// How an item's stock is counted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyUnit {
    /// Pieces, boxes, litres …: days of cover come from the consumption rate.
    Counted,
    /// The stock is already a number of days (food).
    Days,
}

/// How many recent reports the consumption rate is averaged over.
pub const CONSUMPTION_WINDOW: usize = 7;

/// Days of cover for an item: `stock` divided by the average daily use over the most recent
/// reports (`recent_use`, newest first; at most [`CONSUMPTION_WINDOW`] are used). `None` when
/// nothing is being used (cover is unlimited). For [`SupplyUnit::Days`] the stock is the
/// answer.
pub fn days_of_cover(unit: SupplyUnit, stock: u32, recent_use: &[u32]) -> Option<f64> {
    if unit == SupplyUnit::Days {
        return Some(f64::from(stock));
    }
    let window = &recent_use[..recent_use.len().min(CONSUMPTION_WINDOW)];
    if window.is_empty() {
        return None;
    }
    let total: f64 = window.iter().map(|&u| f64::from(u)).sum();
    let rate = total / window.len() as f64;
    (rate > 0.0).then(|| f64::from(stock) / rate)
}

/// Whether cover below `threshold_days` should raise a warning.
pub fn supply_warning(cover: Option<f64>, threshold_days: u32) -> bool {
    cover.is_some_and(|d| d < f64::from(threshold_days))
}

// ---------------------------------------------------------------------------------------
// The risk-person notice flow
// ---------------------------------------------------------------------------------------

/// The steps of a risk-person notice, in order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskStep {
    /// 1. 接到指挥部通知
    NoticeReceived,
    /// 2. 启动预案
    PlanStarted,
    /// 3. 管控风险区域
    AreaControlled,
    /// 4. 转运隔离并报专班
    Isolated,
    /// 5. 流调
    Investigated,
    /// 6. 移交疾控
    HandedToCdc,
    /// 7. 结案
    Closed,
}

impl RiskStep {
    pub const ALL: [RiskStep; 7] = [
        RiskStep::NoticeReceived,
        RiskStep::PlanStarted,
        RiskStep::AreaControlled,
        RiskStep::Isolated,
        RiskStep::Investigated,
        RiskStep::HandedToCdc,
        RiskStep::Closed,
    ];

    /// 1–7.
    pub fn number(self) -> u8 {
        match self {
            RiskStep::NoticeReceived => 1,
            RiskStep::PlanStarted => 2,
            RiskStep::AreaControlled => 3,
            RiskStep::Isolated => 4,
            RiskStep::Investigated => 5,
            RiskStep::HandedToCdc => 6,
            RiskStep::Closed => 7,
        }
    }

    pub fn from_number(n: u8) -> Option<RiskStep> {
        RiskStep::ALL.into_iter().find(|s| s.number() == n)
    }

    pub fn next(self) -> Option<RiskStep> {
        RiskStep::from_number(self.number() + 1)
    }

    pub fn label(self, lang: crate::Lang) -> &'static str {
        match self {
            RiskStep::NoticeReceived => lang.pick("接到指挥部通知", "notice received from HQ"),
            RiskStep::PlanStarted => lang.pick("启动预案", "plan started"),
            RiskStep::AreaControlled => lang.pick("管控风险区域", "risk area controlled"),
            RiskStep::Isolated => {
                lang.pick("转运隔离并报专班", "moved to isolation, task force told")
            }
            RiskStep::Investigated => lang.pick("流行病学调查", "epidemiological investigation"),
            RiskStep::HandedToCdc => lang.pick("移交疾控", "handed to the CDC"),
            RiskStep::Closed => lang.pick("结案", "closed"),
        }
    }
}

/// Why a step cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FlowError {
    #[error("this case is closed / 该事件已结案")]
    Closed,
    #[error("step {0} is already done; steps only move forward / 第 {0} 步已完成，流程只能向前")]
    AlreadyDone(u8),
    #[error(
        "the next step is {next}; skipping to step {target} needs an administrator and a reason / 下一步应为第 {next} 步；跳到第 {target} 步须由管理员操作并说明理由"
    )]
    Skip { next: u8, target: u8 },
    #[error("give the reason for skipping steps / 请填写跳过步骤的理由")]
    SkipReason,
    #[error("give the owner of this step / 请填写本步骤负责人")]
    Owner,
}

/// The longest risk-case subject, in characters.
pub const MAX_SUBJECT: usize = 100;

/// Why a risk case's subject was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubjectError {
    #[error("give the notice number or the person's masked name / 请填写通知编号或脱敏后的姓名")]
    Empty,
    #[error("at most {MAX_SUBJECT} characters / 最多 {MAX_SUBJECT} 个字")]
    TooLong,
    #[error(
        "do not enter an ID number: use the notice number or a masked name such as 张*明 / 请勿填写身份证号，请填写通知编号或脱敏姓名（如 张*明）"
    )]
    IdNumber,
}

/// Check the subject of a risk case: a masked name or a notice number, trimmed. Anything
/// that holds a run of 15 or more digits (an ID number, old or new) is refused, so the case
/// list never carries one.
pub fn check_risk_subject(s: &str) -> Result<String, SubjectError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(SubjectError::Empty);
    }
    if t.chars().count() > MAX_SUBJECT {
        return Err(SubjectError::TooLong);
    }
    let mut run = 0;
    for c in t.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 15 {
            return Err(SubjectError::IdNumber);
        }
    }
    Ok(t.to_owned())
}

/// Check that a case whose last completed step is `done` may record `target`. Only the next
/// step may be recorded, unless an administrator skips ahead and gives a reason.
pub fn check_step(
    done: RiskStep,
    target: RiskStep,
    owner: &str,
    is_admin: bool,
    skip_reason: &str,
) -> Result<(), FlowError> {
    if done == RiskStep::Closed {
        return Err(FlowError::Closed);
    }
    if target <= done {
        return Err(FlowError::AlreadyDone(target.number()));
    }
    if owner.trim().is_empty() {
        return Err(FlowError::Owner);
    }
    let next = done.next().unwrap_or(RiskStep::Closed);
    if target != next {
        if !is_admin {
            return Err(FlowError::Skip {
                next: next.number(),
                target: target.number(),
            });
        }
        if skip_reason.trim().is_empty() {
            return Err(FlowError::SkipReason);
        }
    }
    Ok(())
}

/// The open step of a case (the one after `done`) is overdue when more than `limit_minutes`
/// have passed since `done` was recorded. A closed case is never overdue.
pub fn step_overdue(
    done: RiskStep,
    done_at: UnixSeconds,
    limit_minutes: u32,
    now: UnixSeconds,
) -> bool {
    done != RiskStep::Closed && now - done_at > i64::from(limit_minutes) * 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lang;

    /// 2022-04-01 12:00 Beijing.
    const NOW: UnixSeconds = 1_648_785_600;

    fn with_check(first17: &str) -> String {
        let c = credit_check(first17.as_bytes()).unwrap();
        format!("{first17}{}", char::from(c))
    }

    #[test]
    fn credit_codes() {
        // A published example code (its check character follows GB 32100).
        assert_eq!(
            CreditCode::parse(" 91350100m000100y43 ").unwrap().as_str(),
            "91350100M000100Y43"
        );
        let good = with_check("91410100MA3X00001");
        assert!(CreditCode::parse(&good).is_ok());
        assert_eq!(CreditCode::parse(""), Err(CreditCodeError::Empty));
        assert_eq!(
            CreditCode::parse("91410100MA3X0000"),
            Err(CreditCodeError::Length(16))
        );
        assert_eq!(
            CreditCode::parse("91410100MA3X0000I1"),
            Err(CreditCodeError::Character('I', 17))
        );
        assert_eq!(
            CreditCode::parse("91A10100MA3X000011"),
            Err(CreditCodeError::Division)
        );
        let mut bad = good.clone().into_bytes();
        bad[17] = if bad[17] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(matches!(
            CreditCode::parse(&bad),
            Err(CreditCodeError::Check { .. })
        ));
        assert!(matches!(
            CreditCode::parse("９1410100MA3X000011"),
            Err(CreditCodeError::Character('９', 1))
        ));
        let msg = CreditCodeError::Length(3).to_string();
        assert!(msg.contains("18") && msg.contains("统一社会信用代码"));
    }

    fn full(date: &str) -> ReportDraft {
        ReportDraft {
            on_site: 100,
            green: 90,
            blue: 5,
            yellow: 3,
            red: 2,
            tests_done: 100,
            tests_abnormal: 1,
            supplies: vec![SupplyLineDraft {
                item: "masks".into(),
                stock: 500,
                used: 100,
            }],
            ..ReportDraft::new(date, ReportKind::Full)
        }
    }

    fn fields(r: Result<Report, Vec<FieldProblem>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn full_reports_validate() {
        let r = validate_report(&full("2022-04-01"), &["masks"], NOW).unwrap();
        assert_eq!((r.on_site, r.red, r.supplies[0].stock), (100, 2, 500));
        assert_eq!(abnormalities(&r).len(), 3);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut d = full("2022-04-02");
        d.red = -1;
        d.tests_abnormal = 101;
        d.help = vec![HelpKind::Eat];
        d.supplies.push(SupplyLineDraft {
            item: "caviar".into(),
            stock: 1,
            used: 0,
        });
        assert_eq!(
            fields(validate_report(&d, &["masks"], NOW)),
            [
                "date",
                "red",
                "tests_abnormal",
                "supplies.caviar",
                "help_text"
            ]
        );
        let mut d = full("2022-04-01");
        d.green = 200;
        let p = validate_report(&d, &["masks"], NOW).unwrap_err();
        assert_eq!(
            p[0].error,
            ReportError::ZonesExceedOnSite {
                zones: 210,
                on_site: 100
            }
        );
        assert!(p[0].error.to_string().contains("超过在岗人数 100"));
        d.date = "2022-02-30".into();
        assert_eq!(fields(validate_report(&d, &["masks"], NOW))[0], "date");
        d = full("2022-04-01");
        d.on_site = MAX_COUNT + 1;
        assert_eq!(fields(validate_report(&d, &["masks"], NOW)), ["on_site"]);
    }

    #[test]
    fn zero_reports_keep_the_headcount_and_nothing_else() {
        let mut d = ReportDraft::new("2022-04-01", ReportKind::Zero);
        d.on_site = 80;
        let r = validate_report(&d, &[], NOW).unwrap();
        assert_eq!((r.green, r.red, r.kind), (80, 0, ReportKind::Zero));
        assert!(abnormalities(&r).is_empty());
        d.red = 1;
        assert_eq!(fields(validate_report(&d, &[], NOW)), ["kind"]);
    }

    #[test]
    fn lateness_is_decided_by_the_first_version() {
        let due = DueTime::parse("10:00").unwrap();
        assert_eq!(due.to_string(), "10:00");
        assert!(DueTime::parse("24:00").is_none() && DueTime::parse("9").is_none());
        let deadline = due.deadline("2022-04-01").unwrap();
        // 2022-04-01 10:00 Beijing is 02:00 UTC.
        assert_eq!(deadline, 1_648_778_400);
        assert!(!is_late("2022-04-01", deadline, due));
        assert!(is_late("2022-04-01", deadline + 1, due));
        assert_eq!(
            day_status("2022-04-01", Some((ReportKind::Zero, deadline + 60)), due),
            DayStatus::Late
        );
        assert_eq!(
            day_status("2022-04-01", Some((ReportKind::Full, deadline)), due),
            DayStatus::Reported
        );
        assert_eq!(day_status("2022-04-01", None, due), DayStatus::Missing);
        assert_eq!(report_status(ReportKind::Full, true), DayStatus::Late);
        assert_eq!(
            report_status(ReportKind::Zero, false),
            DayStatus::ZeroReported
        );
        assert_eq!(report_status(ReportKind::Full, false), DayStatus::Reported);
        let mut c = Coverage::default();
        for s in [DayStatus::Missing, DayStatus::Late, DayStatus::Reported] {
            c.add(s);
        }
        assert_eq!((c.total(), c.missing, c.late), (3, 1, 1));
    }

    #[test]
    fn days_of_cover_uses_the_recent_rate() {
        assert_eq!(
            days_of_cover(SupplyUnit::Counted, 500, &[100, 100, 100]),
            Some(5.0)
        );
        // Only the newest seven reports count.
        let uses = [10, 10, 10, 10, 10, 10, 10, 1000];
        assert_eq!(days_of_cover(SupplyUnit::Counted, 70, &uses), Some(7.0));
        assert_eq!(days_of_cover(SupplyUnit::Counted, 70, &[0, 0]), None);
        assert_eq!(days_of_cover(SupplyUnit::Counted, 70, &[]), None);
        assert_eq!(days_of_cover(SupplyUnit::Days, 4, &[]), Some(4.0));
        assert!(supply_warning(Some(2.5), 3));
        assert!(!supply_warning(Some(3.0), 3));
        assert!(!supply_warning(None, 3));
    }

    #[test]
    fn steps_move_forward_one_at_a_time() {
        use RiskStep::*;
        assert_eq!(
            check_step(NoticeReceived, PlanStarted, "张三", false, ""),
            Ok(())
        );
        assert_eq!(
            check_step(NoticeReceived, Isolated, "张三", false, "x"),
            Err(FlowError::Skip { next: 2, target: 4 })
        );
        assert_eq!(
            check_step(NoticeReceived, Isolated, "张三", true, " "),
            Err(FlowError::SkipReason)
        );
        assert_eq!(
            check_step(NoticeReceived, Isolated, "张三", true, "现场已处置"),
            Ok(())
        );
        assert_eq!(
            check_step(Isolated, PlanStarted, "张三", true, "r"),
            Err(FlowError::AlreadyDone(2))
        );
        assert_eq!(
            check_step(Closed, Closed, "张三", true, "r"),
            Err(FlowError::Closed)
        );
        assert_eq!(
            check_step(HandedToCdc, Closed, " ", false, ""),
            Err(FlowError::Owner)
        );
        assert!(step_overdue(PlanStarted, 0, 60, 3601));
        assert!(!step_overdue(PlanStarted, 0, 60, 3600));
        assert!(!step_overdue(Closed, 0, 60, 1_000_000));
        assert_eq!(RiskStep::from_number(4), Some(Isolated));
        assert_eq!(check_risk_subject(" 张*明 ").unwrap(), "张*明");
        assert_eq!(
            check_risk_subject("通知 2022-0417 号").unwrap(),
            "通知 2022-0417 号"
        );
        assert_eq!(
            check_risk_subject("电话 13800000000").unwrap(),
            "电话 13800000000"
        );
        assert_eq!(
            check_risk_subject("张三 41900119900101123X"),
            Err(SubjectError::IdNumber)
        );
        assert_eq!(
            check_risk_subject("410101900101123"),
            Err(SubjectError::IdNumber)
        );
        assert_eq!(check_risk_subject("  "), Err(SubjectError::Empty));
        assert_eq!(
            check_risk_subject(&"号".repeat(MAX_SUBJECT + 1)),
            Err(SubjectError::TooLong)
        );
        assert_eq!(Isolated.label(Lang::Zh), "转运隔离并报专班");
    }
}
