-- Console accounts and their sessions. API tokens stay for machines; people log in.

CREATE TABLE users (
    id                    BIGSERIAL PRIMARY KEY,
    username              TEXT NOT NULL UNIQUE,
    display_name          TEXT NOT NULL,
    role                  TEXT NOT NULL,
    enterprise_id         BIGINT REFERENCES enterprises(id),
    password_hash         TEXT NOT NULL,
    must_change_password  BOOLEAN NOT NULL,
    active                BOOLEAN NOT NULL,
    created_at            BIGINT NOT NULL,
    last_login_at         BIGINT
);

-- Only a hash of the session cookie is kept, like API tokens.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
