//! Every label of the gate screen, Chinese and English side by side in one place. Verdict
//! and reason texts are not here: they come from [`crate::output`] and the shared rules,
//! like everywhere else in the program.

use passgate_shared::Lang;
use passgate_shared::record::HealthCode;
use passgate_shared::sync::Direction;

use crate::output;

/// A fixed label of the gate screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Title,
    Ready,
    ReadyHint,
    HeadlineAccepted,
    HeadlineRejected,
    HeadlineOverride,
    Plate,
    Number,
    Crew,
    Cargo,
    Route,
    RouteCheckpoints,
    Reason,
    Guard,
    NoGuard,
    Checks,
    HealthCode,
    Itinerary,
    Test48h,
    Temperature,
    NotChecked,
    Inside,
    InsideNone,
    SyncPanel,
    LastSync,
    Never,
    Bundle,
    Unsent,
    Stale,
    NoBundle,
    ClockBehind,
    ClockAhead,
    Syncing,
    ScanPrompt,
    HelpLine,
    HelpTitle,
    HelpClose,
    OverrideTitle,
    OverrideReason,
    OverrideSupervisor,
    OverrideKeys,
    NothingToOverride,
    OverrideSending,
    DefaultsSaved,
    SyncStarted,
    SyncBusy,
    RepeatIgnored,
    Untrusted,
    Supervisor,
}

impl Label {
    /// The label in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Label::Title => ("卡口核验", "Gate check"),
            Label::Ready => ("请扫码", "READY TO SCAN"),
            Label::ReadyHint => (
                "扫码枪扫描通行证二维码即可核验",
                "scan the pass QR code with the barcode scanner",
            ),
            Label::HeadlineAccepted => (output::HEADLINE_ACCEPTED, "ACCEPTED"),
            Label::HeadlineRejected => (output::HEADLINE_REJECTED, "REJECTED"),
            Label::HeadlineOverride => (output::HEADLINE_OVERRIDE, "ACCEPTED WITH OVERRIDE"),
            Label::Plate => ("车牌", "Plate"),
            Label::Number => ("证号", "Pass"),
            Label::Crew => ("司乘", "Crew"),
            Label::Cargo => ("货物", "Cargo"),
            Label::Route => ("线路", "Route"),
            Label::RouteCheckpoints => ("查验点", "checkpoints"),
            Label::Reason => ("原因", "Reason"),
            Label::Guard => ("查验人", "Guard"),
            Label::NoGuard => ("未设", "not set"),
            Label::Checks => ("两码一证", "Checks"),
            Label::HealthCode => ("健康码", "health"),
            Label::Itinerary => ("行程卡", "itinerary"),
            Label::Test48h => ("48h核酸", "48h test"),
            Label::Temperature => ("体温", "temp"),
            Label::NotChecked => ("未查", "-"),
            Label::Inside => ("厂内车辆（即装即卸即走）", "Inside now (load-unload-leave)"),
            Label::InsideNone => ("无", "none"),
            Label::SyncPanel => ("同步", "Sync"),
            Label::LastSync => ("上次同步", "Last sync"),
            Label::Never => ("从未同步", "never"),
            Label::Bundle => ("信任数据", "Bundle"),
            Label::Unsent => ("待上传", "To upload"),
            Label::Stale => ("⚠ 信任数据已过期，请同步", "⚠ STALE bundle: sync now"),
            Label::NoBundle => ("⚠ 没有可用的信任数据", "⚠ no usable bundle"),
            Label::ClockBehind => ("⚠ 本机时钟被回拨，请校准", "⚠ clock set back: fix it"),
            Label::ClockAhead => (
                "⚠ 本机时钟比服务器快，请校准",
                "⚠ clock ahead of server: fix it",
            ),
            Label::Syncing => ("同步中…", "syncing…"),
            Label::ScanPrompt => ("扫码 ▶ ", "Scan ▶ "),
            Label::HelpLine => (
                "F1帮助 F2进/出 F3-F6两码 F7存默认 F8特批 F9同步 F10退出",
                "F1 help F2 in/out F3-F6 checks F7 save F8 override F9 sync F10 quit",
            ),
            Label::HelpTitle => ("帮助（按 F1 或 Esc 关闭）", "Help (F1 or Esc closes)"),
            Label::HelpClose => ("扫码枪输入照常生效", "scanner input still works"),
            Label::OverrideTitle => ("主管特批", "Supervisor override"),
            Label::OverrideReason => ("特批理由", "Reason"),
            Label::OverrideSupervisor => ("主管编号", "Supervisor id"),
            Label::OverrideKeys => (
                "Enter 下一项/提交 · Tab 切换 · Esc 取消",
                "Enter next/submit · Tab switch · Esc cancel",
            ),
            Label::NothingToOverride => (
                "本次没有可特批的拒绝记录",
                "no rejected scan to override in this session",
            ),
            Label::OverrideSending => ("正在记录特批…", "recording the override…"),
            Label::DefaultsSaved => (
                "已保存默认方向和两码查验",
                "direction and checks saved as defaults",
            ),
            Label::SyncStarted => ("开始同步…", "sync started…"),
            Label::SyncBusy => ("同步已在进行", "a sync is already running"),
            Label::RepeatIgnored => (
                "同一通行证刚刚扫过，本次不重复记录",
                "same pass scanned a moment ago: not recorded twice",
            ),
            Label::Untrusted => (
                "无法确认通行证内容，请勿按其内容放行",
                "pass content not verified: do not rely on it",
            ),
            Label::Supervisor => ("特批主管", "Supervisor"),
        };
        lang.pick(zh, en)
    }
}

/// The direction label always shown in the header: `方向：进（入厂）` / `Direction: IN`.
pub fn direction_label(direction: Direction, lang: Lang) -> &'static str {
    match (lang, direction) {
        (Lang::Zh, Direction::In) => "方向：进（入厂）",
        (Lang::Zh, Direction::Out) => "方向：出（离厂）",
        (Lang::En, Direction::In) => "Direction: IN",
        (Lang::En, Direction::Out) => "Direction: OUT",
    }
}

/// A health code colour, short.
pub fn health_label(h: Option<HealthCode>, lang: Lang) -> &'static str {
    match h {
        None => Label::NotChecked.text(lang),
        Some(HealthCode::Green) => lang.pick("绿码", "green"),
        Some(HealthCode::Yellow) => lang.pick("黄码", "yellow"),
        Some(HealthCode::Red) => lang.pick("红码", "red"),
    }
}

/// A yes/no observation, short: `(yes, no)` words in Chinese.
pub fn yes_no_label(v: Option<bool>, lang: Lang, zh: (&'static str, &'static str)) -> &'static str {
    match (v, lang) {
        (None, l) => Label::NotChecked.text(l),
        (Some(true), Lang::Zh) => zh.0,
        (Some(false), Lang::Zh) => zh.1,
        (Some(true), Lang::En) => "ok",
        (Some(false), Lang::En) => "NO",
    }
}

/// The full help (F1), one key per line.
pub fn help_lines(lang: Lang) -> Vec<&'static str> {
    match lang {
        Lang::Zh => vec![
            "扫码枪扫描：字符进入输入行，回车即核验（无需切换焦点）",
            "F1        显示/关闭帮助",
            "F2        切换方向 进/出（输入行为空时 Tab 也可）",
            "F3        健康码：未查 → 绿码 → 黄码 → 红码",
            "F4        行程卡：未查 → 正常 → 异常",
            "F5        48小时核酸：未查 → 阴性 → 无",
            "F6        体温：未查 → 正常 → 异常",
            "F7        把当前方向和两码查验存为默认（每次扫码后恢复默认）",
            "F8        主管特批最近一条拒绝记录（填写理由和主管编号）",
            "F9        立即同步（后台进行）",
            "F10/Ctrl-C 退出",
            "Esc       清空输入行；Backspace 删除一个字",
            "拒绝时终端响铃；即装即卸即走车辆超时标红",
        ],
        Lang::En => vec![
            "Scanner: characters go to the input line, Enter verifies (no focus needed)",
            "F1        show/close this help",
            "F2        toggle direction in/out (Tab too when the input line is empty)",
            "F3        health code: not checked → green → yellow → red",
            "F4        itinerary card: not checked → ok → not ok",
            "F5        negative test within 48 h: not checked → yes → no",
            "F6        temperature: not checked → normal → high",
            "F7        save the direction and checks as defaults (restored after each scan)",
            "F8        supervisor override of the last rejected scan (reason, supervisor id)",
            "F9        sync now (in the background)",
            "F10/Ctrl-C quit",
            "Esc       clear the input line; Backspace deletes one character",
            "A rejection rings the bell; load-unload-leave overstays are shown in red",
        ],
    }
}
