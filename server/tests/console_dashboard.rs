//! The transport bureau's dashboard, drill-down, exports and daily report, on both backends:
//! the numbers shown and exported equal a recount of the raw records the test inserted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    dashboard_numbers_match_a_recount,
    empty_and_bad_ranges_say_so,
);

use std::collections::HashMap;
use std::io::Cursor;

use axum::http::StatusCode;
use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use common::TestDb;
use common::console::Console;
use passgate_server::routes::passes::{NewPass, issue_pass, rfc3339};
use passgate_server::store::{CheckpointKind, NewCheckpoint, PassRecord, UserRole};
use passgate_server::web::dashboard::verdict_name;
use passgate_shared::record::{DeviceId, GENESIS_HASH, GateRecord, Observations};
use passgate_shared::sync::Direction;
use passgate_shared::time::local_day_range;
use passgate_shared::{CheckpointId, Lang, PassClass, PassNumber};

const DAY: &str = "2026-03-10";

fn class_zh(c: Option<PassClass>) -> String {
    c.map_or("无法识别".to_owned(), |c| c.name_zh().to_owned())
}

async fn issue(c: &Console, class: PassClass, plate: &str, route: &[u32]) -> PassRecord {
    let now = passgate_server::state::now();
    let body = NewPass {
        class: Some(class.as_str().into()),
        plate: Some(plate.into()),
        driver: Some("张三明".into()),
        enterprise_id: Some(c.enterprise.0),
        origin: Some(
            if class == PassClass::LoadUnloadLeave {
                "140502"
            } else {
                "419001"
            }
            .into(),
        ),
        destination: Some(
            if class == PassClass::LongHaul {
                "410102"
            } else {
                "419001"
            }
            .into(),
        ),
        checkpoints: (class == PassClass::LongHaul).then(|| route.to_vec()),
        cargo: Some("production_materials".into()),
        valid_from: Some(rfc3339(now - 30 * 86_400)),
        valid_until: Some(rfc3339(now + 10 * 86_400)),
        max_dwell_minutes: (class == PassClass::LoadUnloadLeave).then_some(120),
        ..NewPass::default()
    };
    issue_pass(&c.state, &body, "test").await.unwrap()
}

async fn device(c: &Console, cp: CheckpointId, tag: &str) -> DeviceId {
    let now = passgate_server::state::now();
    let st = &c.state.store;
    st.create_enrollment_code(cp, &format!("code-{tag}"), now + 3600, now)
        .await
        .unwrap();
    st.enroll_device(
        &format!("code-{tag}"),
        &format!("pk-{tag}"),
        "测试设备",
        &format!("tok-{tag}"),
        now,
    )
    .await
    .unwrap()
    .id
}

/// One raw scan the test inserts: checkpoint, pass, direction, accepted, reason, minutes
/// after 08:00 on DAY.
type Raw = (
    usize,
    Option<usize>,
    Direction,
    bool,
    Option<&'static str>,
    i64,
);

struct Seeded {
    cps: Vec<(CheckpointId, String)>,
    passes: Vec<PassRecord>,
    raw: Vec<Raw>,
}

async fn seed(c: &Console) -> Seeded {
    let st = &c.state.store;
    let mut cps = Vec::new();
    for (name, kind, inside, ent) in [
        (
            "钢铁集团东门",
            CheckpointKind::EnterpriseGate,
            true,
            Some(c.enterprise),
        ),
        ("示范区东卡口", CheckpointKind::ZoneBorder, false, None),
    ] {
        let cp = st
            .create_checkpoint(
                &NewCheckpoint {
                    name: name.into(),
                    kind,
                    inside_zone: inside,
                    enterprise_id: ent,
                },
                passgate_server::state::now(),
            )
            .await
            .unwrap();
        cps.push((cp.id, cp.name));
    }
    let route = [cps[1].0.0, cps[0].0.0];
    let mut passes = vec![
        issue(c, PassClass::LongHaul, "豫U12345", &route).await,
        issue(c, PassClass::LongHaul, "晋E23456", &route).await,
        issue(c, PassClass::ShortHaul, "豫UD23456", &[]).await,
        issue(c, PassClass::ShortHaul, "豫U3A456", &[]).await,
        issue(c, PassClass::ShortHaul, "豫U45678D", &[]).await,
        issue(c, PassClass::LoadUnloadLeave, "冀D34567", &[]).await,
    ];
    // One revoked, one expired (stored directly: the form refuses an end in the past).
    let now = passgate_server::state::now();
    st.revoke_pass(passes[4].number, "测试吊销", now)
        .await
        .unwrap();
    let mut expired = passes[0].clone();
    expired.number = PassNumber::new(
        c.state.settings.area,
        st.next_serial(c.state.settings.area).await.unwrap(),
    )
    .unwrap();
    expired.valid_from = now - 20 * 86_400;
    expired.valid_until = now - 86_400;
    st.insert_pass(&expired).await.unwrap();
    passes.push(expired);

    use Direction::{In, Out};
    let raw: Vec<Raw> = vec![
        (0, Some(0), In, true, None, 0),
        (0, Some(2), In, true, None, 5),
        (0, Some(2), Out, true, None, 30),
        (0, Some(5), In, true, None, 40),
        (0, None, In, false, Some("malformed"), 50),
        (0, Some(3), In, false, Some("expired"), 60),
        (0, Some(5), Out, true, None, 40 + 180),
        (1, Some(1), In, true, None, 1),
        (1, Some(1), Out, true, None, 20),
        (1, Some(4), In, false, Some("revoked"), 25),
        (1, Some(0), In, false, Some("off_route"), 26),
        (1, Some(4), In, false, Some("revoked"), 27),
    ];
    let (start, _) = local_day_range(DAY).unwrap();
    for (ci, (cp, _)) in cps.iter().enumerate() {
        let dev = device(c, *cp, &format!("d{ci}")).await;
        let mut records: Vec<GateRecord> = Vec::new();
        for (k, (_, p, dir, ok, reason, minute)) in
            raw.iter().enumerate().filter(|(_, r)| r.0 == ci)
        {
            let pass = p.map(|i| &passes[i]);
            let seq = records.len() as u64 + 1;
            records.push(GateRecord {
                id: format!("{:016x}{:016x}", ci + 1, k + 1),
                device_id: dev,
                seq,
                prev_hash: records
                    .last()
                    .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex),
                checkpoint_id: *cp,
                scanned_at: start + 8 * 3600 + minute * 60,
                direction: *dir,
                number: pass.map(|p| p.number),
                class: pass.map(|p| p.class),
                plate: pass.map(|p| p.plate.clone()),
                accepted: *ok,
                reason: reason.map(str::to_owned),
                warnings: vec![],
                bundle_version: 1,
                guard_id: None,
                observations: Observations::default(),
                override_by: None,
                overrides_seq: None,
                dwell_minutes: None,
            });
        }
        let sealed: Vec<_> = records.iter().map(GateRecord::seal).collect();
        st.ingest_batch(dev, &records, &sealed, passgate_server::state::now())
            .await
            .unwrap();
    }
    Seeded { cps, passes, raw }
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "CSV starts with the BOM");
    String::from_utf8(bytes[3..].to_vec())
        .unwrap()
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn sheet(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range(name).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(cell_text).collect())
        .collect()
}

async fn dashboard_numbers_match_a_recount(db: TestDb) {
    let c = Console::new(db).await;
    let s = seed(&c).await;
    let who = c.browser(UserRole::Transport).await;
    let q = format!("from={DAY}&to={DAY}");

    // The page itself.
    let page = c.get(Some(&who), &format!("/dashboard?{q}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(html.contains("钢铁集团东门") && html.contains("示范区东卡口"));
    assert!(html.contains("<svg") && html.contains("每日进出车次"));
    assert!(html.contains(&format!("/reports/daily?day={DAY}")));
    assert!(!html.contains("style="));

    // Recount of the raw records: (checkpoint, class) → [in accepted, out accepted, rejected].
    let mut expect: HashMap<(String, String), [u64; 3]> = HashMap::new();
    let mut reasons: HashMap<String, u64> = HashMap::new();
    for (ci, p, dir, ok, reason, _) in &s.raw {
        let class = p.map(|i| s.passes[i].class);
        let e = expect
            .entry((s.cps[*ci].1.clone(), class_zh(class)))
            .or_default();
        match (ok, dir) {
            (true, Direction::In) => e[0] += 1,
            (true, Direction::Out) => e[1] += 1,
            (false, _) => e[2] += 1,
        }
        if let Some(r) = reason {
            *reasons.entry(verdict_name(Lang::Zh, r)).or_default() += 1;
        }
    }

    // Scans per checkpoint, as CSV.
    let csv = c
        .get(
            Some(&who),
            &format!("/dashboard/export/scans?{q}&format=csv"),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));
    let rows = csv_rows(&csv.body);
    assert_eq!(
        rows[0],
        [
            "查验点",
            "类别",
            "进入（放行）",
            "驶出（放行）",
            "拒绝",
            "合计"
        ]
    );
    let mut got: HashMap<(String, String), [u64; 3]> = HashMap::new();
    for r in &rows[1..rows.len() - 1] {
        got.insert(
            (r[0].clone(), r[1].clone()),
            [
                r[2].parse().unwrap(),
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
            ],
        );
    }
    assert_eq!(got, expect);
    let last = rows.last().unwrap();
    assert_eq!(last[0], "合计");
    assert_eq!(last[5], s.raw.len().to_string());

    // Rejections by reason, as xlsx.
    let x = c
        .get(
            Some(&who),
            &format!("/dashboard/export/rejections?{q}&format=xlsx"),
        )
        .await;
    assert_eq!(x.status, StatusCode::OK);
    let cd = x.content_type.clone();
    assert!(cd.contains("spreadsheetml"), "{cd}");
    let rows = sheet(&x.body, "拒绝放行原因");
    assert_eq!(rows[0], ["原因", "次数"]);
    let got: HashMap<String, u64> = rows[1..rows.len() - 1]
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(got, reasons);
    assert_eq!(rows.last().unwrap(), &["合计".to_owned(), "5".to_owned()]);

    // Passes by class and current status.
    let x = c
        .get(
            Some(&who),
            &format!("/dashboard/export/status?{q}&format=xlsx"),
        )
        .await;
    let rows = sheet(&x.body, "通行证当前状态");
    assert_eq!(
        rows[0],
        ["类别", "有效", "未生效", "已过期", "已吊销", "合计"]
    );
    let now = passgate_server::state::now();
    for class in PassClass::ALL {
        let of = |p: &&PassRecord| p.class == class;
        let revoked = s
            .passes
            .iter()
            .filter(of)
            .filter(|p| p.number == s.passes[4].number)
            .count();
        let expired = s
            .passes
            .iter()
            .filter(of)
            .filter(|p| p.valid_until <= now)
            .count();
        let all = s.passes.iter().filter(of).count();
        let row = rows.iter().find(|r| r[0] == class.name_zh()).unwrap();
        assert_eq!(
            row[1..],
            [
                (all - revoked - expired).to_string(),
                "0".into(),
                expired.to_string(),
                revoked.to_string(),
                all.to_string()
            ],
            "{class:?}"
        );
    }

    // Passes issued: all today, none on DAY.
    let today = passgate_shared::time::local_day(now);
    let csv = c
        .get(
            Some(&who),
            &format!("/dashboard/export/issued?from={today}&to={today}&format=csv"),
        )
        .await;
    let rows = csv_rows(&csv.body);
    for class in PassClass::ALL {
        let n = s.passes.iter().filter(|p| p.class == class).count();
        let row = rows.iter().find(|r| r[0] == class.name_zh()).unwrap();
        assert_eq!(row[1], n.to_string(), "{class:?}");
    }
    let csv = c
        .get(
            Some(&who),
            &format!("/dashboard/export/issued?{q}&format=csv"),
        )
        .await;
    assert!(csv_rows(&csv.body).iter().skip(1).all(|r| r[1] == "0"));

    // The overstay (the load-unload-leave truck stayed 180 minutes, limit 120).
    let x = c
        .get(
            Some(&who),
            &format!("/dashboard/export/anomalies?{q}&format=csv"),
        )
        .await;
    let rows = csv_rows(&x.body);
    assert_eq!(
        rows.iter().filter(|r| r[1] == "滞留超时").count(),
        1,
        "{rows:?}"
    );
    assert!(html.contains(&format!(
        "/dashboard/scans?day={DAY}&amp;number={}",
        s.passes[5].number
    )));

    // Drill-down.
    let list = c
        .get(
            Some(&who),
            &format!("/dashboard/scans?day={DAY}&result=rejected"),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("共 5 条记录"), "{}", list.text());
    let list = c
        .get(
            Some(&who),
            &format!(
                "/dashboard/scans?{q}&reason=revoked&checkpoint={}",
                s.cps[1].0
            ),
        )
        .await;
    assert!(list.text().contains("共 2 条记录"));
    assert!(list.text().contains("豫U45678D"));
    let list = c
        .get(
            Some(&who),
            &format!("/dashboard/scans?day={DAY}&direction=sideways"),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("方向只能是进或出"));

    // The daily report workbook.
    let rep = c
        .get(Some(&who), &format!("/reports/daily?day={DAY}"))
        .await;
    assert_eq!(rep.status, StatusCode::OK);
    let book: Xlsx<_> = open_workbook_from_rs(Cursor::new(rep.body.clone())).unwrap();
    assert_eq!(book.sheet_names(), ["汇总", "查验明细"]);
    let detail = sheet(&rep.body, "查验明细");
    assert_eq!(detail.len(), 1 + s.raw.len());
    assert_eq!(detail[0][0], "时间");
    let summary = sheet(&rep.body, "汇总");
    let total = summary.iter().find(|r| r[0] == "合计").unwrap();
    let ins = s.raw.iter().filter(|r| r.3 && r.2 == Direction::In).count();
    let outs = s
        .raw
        .iter()
        .filter(|r| r.3 && r.2 == Direction::Out)
        .count();
    assert_eq!(
        total[2..6],
        [
            ins.to_string(),
            outs.to_string(),
            (ins + outs).to_string(),
            (s.raw.len() - ins - outs).to_string()
        ]
    );
    let overstay = summary.iter().find(|r| r[0] == "滞留超时").unwrap();
    assert_eq!(overstay[1], "1");
    let rep2 = c.get(Some(&who), "/reports/daily?day=2026-02-30").await;
    assert_eq!(rep2.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn empty_and_bad_ranges_say_so(db: TestDb) {
    let c = Console::new(db).await;
    let who = c.browser(UserRole::Ops).await;
    let page = c
        .get(Some(&who), "/dashboard?from=2020-01-01&to=2020-01-07")
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("该时段暂无数据"));

    let bad = c.get(Some(&who), "/dashboard?from=2026-02-30").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text().contains("日期“2026-02-30”无效"),
        "{}",
        bad.text()
    );
    let long = c
        .get(Some(&who), "/dashboard?from=2026-01-01&to=2026-06-01")
        .await;
    assert!(long.text().contains("最长 92 天"));
    let rev = c
        .get(Some(&who), "/dashboard?from=2026-03-02&to=2026-03-01")
        .await;
    assert!(rev.text().contains("结束日期不能早于开始日期"));

    let csv = c
        .get(
            Some(&who),
            "/dashboard/export/trend?from=2020-01-01&to=2020-01-02&format=csv",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(&csv.body[..3], &[0xEF, 0xBB, 0xBF]);
    let bad = c
        .get(
            Some(&who),
            "/dashboard/export/trend?from=2020-01-01&format=pdf",
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let none = c.get(Some(&who), "/dashboard/export/nothing").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let enterprise = c.browser(UserRole::Enterprise).await;
    let refused = c.get(Some(&enterprise), "/reports/daily").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
