//! The demo seed gives the reporting pages something real, on SQLite and on PostgreSQL:
//! seven teams each following an enterprise, complete profiles and grids, two weeks of
//! reports ending today with gaps, late and zero reports, abnormal days and an edit,
//! supplies that warn, and risk cases at different steps with one overdue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::TestDb;
use passgate_server::routes::reports::{case_view, day_overview, supply_cover};
use passgate_server::state::now;
use passgate_server::store::reporting::RiskCaseFilter;
use passgate_server::store::{Role, UserRole};
use passgate_server::{demo, open};
use passgate_shared::reporting::{DayStatus, RiskStep, Zone, abnormalities};
use passgate_shared::time::{local_day, local_day_range};

on_both_backends!(demo_has_two_weeks_of_reporting);

async fn demo_has_two_weeks_of_reporting(db: TestDb) {
    let st = open(&db.config()).await.unwrap();
    let seeded = demo::seed(&st).await.unwrap();
    let t0 = now();
    let today = local_day(t0);
    let (today_start, _) = local_day_range(&today).unwrap();
    let day = |back: i64| local_day(today_start - back * 86_400 + 3600);

    // Teams, profiles, grids.
    let teams = st.store.list_teams().await.unwrap();
    assert_eq!(teams.len(), 7);
    assert_eq!(teams[0].name, "督导一组");
    assert!(teams.iter().all(|t| !t.offices.is_empty()));
    let profiles = st.store.enterprise_profiles(None).await.unwrap();
    for t in &teams {
        assert!(
            profiles.iter().any(|p| p.team_id == Some(t.id)),
            "{} follows no enterprise",
            t.name
        );
    }
    for p in &profiles {
        assert!(p.credit_code.is_some() && p.address.is_some() && p.team_id.is_some());
        assert!(p.contact_name.is_some() && p.contact_phone.is_some());
        assert!(p.responsible_person.is_some() && p.responsible_phone.is_some());
        let zones: BTreeSet<Zone> = st
            .store
            .list_grids(p.enterprise.id)
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.zone)
            .collect();
        assert_eq!(zones.len(), 4, "{}", p.enterprise.name);
    }

    // Two weeks of reports ending today.
    let all = st
        .store
        .reports_between(None, None, &day(13), &today)
        .await
        .unwrap();
    let dates: BTreeSet<&str> = all.iter().map(|r| r.report.date.as_str()).collect();
    assert!(dates.contains(day(13).as_str()) && dates.contains(day(1).as_str()));
    assert!(
        st.store
            .reports_between(None, None, &day(30), &day(14))
            .await
            .unwrap()
            .is_empty()
    );
    let statuses: BTreeSet<String> = all.iter().map(|r| format!("{:?}", r.status())).collect();
    assert!(
        statuses.contains("Late")
            && statuses.contains("ZeroReported")
            && statuses.contains("Reported")
    );
    assert!(all.iter().any(|r| r.version == 2), "an edited report");
    let edited = all.iter().find(|r| r.version == 2).unwrap();
    let versions = st
        .store
        .report_versions(edited.enterprise_id, &edited.report.date)
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_ne!(versions[0].report, versions[1].report);
    let kinds: BTreeSet<&str> = all
        .iter()
        .flat_map(|r| abnormalities(&r.report))
        .map(|a| match a {
            passgate_shared::reporting::Abnormality::RedZone { .. } => "red",
            passgate_shared::reporting::Abnormality::YellowZone { .. } => "yellow",
            passgate_shared::reporting::Abnormality::AbnormalTests { .. } => "tests",
            passgate_shared::reporting::Abnormality::HelpNeeded { .. } => "help",
        })
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    // Gaps: yesterday someone is missing (the silent enterprise).
    let yesterday = day_overview(&st, &day(1), None).await.unwrap();
    assert!(yesterday.total.missing >= 1);
    assert!(
        yesterday
            .entries
            .iter()
            .any(|e| e.status == DayStatus::Missing)
    );
    assert_eq!(yesterday.teams.len(), 7);

    // Supplies that warn.
    let mut warnings = 0;
    for p in &profiles {
        warnings += supply_cover(&st, p.enterprise.id, &today)
            .await
            .unwrap()
            .iter()
            .filter(|c| c.warning)
            .count();
    }
    assert!(warnings >= 2, "{warnings} supply warnings");

    // Risk cases: one closed, one open and on time, one overdue.
    let settings = st.store.reporting_settings().await.unwrap();
    let cases: Vec<_> = st
        .store
        .list_risk_cases(&RiskCaseFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|c| case_view(c, &settings, t0))
        .collect();
    assert_eq!(cases.len(), 3);
    assert_eq!(cases.iter().filter(|c| c.overdue).count(), 1);
    assert_eq!(
        cases
            .iter()
            .filter(|c| c.case.step == RiskStep::Closed)
            .count(),
        1
    );
    let steps: BTreeSet<RiskStep> = cases.iter().map(|c| c.case.step).collect();
    assert_eq!(steps.len(), 3);

    // The accounts and tokens the reporting pages need.
    let team1 = st.store.find_user("team1").await.unwrap().unwrap();
    assert_eq!(
        (team1.role, team1.team_id),
        (UserRole::Supervisor, Some(teams[0].id))
    );
    assert!(
        seeded
            .accounts
            .iter()
            .any(|(r, n, _)| *r == UserRole::Taskforce && n == "taskforce")
    );
    let roles: Vec<Role> = seeded.tokens.iter().map(|(r, _, _)| *r).collect();
    assert!(roles.contains(&Role::Taskforce) && roles.contains(&Role::Enterprise));
    let file = std::fs::read_to_string(db.dir.path().join("demo-tokens.txt")).unwrap();
    assert!(file.contains("console\tsupervisor\tteam1\t"));
    assert!(file.contains("enterprise\t钢铁集团填报系统\tpgt_"));
}
