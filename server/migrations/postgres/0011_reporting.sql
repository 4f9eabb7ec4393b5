-- Enterprise reporting (企业专班): supervision teams, the enterprise profile, grids, supply
-- items, the daily / zero report with every version kept, and the risk-person notice flow.
-- Dates (`report_date`) are Beijing dates `YYYY-MM-DD`; times are Unix seconds.

CREATE TABLE supervision_teams (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    offices     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- The enterprise profile. Nullable, so enterprises registered before reporting stay valid.
ALTER TABLE enterprises ADD COLUMN credit_code TEXT;
ALTER TABLE enterprises ADD COLUMN address TEXT;
ALTER TABLE enterprises ADD COLUMN contact_name TEXT;
ALTER TABLE enterprises ADD COLUMN contact_phone TEXT;
ALTER TABLE enterprises ADD COLUMN responsible_person TEXT;
ALTER TABLE enterprises ADD COLUMN responsible_phone TEXT;
ALTER TABLE enterprises ADD COLUMN team_id BIGINT REFERENCES supervision_teams(id);
CREATE UNIQUE INDEX enterprises_credit_code ON enterprises(credit_code);
CREATE INDEX enterprises_team ON enterprises(team_id);

-- Supervisors (督导组成员) belong to one team.
ALTER TABLE users ADD COLUMN team_id BIGINT REFERENCES supervision_teams(id);

-- An enterprise token files reports for its own enterprise only.
ALTER TABLE api_tokens ADD COLUMN enterprise_id BIGINT REFERENCES enterprises(id);

-- Each enterprise's zones are split into grids, each with a grid leader (网格长).
CREATE TABLE grids (
    id             BIGSERIAL PRIMARY KEY,
    enterprise_id  BIGINT NOT NULL REFERENCES enterprises(id),
    zone           TEXT NOT NULL,
    name           TEXT NOT NULL,
    leader         TEXT NOT NULL,
    leader_phone   TEXT NOT NULL,
    UNIQUE (enterprise_id, zone, name)
);

-- The supply items a report lists. `unit` is 'counted' (cover from the consumption rate)
-- or 'days' (the stock is already days of cover); `warn_days` is the warning threshold.
CREATE TABLE supply_items (
    key        TEXT PRIMARY KEY,
    name_zh    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    unit       TEXT NOT NULL,
    warn_days  BIGINT NOT NULL,
    sort       BIGINT NOT NULL,
    active     BOOLEAN NOT NULL
);
INSERT INTO supply_items (key, name_zh, name_en, unit, warn_days, sort, active) VALUES
    ('masks', '口罩', 'masks', 'counted', 3, 10, TRUE),
    ('suits', '防护服', 'protective suits', 'counted', 3, 20, TRUE),
    ('gloves', '手套', 'gloves', 'counted', 3, 30, TRUE),
    ('disinfectant', '消毒液', 'disinfectant', 'counted', 3, 40, TRUE),
    ('sanitiser', '免洗洗手液', 'hand sanitiser', 'counted', 3, 50, TRUE),
    ('thermometers', '体温计', 'thermometers', 'counted', 3, 60, TRUE),
    ('antigen', '抗原试剂', 'antigen test kits', 'counted', 3, 70, TRUE),
    ('food', '食品（天）', 'food (days)', 'days', 3, 80, TRUE),
    ('necessities', '生活用品', 'daily necessities', 'counted', 3, 90, TRUE);

-- One row: when the daily report is due (minutes after Beijing midnight) and how long each
-- risk step (2–7) may stay open, in minutes, before it is overdue.
CREATE TABLE reporting_settings (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    due_minutes   BIGINT NOT NULL,
    step2_limit   BIGINT NOT NULL,
    step3_limit   BIGINT NOT NULL,
    step4_limit   BIGINT NOT NULL,
    step5_limit   BIGINT NOT NULL,
    step6_limit   BIGINT NOT NULL,
    step7_limit   BIGINT NOT NULL
);
INSERT INTO reporting_settings (id, due_minutes, step2_limit, step3_limit, step4_limit,
    step5_limit, step6_limit, step7_limit) VALUES (1, 600, 30, 60, 120, 1440, 1440, 4320);

-- Every version of every daily report. An edit inserts version n+1; nothing is
-- overwritten. `first_submitted_at` and `late` are decided by version 1 and carried.
CREATE TABLE daily_reports (
    id                  BIGSERIAL PRIMARY KEY,
    enterprise_id       BIGINT NOT NULL REFERENCES enterprises(id),
    report_date         TEXT NOT NULL,
    version             BIGINT NOT NULL,
    kind                TEXT NOT NULL,
    on_site             BIGINT NOT NULL,
    green               BIGINT NOT NULL,
    blue                BIGINT NOT NULL,
    yellow              BIGINT NOT NULL,
    red                 BIGINT NOT NULL,
    isolation           BIGINT NOT NULL,
    observation         BIGINT NOT NULL,
    tests_done          BIGINT NOT NULL,
    tests_abnormal      BIGINT NOT NULL,
    disinfected         BOOLEAN NOT NULL,
    vehicles_in         BIGINT NOT NULL,
    vehicles_out        BIGINT NOT NULL,
    help                TEXT NOT NULL,
    help_text           TEXT NOT NULL,
    submitted_by        TEXT NOT NULL,
    submitted_at        BIGINT NOT NULL,
    first_submitted_at  BIGINT NOT NULL,
    late                BOOLEAN NOT NULL,
    UNIQUE (enterprise_id, report_date, version)
);
CREATE INDEX daily_reports_date ON daily_reports(report_date, enterprise_id, version);

CREATE TABLE daily_report_supplies (
    report_id  BIGINT NOT NULL REFERENCES daily_reports(id),
    item       TEXT NOT NULL REFERENCES supply_items(key),
    stock      BIGINT NOT NULL,
    used       BIGINT NOT NULL,
    PRIMARY KEY (report_id, item)
);

-- The risk-person notice flow: one case per notice. `subject` is a masked name or the
-- notice number, never an ID number. `step` is the last completed step (1–7).
CREATE TABLE risk_cases (
    id             BIGSERIAL PRIMARY KEY,
    enterprise_id  BIGINT NOT NULL REFERENCES enterprises(id),
    subject        TEXT NOT NULL,
    opened_at      BIGINT NOT NULL,
    opened_by      TEXT NOT NULL,
    step           BIGINT NOT NULL,
    step_at        BIGINT NOT NULL,
    closed_at      BIGINT
);
CREATE INDEX risk_cases_open ON risk_cases(closed_at, enterprise_id);

CREATE TABLE risk_case_steps (
    case_id         BIGINT NOT NULL REFERENCES risk_cases(id),
    step            BIGINT NOT NULL,
    done_at         BIGINT NOT NULL,
    owner           TEXT NOT NULL,
    note            TEXT NOT NULL,
    skipped_reason  TEXT,
    PRIMARY KEY (case_id, step)
);
