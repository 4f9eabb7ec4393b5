//! Who may open which console page. Each [`super::Page`] names one [`Access`]; the router
//! applies it and the access test walks the same list, route × role.

use crate::store::{User, UserRole};

/// The access rule of one console route.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// Anyone, logged in or not (the login page, language switch).
    Public,
    /// Any logged-in user (home, own password).
    AnyUser,
    /// Logged-in users with one of these roles. Admin is always included.
    Roles(&'static [UserRole]),
}

/// What [`Access::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not logged in: go to the login page.
    Login,
    /// Logged in, but this role may not.
    Refuse,
}

/// Role sets used across the console, named for what they do.
pub mod roles {
    use crate::store::UserRole::{self, *};

    /// Operations bureau work: enterprises, checkpoints, devices, issuing and revoking.
    pub const OPS: &[UserRole] = &[Ops];
    /// Reading pass data: the two bureaus.
    pub const PASS_READ: &[UserRole] = &[Ops, Transport];
    /// The pass pages: the two bureaus, and enterprises (their own passes only).
    pub const PASS_VIEW: &[UserRole] = &[Ops, Transport, Enterprise];
    /// The transport bureau's review pages (dashboard, exports, held vehicles).
    pub const TRANSPORT: &[UserRole] = &[Transport, Ops];
    /// Enterprise self-service.
    pub const ENTERPRISE: &[UserRole] = &[Enterprise];
    /// Pass applications: enterprises file them, the operations bureau decides.
    pub const APPLICATIONS: &[UserRole] = &[Enterprise, Ops];
    /// Administrator only (accounts, keys).
    pub const ADMIN: &[UserRole] = &[];
    /// Full personal data on request (the crew's phone), each view audited: the operations
    /// bureau, which issues the passes.
    pub const PERSONAL_DATA: &[UserRole] = &[Ops];
    /// Filing the daily and zero reports: an enterprise's own staff.
    pub const REPORT_FILE: &[UserRole] = &[Enterprise];
    /// The task force's board: the task force, and supervisors (their own team only).
    pub const TASKFORCE_VIEW: &[UserRole] = &[Taskforce, Supervisor];
    /// Risk cases to read: enterprises (own), the task force, supervisors (own team).
    pub const RISK_VIEW: &[UserRole] = &[Enterprise, Taskforce, Supervisor];
    /// Risk cases to open and advance: enterprises (own) and the task force.
    pub const RISK_EDIT: &[UserRole] = &[Enterprise, Taskforce];
    /// Reporting configuration: supervision teams, due time, step limits, supply items.
    pub const REPORTING_CONFIG: &[UserRole] = &[Taskforce];
}

impl Access {
    /// Whether `user` may use a route with this rule.
    pub fn check(self, user: Option<&User>) -> Decision {
        match (self, user) {
            (Access::Public, _) => Decision::Allow,
            (_, None) => Decision::Login,
            (_, Some(u)) if self.allows(u.role) => Decision::Allow,
            (_, Some(_)) => Decision::Refuse,
        }
    }

    /// Whether a logged-in user with `role` passes this rule.
    pub fn allows(self, role: UserRole) -> bool {
        match self {
            Access::Public | Access::AnyUser => true,
            Access::Roles(roles) => role == UserRole::Admin || roles.contains(&role),
        }
    }
}
