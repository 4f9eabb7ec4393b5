//! The page shell (header, navigation by role, language switch) and small form helpers that
//! every console page uses, so that labels, required marks and error messages look and behave
//! the same everywhere.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use passgate_shared::Lang;

use super::access::{Access, roles};
use super::i18n::tr;
use super::{Ctx, urlencode};
use crate::error::FieldError;
use crate::store::UserRole;

/// One entry of the navigation bar: where, its label key, who sees it.
struct NavItem {
    href: &'static str,
    label: &'static str,
    access: Access,
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/",
        label: crate::k!("nav.home"),
        access: Access::AnyUser,
    },
    NavItem {
        href: "/passes",
        label: crate::k!("nav.passes"),
        access: Access::Roles(roles::PASS_VIEW),
    },
    NavItem {
        href: "/passes/new",
        label: crate::k!("nav.issue"),
        access: Access::Roles(roles::OPS),
    },
    NavItem {
        href: "/passes/import",
        label: crate::k!("nav.import"),
        access: Access::Roles(roles::OPS),
    },
    NavItem {
        href: "/enterprises",
        label: crate::k!("nav.enterprises"),
        access: Access::Roles(roles::OPS),
    },
    NavItem {
        href: "/checkpoints",
        label: crate::k!("nav.checkpoints"),
        access: Access::Roles(roles::OPS),
    },
    NavItem {
        href: "/applications",
        label: crate::k!("nav.applications"),
        access: Access::Roles(roles::APPLICATIONS),
    },
    NavItem {
        href: "/held",
        label: crate::k!("nav.held"),
        access: Access::Roles(roles::TRANSPORT),
    },
    NavItem {
        href: "/dashboard",
        label: crate::k!("nav.dashboard"),
        access: Access::Roles(roles::TRANSPORT),
    },
    NavItem {
        href: "/reporting",
        label: crate::k!("nav.reporting"),
        access: Access::Roles(roles::REPORT_FILE),
    },
    NavItem {
        href: "/taskforce",
        label: crate::k!("nav.taskforce"),
        access: Access::Roles(roles::TASKFORCE_VIEW),
    },
    NavItem {
        href: "/risk",
        label: crate::k!("nav.risk"),
        access: Access::Roles(roles::RISK_VIEW),
    },
    NavItem {
        href: "/teams",
        label: crate::k!("nav.teams"),
        access: Access::Roles(roles::REPORTING_CONFIG),
    },
    NavItem {
        href: "/reporting/settings",
        label: crate::k!("nav.reporting_settings"),
        access: Access::Roles(roles::REPORTING_CONFIG),
    },
    NavItem {
        href: "/keys",
        label: crate::k!("nav.keys"),
        access: Access::Roles(roles::ADMIN),
    },
    NavItem {
        href: "/audit",
        label: crate::k!("nav.audit"),
        access: Access::Roles(roles::ADMIN),
    },
    NavItem {
        href: "/users",
        label: crate::k!("nav.users"),
        access: Access::Roles(roles::ADMIN),
    },
];

/// The label key of a role.
pub fn role_key(role: UserRole) -> &'static str {
    match role {
        UserRole::Admin => crate::k!("role.admin"),
        UserRole::Ops => crate::k!("role.ops"),
        UserRole::Transport => crate::k!("role.transport"),
        UserRole::Taskforce => crate::k!("role.taskforce"),
        UserRole::Enterprise => crate::k!("role.enterprise"),
        UserRole::Supervisor => crate::k!("role.supervisor"),
    }
}

fn html_lang(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "zh-CN",
        Lang::En => "en",
    }
}

/// A whole console page: header, navigation for the user's role, then `body`.
pub fn page(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let other = match ctx.lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    html! {
        (DOCTYPE)
        html lang=(html_lang(ctx.lang)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (ctx.t("app.name")) }
                link rel="stylesheet" href=(super::assets::CSS_PATH);
                script src=(super::assets::JS_PATH) defer {}
            }
            body {
                a class="skip" href="#main" { (ctx.t("nav.skip")) }
                header class="top no-print" {
                    a class="brand" href="/" { (ctx.t("app.name")) }
                    @if let Some(user) = &ctx.user {
                        nav aria-label=(ctx.t("nav.label")) {
                            ul {
                                @for item in NAV.iter().filter(|i| i.access.allows(user.role)) {
                                    li {
                                        a href=(item.href)
                                          aria-current=[(ctx.path == item.href).then_some("page")] {
                                            (ctx.t(item.label))
                                        }
                                    }
                                }
                            }
                        }
                        div class="who" {
                            span { (user.display_name) " · " (ctx.t(role_key(user.role))) }
                            form method="post" action="/logout" class="inline" {
                                (csrf_field(ctx))
                                button type="submit" class="link" { (ctx.t("nav.logout")) }
                            }
                        }
                    }
                    a class="lang" lang=(other.0)
                      href={ "/lang/" (other.0) "?next=" (urlencode(&ctx.path)) } { (other.1) }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// A page without navigation (errors, login).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(html_lang(lang)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (tr(lang, "app.name")) }
                link rel="stylesheet" href=(super::assets::CSS_PATH);
            }
            body { (body) }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="_csrf" value=(ctx.csrf); }
}

/// The error of one field, if any.
pub fn field_error<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
}

/// How one text input looks.
pub struct Input<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub required: bool,
    pub kind: &'a str,
    pub hint: Option<&'a str>,
    /// Extra attributes for checks-as-you-type (`data-check`), pattern, etc.
    pub check: Option<&'a str>,
    pub autocomplete: Option<&'a str>,
}

impl<'a> Input<'a> {
    pub fn text(name: &'a str, label: &'a str, value: &'a str) -> Input<'a> {
        Input {
            name,
            label,
            value,
            required: false,
            kind: "text",
            hint: None,
            check: None,
            autocomplete: None,
        }
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub fn check(mut self, check: &'a str) -> Self {
        self.check = Some(check);
        self
    }

    pub fn autocomplete(mut self, value: &'a str) -> Self {
        self.autocomplete = Some(value);
        self
    }

    /// The label, the input, its hint and its error, tied together for screen readers.
    pub fn render(&self, ctx: &Ctx, errors: &[FieldError]) -> Markup {
        let id = format!("f-{}", self.name);
        let err = field_error(errors, self.name);
        let hint_id = format!("{id}-hint");
        let err_id = format!("{id}-error");
        let described = match (self.hint.is_some(), err.is_some()) {
            (true, true) => Some(format!("{hint_id} {err_id}")),
            (true, false) => Some(hint_id.clone()),
            (false, true) => Some(err_id.clone()),
            (false, false) => None,
        };
        html! {
            div class={ "field" @if err.is_some() { " invalid" } } {
                label for=(id) {
                    (self.label)
                    @if self.required {
                        span class="req" aria-hidden="true" { " *" }
                        span class="sr-only" { (ctx.t("form.required")) }
                    }
                }
                input id=(id) name=(self.name) type=(self.kind) value=(self.value)
                    required[self.required]
                    aria-invalid=[err.map(|_| "true")]
                    aria-describedby=[described]
                    data-check=[self.check]
                    autocomplete=[self.autocomplete];
                @if let Some(h) = self.hint { small id=(hint_id) class="hint" { (h) } }
                span id=(err_id) class="error" role="alert" data-error-for=(self.name) {
                    @if let Some(e) = err { (e) }
                }
            }
        }
    }
}

/// A `<select>` with a label.
pub fn select(
    ctx: &Ctx,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    required: bool,
    errors: &[FieldError],
) -> Markup {
    let id = format!("f-{name}");
    let err = field_error(errors, name);
    html! {
        div class={ "field" @if err.is_some() { " invalid" } } {
            label for=(id) {
                (label)
                @if required {
                    span class="req" aria-hidden="true" { " *" }
                    span class="sr-only" { (ctx.t("form.required")) }
                }
            }
            select id=(id) name=(name) required[required] aria-invalid=[err.map(|_| "true")] {
                @if !required { option value="" { "—" } }
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
            span class="error" role="alert" data-error-for=(name) { @if let Some(e) = err { (e) } }
        }
    }
}

/// A summary of every field error at the top of a form.
pub fn error_summary(ctx: &Ctx, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="alert error" role="alert" {
                p { strong { (ctx.t("form.fix_errors")) } }
                ul {
                    @for e in errors {
                        li { a href={ "#f-" (e.field) } { (e.message) } }
                    }
                }
            }
        }
    }
}

/// A success or information banner.
pub fn notice(text: &str) -> Markup {
    html! { div class="alert ok" role="status" { (text) } }
}

/// A Beijing-time date and time for people: `2026-12-01 08:00`.
pub fn datetime(t: i64) -> String {
    use chrono::{DateTime, FixedOffset};
    let tz = FixedOffset::east_opt(passgate_shared::time::LOCAL_OFFSET_SECONDS);
    match (DateTime::from_timestamp(t, 0), tz) {
        (Some(d), Some(tz)) => d.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        _ => String::new(),
    }
}

/// Raw markup known to be safe (an SVG we rendered ourselves).
pub fn trusted(svg: String) -> Markup {
    PreEscaped(svg)
}

/// Page links under a list: previous, "page N of M", next. `base` ends with `?…&` or `?`.
pub fn pager(ctx: &Ctx, base: &str, offset: u64, limit: u64, total: u64) -> Markup {
    let page = offset / limit.max(1) + 1;
    let pages = total.div_ceil(limit.max(1)).max(1);
    html! {
        nav class="pager" aria-label=(ctx.t("pager.label")) {
            @if offset > 0 {
                a rel="prev" href={ (base) "offset=" (offset.saturating_sub(limit)) } { (ctx.t("pager.prev")) }
            }
            span { (ctx.tf("pager.page_of", &[("page", &page), ("pages", &pages), ("total", &total)])) }
            @if offset + limit < total {
                a rel="next" href={ (base) "offset=" (offset + limit) } { (ctx.t("pager.next")) }
            }
        }
    }
}

/// The part of a bilingual validation message (`English / 中文`, as the shared rules and the
/// JSON API write them) for `lang`; a message without both parts is returned whole.
pub fn field_message(lang: Lang, message: &str) -> &str {
    match message.rsplit_once(" / ") {
        Some((en, zh)) => match lang {
            Lang::Zh => zh.trim(),
            Lang::En => en.trim(),
        },
        None => message,
    }
}

/// A field error with its message in `lang` (see [`field_message`]).
pub fn localized(lang: Lang, e: FieldError) -> FieldError {
    let message = field_message(lang, &e.message).to_owned();
    FieldError {
        field: e.field,
        message,
    }
}

/// Every field error in `lang`.
pub fn localized_all(lang: Lang, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.into_iter().map(|e| localized(lang, e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilingual_messages_are_split_by_language() {
        assert_eq!(field_message(Lang::Zh, "required / 必填"), "必填");
        assert_eq!(field_message(Lang::En, "required / 必填"), "required");
        assert_eq!(field_message(Lang::Zh, "plain"), "plain");
    }
}
