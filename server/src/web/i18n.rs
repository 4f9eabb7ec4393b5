//! The console's message catalogs: one per language, kept as flat JSON files under
//! `src/web/i18n/<lang>/`, one file per area of the console so that a page and its words sit
//! side by side. Every user-facing string of the console comes from here; the tests below fail
//! when a key is missing from either language, when a key used in the code is in neither, or
//! when the two languages disagree on a message's `{placeholders}`.
//!
//! Keys the code builds at run time (an enum's label) are written with [`k!`] so that the
//! test finds them too.

use std::collections::HashMap;
use std::sync::LazyLock;

use passgate_shared::Lang;

/// Marks a string literal as a catalog key (it is returned as it is).
#[macro_export]
macro_rules! k {
    ($key:literal) => {
        $key
    };
}

/// Every catalog file, per area: (area, Chinese, English).
pub const FILES: &[(&str, &str, &str)] = &[
    (
        "common",
        include_str!("i18n/zh/common.json"),
        include_str!("i18n/en/common.json"),
    ),
    (
        "passes",
        include_str!("i18n/zh/passes.json"),
        include_str!("i18n/en/passes.json"),
    ),
    (
        "import",
        include_str!("i18n/zh/import.json"),
        include_str!("i18n/en/import.json"),
    ),
    (
        "orgs",
        include_str!("i18n/zh/orgs.json"),
        include_str!("i18n/en/orgs.json"),
    ),
    (
        "users",
        include_str!("i18n/zh/users.json"),
        include_str!("i18n/en/users.json"),
    ),
    (
        "keys",
        include_str!("i18n/zh/keys.json"),
        include_str!("i18n/en/keys.json"),
    ),
    (
        "dashboard",
        include_str!("i18n/zh/dashboard.json"),
        include_str!("i18n/en/dashboard.json"),
    ),
    (
        "applications",
        include_str!("i18n/zh/applications.json"),
        include_str!("i18n/en/applications.json"),
    ),
    (
        "audit",
        include_str!("i18n/zh/audit.json"),
        include_str!("i18n/en/audit.json"),
    ),
    (
        "held",
        include_str!("i18n/zh/held.json"),
        include_str!("i18n/en/held.json"),
    ),
    (
        "reporting",
        include_str!("i18n/zh/reporting.json"),
        include_str!("i18n/en/reporting.json"),
    ),
];

struct Catalogs {
    zh: HashMap<String, &'static str>,
    en: HashMap<String, &'static str>,
}

fn parse(area: &str, lang: &str, text: &'static str) -> Vec<(String, &'static str)> {
    // The files are compiled in and checked by the tests below, so a bad file is a bug found
    // before release; at run time it only costs the missing words, never the server.
    match serde_json::from_str::<HashMap<String, String>>(text) {
        Ok(map) => map
            .into_iter()
            .map(|(k, v)| (k, &*Box::leak(v.into_boxed_str())))
            .collect(),
        Err(e) => {
            tracing::error!(area, lang, error = %e, "a console catalog file is not valid JSON");
            Vec::new()
        }
    }
}

static CATALOGS: LazyLock<Catalogs> = LazyLock::new(|| {
    let mut zh = HashMap::new();
    let mut en = HashMap::new();
    for (area, z, e) in FILES {
        zh.extend(parse(area, "zh", z));
        en.extend(parse(area, "en", e));
    }
    Catalogs { zh, en }
});

/// The message `key` in `lang`. A missing key shows as itself, so a gap is visible on the
/// page (and the tests make sure there is none).
pub fn tr(lang: Lang, key: &str) -> &'static str {
    let map = match lang {
        Lang::Zh => &CATALOGS.zh,
        Lang::En => &CATALOGS.en,
    };
    match map.get(key) {
        Some(v) => v,
        None => {
            tracing::warn!(key, "console message missing from the catalog");
            Box::leak(key.to_owned().into_boxed_str())
        }
    }
}

/// The message `key` with each `{name}` replaced by its argument.
pub fn trf(lang: Lang, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = tr(lang, key).to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    out
}

/// The `{placeholders}` of a message.
pub fn placeholders(message: &str) -> std::collections::BTreeSet<&str> {
    let mut out = std::collections::BTreeSet::new();
    let mut rest = message;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.insert(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// The catalog keys a piece of source code uses: `.t("…")`, `.tf("…"`, `tr(lang, "…")`,
/// `trf(lang, "…"` and `k!("…")`.
pub fn keys_used_in(source: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (pattern, skip_arg) in [
        (".t(\"", false),
        (".tf(\"", false),
        ("k!(\"", false),
        ("tr(", true),
        ("trf(", true),
    ] {
        let mut rest = source;
        while let Some(at) = rest.find(pattern) {
            let preceded_by_ident = at > 0
                && rest[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
            rest = &rest[at + pattern.len()..];
            if skip_arg && preceded_by_ident {
                continue;
            }
            let literal = if skip_arg {
                // `tr(lang, "key")`: skip the first argument (an identifier or a path).
                let Some((arg, after)) = rest.split_once(',') else {
                    continue;
                };
                if !arg
                    .trim()
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
                {
                    continue;
                }
                let after = after.trim_start();
                let Some(after) = after.strip_prefix('"') else {
                    continue;
                };
                after
            } else {
                rest
            };
            if let Some(end) = literal.find('"') {
                keys.push(literal[..end].to_owned());
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::*;

    fn file(text: &str) -> BTreeMap<String, String> {
        serde_json::from_str(text).expect("catalog file is a flat JSON object of strings")
    }

    #[test]
    fn both_languages_have_the_same_keys_and_placeholders() {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        let mut problems = Vec::new();
        for (area, zh, en) in FILES {
            let (zh, en) = (file(zh), file(en));
            for key in zh.keys().filter(|k| !en.contains_key(*k)) {
                problems.push(format!("{area}: `{key}` is missing from en"));
            }
            for key in en.keys().filter(|k| !zh.contains_key(*k)) {
                problems.push(format!("{area}: `{key}` is missing from zh"));
            }
            for (key, z) in &zh {
                if let Some(e) = en.get(key)
                    && placeholders(z) != placeholders(e)
                {
                    problems.push(format!("{area}: `{key}` has different placeholders"));
                }
                if z.trim().is_empty() || en.get(key).is_some_and(|e| e.trim().is_empty()) {
                    problems.push(format!("{area}: `{key}` is empty"));
                }
                if let Some(other) = seen.insert(key.clone(), area) {
                    problems.push(format!("`{key}` is in both {other} and {area}"));
                }
            }
        }
        assert!(
            problems.is_empty(),
            "catalog problems:\n{}",
            problems.join("\n")
        );
    }

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_key_the_console_uses_is_in_both_catalogs() {
        let mut all = BTreeSet::new();
        for (_, zh, en) in FILES {
            let (zh, en) = (file(zh), file(en));
            all.extend(zh.keys().filter(|k| en.contains_key(*k)).cloned());
        }
        let mut files = Vec::new();
        rust_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
            &mut files,
        );
        let mut used = 0;
        let mut missing = Vec::new();
        for path in files {
            let source = std::fs::read_to_string(&path).unwrap();
            for key in keys_used_in(&source) {
                used += 1;
                // The scanner's own test strings are not console messages.
                if path.ends_with("i18n.rs") {
                    continue;
                }
                if !all.contains(&key) {
                    missing.push(format!("{}: `{key}`", path.display()));
                }
            }
        }
        assert!(used > 20, "the scan found only {used} keys: is it broken?");
        assert!(
            missing.is_empty(),
            "keys missing from a catalog:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn the_key_scanner_finds_each_form() {
        let src = r#"ctx.t("a.b"); ctx.tf("c.d", &[]); tr(lang, "e.f"); trf(self.lang, "g.h", &x);
            k!("i.j"); attr("x.y"); str("z")"#;
        assert_eq!(keys_used_in(src), vec!["a.b", "c.d", "i.j", "e.f", "g.h"]);
    }

    #[test]
    fn placeholders_are_filled_in() {
        assert_eq!(
            trf(Lang::Zh, "error.retry_after", &[("minutes", &3)]),
            tr(Lang::Zh, "error.retry_after").replace("{minutes}", "3")
        );
        assert!(trf(Lang::En, "error.retry_after", &[("minutes", &3)]).contains('3'));
    }
}
