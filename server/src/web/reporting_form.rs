//! The daily report form as typed (日报告 / 零报告): every value kept as text so a refused form
//! comes back exactly as the person left it, turned into a [`ReportDraft`] for the shared
//! rules ([`passgate_shared::reporting::validate_report`]). The input names are the field
//! names the rules use in their [`FieldProblem`]s (`on_site`, `red`,
//! `supplies.masks.stock` …), so each message lands next to its input.
//!
//! The form itself only says what it could not read (a word where a number goes); every rule
//! about the numbers is the shared validator's.

use passgate_shared::Lang;
use passgate_shared::reporting::{
    FieldProblem, HelpKind, Report, ReportDraft, ReportKind, SupplyLineDraft,
};

use super::i18n::tr;
use super::layout::localized;
use super::session::form_urlencoded_pairs;
use crate::error::FieldError;

/// The count fields of a full report, in form order (each is also its input name).
pub const COUNT_FIELDS: [&str; 11] = [
    "on_site",
    "green",
    "blue",
    "yellow",
    "red",
    "isolation",
    "observation",
    "tests_done",
    "tests_abnormal",
    "vehicles_in",
    "vehicles_out",
];

/// One supply line as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupplyInput {
    pub item: String,
    pub stock: String,
    pub used: String,
}

/// The report form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportForm {
    pub date: String,
    pub kind: String,
    pub on_site: String,
    pub green: String,
    pub blue: String,
    pub yellow: String,
    pub red: String,
    pub isolation: String,
    pub observation: String,
    pub tests_done: String,
    pub tests_abnormal: String,
    pub disinfected: bool,
    pub vehicles_in: String,
    pub vehicles_out: String,
    /// One line per configured item, in the items' order.
    pub supplies: Vec<SupplyInput>,
    pub help: Vec<String>,
    pub help_text: String,
}

impl ReportForm {
    /// A form for `date` and `kind` with nothing typed yet; one supply line per item key.
    pub fn empty(date: &str, kind: ReportKind, items: &[String]) -> ReportForm {
        ReportForm {
            date: date.to_owned(),
            kind: kind.as_str().to_owned(),
            supplies: items
                .iter()
                .map(|k| SupplyInput {
                    item: k.clone(),
                    ..SupplyInput::default()
                })
                .collect(),
            ..ReportForm::default()
        }
    }

    /// The form showing a stored report (to correct it). Lines for items the report does not
    /// mention stay empty.
    pub fn from_report(r: &Report, items: &[String]) -> ReportForm {
        let n = |v: u32| v.to_string();
        let mut f = ReportForm::empty(&r.date, r.kind, items);
        f.on_site = n(r.on_site);
        f.green = n(r.green);
        f.blue = n(r.blue);
        f.yellow = n(r.yellow);
        f.red = n(r.red);
        f.isolation = n(r.isolation);
        f.observation = n(r.observation);
        f.tests_done = n(r.tests_done);
        f.tests_abnormal = n(r.tests_abnormal);
        f.disinfected = r.disinfected;
        f.vehicles_in = n(r.vehicles_in);
        f.vehicles_out = n(r.vehicles_out);
        for line in &mut f.supplies {
            if let Some(s) = r.supplies.iter().find(|s| s.item == line.item) {
                line.stock = n(s.stock);
                line.used = n(s.used);
            }
        }
        f.help = r.help.iter().map(|h| h.as_str().to_owned()).collect();
        f.help_text = r.help_text.clone();
        f
    }

    /// Read an urlencoded body. Supply lines come as `supplies.KEY.stock` /
    /// `supplies.KEY.used`; lines for keys not in `items` are kept too (the shared rules
    /// then name them).
    pub fn parse(body: &str, items: &[String]) -> ReportForm {
        let mut f = ReportForm::empty("", ReportKind::Full, items);
        f.kind = String::new();
        for (k, v) in form_urlencoded_pairs(body) {
            match k.as_str() {
                "date" => f.date = v,
                "kind" => f.kind = v,
                "on_site" => f.on_site = v,
                "green" => f.green = v,
                "blue" => f.blue = v,
                "yellow" => f.yellow = v,
                "red" => f.red = v,
                "isolation" => f.isolation = v,
                "observation" => f.observation = v,
                "tests_done" => f.tests_done = v,
                "tests_abnormal" => f.tests_abnormal = v,
                "disinfected" => f.disinfected = matches!(v.trim(), "1" | "true" | "on" | "yes"),
                "vehicles_in" => f.vehicles_in = v,
                "vehicles_out" => f.vehicles_out = v,
                "help" => f.help.push(v),
                "help_text" => f.help_text = v,
                other => {
                    if let Some((item, part)) = other
                        .strip_prefix("supplies.")
                        .and_then(|r| r.rsplit_once('.'))
                    {
                        let line = match f.supplies.iter().position(|s| s.item == item) {
                            Some(i) => &mut f.supplies[i],
                            None => {
                                f.supplies.push(SupplyInput {
                                    item: item.to_owned(),
                                    ..SupplyInput::default()
                                });
                                let last = f.supplies.len() - 1;
                                &mut f.supplies[last]
                            }
                        };
                        match part {
                            "stock" => line.stock = v,
                            "used" => line.used = v,
                            _ => {}
                        }
                    }
                }
            }
        }
        f
    }

    /// The value typed into a count field (by its input name).
    pub fn count_value(&self, field: &str) -> &str {
        match field {
            "on_site" => &self.on_site,
            "green" => &self.green,
            "blue" => &self.blue,
            "yellow" => &self.yellow,
            "red" => &self.red,
            "isolation" => &self.isolation,
            "observation" => &self.observation,
            "tests_done" => &self.tests_done,
            "tests_abnormal" => &self.tests_abnormal,
            "vehicles_in" => &self.vehicles_in,
            "vehicles_out" => &self.vehicles_out,
            _ => "",
        }
    }

    /// The draft for the shared rules, and what the form itself could not read (in `lang`).
    /// An empty count is 0, except the headcount, which must be given. A zero report carries
    /// only its date and headcount, whatever else the body held.
    pub fn to_draft(&self, lang: Lang) -> (ReportDraft, Vec<FieldError>) {
        let mut errors = Vec::new();
        let kind = match ReportKind::parse(self.kind.trim()) {
            Some(k) => k,
            None => {
                errors.push(FieldError::new("kind", tr(lang, "reporting.form.bad_kind")));
                ReportKind::Full
            }
        };
        let mut number = |field: &str, text: &str, required: bool| -> i64 {
            let t = text.trim();
            if t.is_empty() {
                if required {
                    errors.push(FieldError::new(field, tr(lang, "reporting.form.required")));
                }
                return 0;
            }
            match t.parse::<i64>() {
                Ok(v) => v,
                Err(_) => {
                    errors.push(FieldError::new(
                        field,
                        tr(lang, "reporting.form.not_a_number"),
                    ));
                    0
                }
            }
        };
        let mut d = ReportDraft::new(self.date.trim(), kind);
        d.on_site = number("on_site", &self.on_site, true);
        if kind == ReportKind::Zero {
            return (d, errors);
        }
        d.green = number("green", &self.green, false);
        d.blue = number("blue", &self.blue, false);
        d.yellow = number("yellow", &self.yellow, false);
        d.red = number("red", &self.red, false);
        d.isolation = number("isolation", &self.isolation, false);
        d.observation = number("observation", &self.observation, false);
        d.tests_done = number("tests_done", &self.tests_done, false);
        d.tests_abnormal = number("tests_abnormal", &self.tests_abnormal, false);
        d.disinfected = self.disinfected;
        d.vehicles_in = number("vehicles_in", &self.vehicles_in, false);
        d.vehicles_out = number("vehicles_out", &self.vehicles_out, false);
        for line in &self.supplies {
            // A line left blank says nothing about that item.
            if line.stock.trim().is_empty() && line.used.trim().is_empty() {
                continue;
            }
            let stock = number(&format!("supplies.{}.stock", line.item), &line.stock, true);
            let used = number(&format!("supplies.{}.used", line.item), &line.used, false);
            d.supplies.push(SupplyLineDraft {
                item: line.item.clone(),
                stock,
                used,
            });
        }
        for h in &self.help {
            match HelpKind::parse(h.trim()) {
                Some(k) => d.help.push(k),
                None => {
                    if !errors.iter().any(|e| e.field == "help") {
                        errors.push(FieldError::new("help", tr(lang, "reporting.form.bad_help")));
                    }
                }
            }
        }
        d.help_text = self.help_text.clone();
        (d, errors)
    }
}

/// The shared rules' problems as console field errors in `lang`, after the form's own
/// (one message per field: a field the form could not read keeps the form's message).
pub fn merge_problems(
    lang: Lang,
    mut form_errors: Vec<FieldError>,
    problems: Vec<FieldProblem>,
) -> Vec<FieldError> {
    for p in problems {
        if form_errors.iter().any(|e| e.field == p.field) {
            continue;
        }
        form_errors.push(localized(
            lang,
            FieldError::new(&p.field, p.error.to_string()),
        ));
    }
    form_errors
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use passgate_shared::reporting::validate_report;

    use super::*;

    fn items() -> Vec<String> {
        vec!["masks".into(), "food".into()]
    }

    #[test]
    fn a_typed_form_becomes_a_draft() {
        let body = "date=2022-04-01&kind=full&on_site=100&green=90&red=2&tests_done=10\
                    &tests_abnormal=1&disinfected=on&vehicles_in=3&supplies.masks.stock=500\
                    &supplies.masks.used=50&supplies.food.stock=&supplies.food.used=\
                    &help=eat&help_text=%E7%BC%BA%E7%B2%AE";
        let f = ReportForm::parse(body, &items());
        let (d, errors) = f.to_draft(Lang::Zh);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!((d.on_site, d.green, d.red, d.vehicles_in), (100, 90, 2, 3));
        assert!(d.disinfected);
        assert_eq!(d.supplies.len(), 1, "the blank food line says nothing");
        assert_eq!((d.supplies[0].stock, d.supplies[0].used), (500, 50));
        assert_eq!(d.help, vec![HelpKind::Eat]);
        assert_eq!(d.help_text, "缺粮");
        let r = validate_report(&d, &["masks", "food"], 1_648_785_600).unwrap();
        // The stored report shows again as the same form.
        let again = ReportForm::from_report(&r, &items());
        assert_eq!(again.on_site, "100");
        assert_eq!(again.supplies[0].stock, "500");
        assert_eq!(again.supplies[1].stock, "");
    }

    #[test]
    fn what_the_form_cannot_read_is_named_and_wins_over_the_rules() {
        let body = "date=2022-04-09&kind=full&on_site=&green=abc&red=-1&help=cake";
        let f = ReportForm::parse(body, &items());
        let (d, errors) = f.to_draft(Lang::Zh);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["on_site", "green", "help"]);
        let problems = validate_report(&d, &["masks", "food"], 1_648_785_600).unwrap_err();
        let all = merge_problems(Lang::Zh, errors, problems);
        let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["on_site", "green", "help", "date", "red"]);
        let red = all.iter().find(|e| e.field == "red").unwrap();
        assert_eq!(red.message, "不能为负数");
        let en = merge_problems(
            Lang::En,
            vec![],
            validate_report(&d, &["masks", "food"], 1_648_785_600).unwrap_err(),
        );
        assert!(
            en.iter()
                .any(|e| e.message == "this number cannot be negative")
        );
    }

    #[test]
    fn a_zero_report_keeps_only_date_and_headcount() {
        let body = "date=2022-04-01&kind=zero&on_site=80&red=5&help=eat";
        let (d, errors) = ReportForm::parse(body, &items()).to_draft(Lang::Zh);
        assert!(errors.is_empty());
        assert_eq!((d.kind, d.on_site, d.red), (ReportKind::Zero, 80, 0));
        assert!(d.help.is_empty());
        let (_, errors) = ReportForm::parse("kind=nonsense&on_site=1", &items()).to_draft(Lang::En);
        assert_eq!(errors[0].field, "kind");
    }
}
