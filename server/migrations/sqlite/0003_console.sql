-- Console accounts and their sessions. API tokens stay for machines; people log in.

CREATE TABLE users (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    username              TEXT NOT NULL UNIQUE,
    display_name          TEXT NOT NULL,
    role                  TEXT NOT NULL,
    enterprise_id         INTEGER REFERENCES enterprises(id),
    password_hash         TEXT NOT NULL,
    must_change_password  INTEGER NOT NULL,
    active                INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    last_login_at         INTEGER
);

-- Only a hash of the session cookie is kept, like API tokens.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
