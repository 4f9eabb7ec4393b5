//! Console accounts and their sessions: the part of the store the web console logs in with.
//!
//! A separate trait from the pass and gate operations so that each area of the store stays
//! readable; [`super::Store`] requires it, so `dyn Store` has both.

use async_trait::async_trait;
use passgate_shared::{EnterpriseId, UnixSeconds};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::sql::{get_bool, get_opt_u32, unique_to_conflict};
use super::{SqlStore, StoreError, StoreResult};

/// Who a console user is. API tokens have their own [`super::Role`]s (machines); these are
/// people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Everything, including accounts and keys.
    Admin,
    /// Operations bureau: enterprises, checkpoints, devices, passes.
    Ops,
    /// Transport bureau: reviews the daily pass data and the held-vehicle queue.
    Transport,
    /// The epidemic task force: enterprise reports and the dashboards.
    Taskforce,
    /// One enterprise's own staff: its applications, passes and reports.
    Enterprise,
    /// A member of a supervision team (督导组成员): follows the reports and risk cases of
    /// the enterprises of its own team.
    Supervisor,
}

impl UserRole {
    pub const ALL: [UserRole; 6] = [
        UserRole::Admin,
        UserRole::Ops,
        UserRole::Transport,
        UserRole::Taskforce,
        UserRole::Enterprise,
        UserRole::Supervisor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Ops => "ops",
            UserRole::Transport => "transport",
            UserRole::Taskforce => "taskforce",
            UserRole::Enterprise => "enterprise",
            UserRole::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<UserRole> {
        UserRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A console account. The password hash never leaves the store layer except to be checked.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: UserRole,
    /// Set for (and only for) [`UserRole::Enterprise`].
    pub enterprise_id: Option<EnterpriseId>,
    /// The supervision team of a [`UserRole::Supervisor`] (a supervisor without a team
    /// sees no enterprise).
    pub team_id: Option<i64>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub active: bool,
    pub created_at: UnixSeconds,
    pub last_login_at: Option<UnixSeconds>,
}

/// What creating an account needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: UserRole,
    pub enterprise_id: Option<EnterpriseId>,
    /// The team of a supervisor.
    pub team_id: Option<i64>,
    pub password_hash: String,
    pub must_change_password: bool,
}

/// A logged-in session, found by the hash of its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    /// The synchroniser token every form of this session must send back.
    pub csrf: String,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
    pub user: User,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn count_users(&self) -> StoreResult<u64>;
    /// `Conflict` when the user name is taken (names compare case-insensitively: they are
    /// stored lower-case).
    async fn create_user(&self, user: &NewUser, now: UnixSeconds) -> StoreResult<User>;
    async fn find_user(&self, username: &str) -> StoreResult<Option<User>>;
    async fn get_user(&self, id: i64) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Replace the password and end every session of the user.
    async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
    ) -> StoreResult<()>;
    /// Deactivating ends every session of the user.
    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<()>;
    async fn record_login(&self, id: i64, now: UnixSeconds) -> StoreResult<()>;
    /// Put a (supervisor) account in a team, or take it out. `NotFound("user")` /
    /// `NotFound("supervision team")` when either does not exist.
    async fn set_user_team(&self, id: i64, team: Option<i64>) -> StoreResult<()>;

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> StoreResult<()>;
    /// The live session with this cookie hash, with its (active) user.
    async fn find_session(
        &self,
        token_hash: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Forget sessions that expired before `now`.
    async fn purge_sessions(&self, now: UnixSeconds) -> StoreResult<u64>;
}

fn user_row(r: &AnyRow) -> StoreResult<User> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: UserRole::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("user role: {role}")))?,
        enterprise_id: get_opt_u32(r, "enterprise_id")?.map(EnterpriseId),
        team_id: r.try_get("team_id")?,
        password_hash: r.try_get("password_hash")?,
        must_change_password: get_bool(r, "must_change_password")?,
        active: get_bool(r, "active")?,
        created_at: r.try_get("created_at")?,
        last_login_at: r.try_get("last_login_at")?,
    })
}

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.role, u.enterprise_id, \
     u.team_id, u.password_hash, u.must_change_password, u.active, u.created_at, u.last_login_at";

#[async_trait]
impl UserStore for SqlStore {
    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn create_user(&self, user: &NewUser, now: UnixSeconds) -> StoreResult<User> {
        let username = user.username.trim().to_lowercase();
        let row = sqlx::query(
            "INSERT INTO users (username, display_name, role, enterprise_id, team_id, \
             password_hash, must_change_password, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id, username, display_name, role, enterprise_id, team_id, password_hash, \
             must_change_password, active, created_at, last_login_at",
        )
        .bind(&username)
        .bind(user.display_name.trim())
        .bind(user.role.as_str())
        .bind(user.enterprise_id.map(|e| i64::from(e.0)))
        .bind(user.team_id)
        .bind(&user.password_hash)
        .bind(user.must_change_password)
        .bind(true)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(unique_to_conflict(|| {
            format!("the user name {username} is taken")
        }))?;
        user_row(&row)
    }

    async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1"
        )))
        .bind(username.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn get_user(&self, id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_row).transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_row).collect()
    }

    async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3",
        )
        .bind(password_hash)
        .bind(must_change)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_user_active(&self, id: i64, active: bool) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(active)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_login(&self, id: i64, now: UnixSeconds) -> StoreResult<()> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_user_team(&self, id: i64, team: Option<i64>) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET team_id = $1 WHERE id = $2")
            .bind(team)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                    StoreError::NotFound("supervision team")
                }
                e => e.into(),
            })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_session(
        &self,
        token_hash: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<Session>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT s.token_hash, s.csrf, s.created_at AS s_created_at, s.expires_at, \
             {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2"
        )))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = user_row(&row)?;
        if !user.active {
            return Ok(None);
        }
        Ok(Some(Session {
            token_hash: row.try_get("token_hash")?,
            csrf: row.try_get("csrf")?,
            created_at: row.try_get("s_created_at")?,
            expires_at: row.try_get("expires_at")?,
            user,
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: UnixSeconds) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
