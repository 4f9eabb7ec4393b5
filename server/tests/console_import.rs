//! Bulk issuance from a spreadsheet (`/passes/import`), against the real router on both
//! backends: the template filled in and uploaded, every bad row reported with nothing issued,
//! 10,000 rows end to end, XLSX with date cells, files that are not UTF-8 CSV or XLSX, and
//! jobs visible only to the user who started them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

on_both_backends!(
    the_template_filled_in_is_issued,
    every_bad_row_is_reported_and_nothing_is_issued,
    ten_thousand_rows_end_to_end,
    an_xlsx_with_english_headers_and_date_cells_imports,
    files_that_are_not_tables_get_clear_messages,
    another_user_cannot_see_the_job,
    reserved_serials_never_overlap_single_issues,
    the_optional_phone_column_is_checked_and_sealed,
);

use std::collections::HashSet;
use std::io::Cursor;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use calamine::{Data, Reader, Xlsx};
use common::TestDb;
use common::console::{Browser, Console, Reply};
use passgate_server::store::{CheckpointKind, NewCheckpoint, PassFilter, PassRecord, UserRole};
use passgate_server::web::layout::datetime;
use passgate_shared::PassClass;

/// Upload `bytes` as the file of the import form, the way a browser sends it.
async fn upload(c: &Console, who: &Browser, file_name: &str, bytes: &[u8]) -> Reply {
    let boundary = "----passgate-import-test-4f1c2b";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/passes/import?_csrf={}", who.csrf))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header(header::HOST, "console.test")
        .header(header::ORIGIN, "http://console.test")
        .header(header::COOKIE, &who.cookie)
        .body(Body::from(body))
        .unwrap();
    c.send(req).await
}

/// Upload, follow the redirect to the job and wait until it is done; the final page.
async fn import(c: &Console, who: &Browser, file_name: &str, bytes: &[u8]) -> (String, Reply) {
    let r = upload(c, who, file_name, bytes).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let job = r.location.clone().unwrap();
    assert!(job.starts_with("/passes/import/"), "{job}");
    (job.clone(), wait(c, who, &job).await)
}

async fn wait(c: &Console, who: &Browser, job: &str) -> Reply {
    let start = Instant::now();
    loop {
        let page = c.get(Some(who), job).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let text = page.text();
        if !text.contains("http-equiv=\"refresh\"") {
            return page;
        }
        assert!(
            text.contains("<progress"),
            "a running job shows its progress"
        );
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the import did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn all_passes(c: &Console) -> Vec<PassRecord> {
    let filter = PassFilter {
        limit: 50_000,
        ..PassFilter::default()
    };
    let (passes, total) = c.state.store.list_passes(&filter).await.unwrap();
    assert_eq!(passes.len() as u64, total);
    passes
}

/// Two checkpoints (东卡口 = the first, 西卡口 = the second); their ids.
async fn checkpoints(c: &Console) -> (u32, u32) {
    let mut ids = Vec::new();
    for name in ["东卡口", "西卡口"] {
        let cp = c
            .state
            .store
            .create_checkpoint(
                &NewCheckpoint {
                    name: name.into(),
                    kind: CheckpointKind::ZoneBorder,
                    inside_zone: false,
                    enterprise_id: None,
                },
                passgate_server::state::now(),
            )
            .await
            .unwrap();
        ids.push(cp.id.0);
    }
    (ids[0], ids[1])
}

/// `YYYY-MM-DD HH:MM` (Beijing) `days` days from now, at `hour`.
fn day_at(days: i64, hour: u32) -> String {
    let t = passgate_server::state::now() + days * 86_400;
    let date = datetime(t);
    format!("{} {hour:02}:00", date.split(' ').next().unwrap())
}

fn cells_of(bytes: &[u8]) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    let names = book.sheet_names().to_vec();
    names
        .into_iter()
        .map(|n| {
            let range = book.worksheet_range(&n).unwrap();
            (n, range.rows().map(<[Data]>::to_vec).collect())
        })
        .collect()
}

async fn the_template_filled_in_is_issued(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let (east, _) = checkpoints(&c).await;
    let ent = c.enterprise.0;

    let form = c.get(Some(&ops), "/passes/import").await;
    assert_eq!(form.status, StatusCode::OK);
    let text = form.text();
    assert!(text.contains("enctype=\"multipart/form-data\""));
    assert!(text.contains(&format!("action=\"/passes/import?_csrf={}\"", ops.csrf)));
    assert!(text.contains("accept=\".csv,.xlsx\""));
    assert!(text.contains("/passes/import/template.xlsx"));

    // CSV template: UTF-8 with BOM, the Chinese headers and an example row.
    let csv = c.get(Some(&ops), "/passes/import/template.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(csv.body.starts_with(b"\xEF\xBB\xBF"));
    let mut file = csv.text();
    let header = file
        .lines()
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_owned();
    for h in [
        "车牌号",
        "通行证类别",
        "驾驶员",
        "企业编号",
        "有效期止",
        "最长停留分钟",
        "联系电话",
    ] {
        assert!(header.contains(h), "{header}");
    }
    assert_eq!(file.lines().count(), 2, "headers and the example row");
    // Fill it in: columns as in the template.
    let cols: Vec<&str> = header.split(',').collect();
    let row = |vals: &[(&str, String)]| {
        cols.iter()
            .map(|c| {
                vals.iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let from = day_at(1, 8);
    let until = day_at(10, 18);
    let lines = [
        row(&[
            ("车牌号", "豫U11111".into()),
            ("通行证类别", "长途闭环".into()),
            ("驾驶员", "张三明".into()),
            ("副驾驶", "李四".into()),
            ("驾驶员身份证号", "11010519491231002X".into()),
            ("企业编号", ent.to_string()),
            ("始发地区划", "419001".into()),
            ("目的地区划", "410102".into()),
            // By name and by number, in one cell.
            ("途经查验点", format!("\"西卡口、{east}\"")),
            ("货物类别", "防疫物资".into()),
            ("有效期起", from.clone()),
            ("有效期止", until.clone()),
        ]),
        row(&[
            ("车牌号", "豫U22222".into()),
            ("通行证类别", "short_haul".into()),
            ("驾驶员", "王五".into()),
            ("企业名称", "测试企业".into()),
            ("始发地区划", "419001".into()),
            ("目的地区划", "419001".into()),
            ("货物类别", "daily_necessities".into()),
            ("有效期起", from.replace('-', "/")),
            ("有效期止", until.replace('-', "/")),
        ]),
        row(&[
            ("车牌号", "豫UD12345".into()),
            ("通行证类别", "即装即卸即走".into()),
            ("驾驶员", "赵六".into()),
            ("企业编号", ent.to_string()),
            ("始发地区划", "110105".into()),
            ("目的地区划", "419001".into()),
            ("货物类别", "重点生产物资".into()),
            ("有效期起", from.clone()),
            ("有效期止", until.clone()),
            ("最长停留分钟", "90".into()),
        ]),
    ];
    for l in &lines {
        file.push_str(l);
        file.push_str("\r\n");
    }
    let (job, done) = import(&c, &ops, "filled.csv", file.as_bytes()).await;
    assert!(done.text().contains("已签发 3 张通行证"), "{}", done.text());
    let passes = all_passes(&c).await;
    assert_eq!(passes.len(), 3);
    let long = passes.iter().find(|p| p.plate == "豫U11111").unwrap();
    assert_eq!(long.class, PassClass::LongHaul);
    assert_eq!(long.route_checkpoints.len(), 2);
    assert_eq!(long.route_checkpoints[1].0, east);
    assert_eq!(long.driver_masked, "张*明");
    assert!(long.driver_id_hash.is_some());
    assert_eq!(datetime(long.valid_from), from);
    let lul = passes.iter().find(|p| p.plate == "豫UD12345").unwrap();
    assert_eq!(lul.max_dwell_minutes, Some(90));
    assert!(passes.iter().all(|p| p.created_by == ops.user.username));

    // The issued passes as a download: number, plate, class, validity.
    let result = c.get(Some(&ops), &format!("{job}/result.xlsx")).await;
    assert_eq!(result.status, StatusCode::OK);
    let sheets = cells_of(&result.body);
    let rows = &sheets[0].1;
    assert_eq!(rows.len(), 4);
    let numbers: HashSet<String> = rows[1..].iter().map(|r| r[0].to_string()).collect();
    let stored: HashSet<String> = passes.iter().map(|p| p.number.to_string()).collect();
    assert_eq!(numbers, stored);

    // XLSX template: the same headers, an example row, and a sheet explaining each column.
    let xlsx = c.get(Some(&ops), "/passes/import/template.xlsx").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    let sheets = cells_of(&xlsx.body);
    assert_eq!(sheets.len(), 2);
    assert_eq!(sheets[1].0, "填写说明");
    let help: String = sheets[1]
        .1
        .iter()
        .flatten()
        .map(|d| d.to_string())
        .collect();
    for needed in [
        "长途闭环",
        "long_haul",
        "防疫物资",
        "epidemic_supplies",
        "有效期止",
    ] {
        assert!(help.contains(needed), "the help sheet names {needed}");
    }
    let template_header: Vec<String> = sheets[0].1[0].iter().map(|d| d.to_string()).collect();
    assert_eq!(template_header.join(","), header);
    // Fill the XLSX template in (keeping its example row) and upload it.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, cells) in sheets[0].1.iter().enumerate() {
        for (i, d) in cells.iter().enumerate() {
            sheet
                .write_string(r as u32, i as u16, d.to_string())
                .unwrap();
        }
    }
    let at = |h: &str| template_header.iter().position(|x| x == h).unwrap() as u16;
    for (r, plate) in [(2u32, "豫U33333"), (3, "豫U44444")] {
        sheet.write_string(r, at("车牌号"), plate).unwrap();
        sheet.write_string(r, at("通行证类别"), "短途闭环").unwrap();
        sheet.write_string(r, at("驾驶员"), "钱七").unwrap();
        sheet.write_number(r, at("企业编号"), ent).unwrap();
        sheet.write_string(r, at("始发地区划"), "419001").unwrap();
        sheet.write_string(r, at("目的地区划"), "419001").unwrap();
        sheet.write_string(r, at("货物类别"), "生活必需品").unwrap();
        sheet.write_string(r, at("有效期起"), &from).unwrap();
        sheet.write_string(r, at("有效期止"), &until).unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    let (_, done) = import(&c, &ops, "filled.xlsx", &bytes).await;
    assert!(done.text().contains("已签发 2 张通行证"), "{}", done.text());
    assert_eq!(all_passes(&c).await.len(), 5);
}

async fn every_bad_row_is_reported_and_nothing_is_issued(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let ent = c.enterprise.0;
    let (from, until) = (day_at(1, 8), day_at(5, 8));
    let mut file = String::from(
        "车牌号,通行证类别,驾驶员,企业编号,始发地区划,目的地区划,途经查验点,货物类别,有效期起,有效期止\n",
    );
    // Row 2: good.
    file.push_str(&format!(
        "豫U12345,短途闭环,张三,{ent},419001,419001,,防疫物资,{from},{until}\n"
    ));
    // Row 3: a bad plate.
    file.push_str(&format!(
        "XU12345,短途闭环,张三,{ent},419001,419001,,防疫物资,{from},{until}\n"
    ));
    // Row 4: an unknown class and a time nobody can read.
    file.push_str(&format!(
        "豫U54321,卡车,李四,{ent},419001,419001,,防疫物资,明天早上,{until}\n"
    ));
    // An empty row is skipped (row 5), then row 6: a long-haul pass without checkpoints,
    // an unknown enterprise and a bad division code.
    file.push_str(",,,,,,,,,\n");
    file.push_str(&format!(
        "豫U67890,长途闭环,王五,999,41900,419001,,防疫物资,{from},{until}\n"
    ));
    // Row 7: the same plate and class as row 2, overlapping.
    file.push_str(&format!(
        "豫U12345,短途闭环,赵六,{ent},419001,419001,,生活必需品,{from},{until}\n"
    ));
    let (job, done) = import(&c, &ops, "bad.csv", file.as_bytes()).await;
    let text = done.text();
    assert!(text.contains("未签发任何通行证"), "{text}");
    let problem = |row: u32, column: &str| {
        text.contains(&format!("<td class=\"num\">{row}</td><td>{column}</td>"))
    };
    for (row, column) in [
        (3, "车牌号"),
        (4, "通行证类别"),
        (4, "有效期起"),
        (6, "企业编号"),
        (6, "始发地区划"),
        (6, "途经查验点"),
        (7, "车牌号"),
    ] {
        assert!(problem(row, column), "row {row} column {column}: {text}");
    }
    assert!(!problem(2, "车牌号"), "row 2 is good");
    assert!(text.contains("与第 2 行重复"));
    assert!(text.contains("企业 999 不存在"));
    assert!(all_passes(&c).await.is_empty(), "nothing is issued");

    // The problems as CSV, in the reader's language.
    let csv = c.get(Some(&ops), &format!("{job}/problems.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    let csv = csv.text();
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("3,车牌号,XU12345,"), "{csv}");
    assert!(csv.contains("4,有效期起,明天早上,"), "{csv}");
    // No result download for a rejected file.
    let result = c.get(Some(&ops), &format!("{job}/result.xlsx")).await;
    assert_eq!(result.status, StatusCode::NOT_FOUND);

    // A file without the required columns is refused as a whole.
    let (_, done) = import(
        &c,
        &ops,
        "cols.csv",
        "车牌号,驾驶员\n豫U12345,张三\n".as_bytes(),
    )
    .await;
    let text = done.text();
    assert!(text.contains("缺少以下列"), "{text}");
    assert!(text.contains("通行证类别") && text.contains("有效期起"));
    assert!(all_passes(&c).await.is_empty());
}

async fn ten_thousand_rows_end_to_end(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let ent = c.enterprise.0;
    let (from, until) = (day_at(1, 8), day_at(30, 18));
    let mut file = String::from(
        "车牌号,通行证类别,驾驶员,企业编号,始发地区划,目的地区划,货物类别,有效期起,有效期止\n",
    );
    for i in 0..10_000 {
        file.push_str(&format!(
            "豫U{i:05},短途闭环,司机{},{ent},419001,419001,防疫物资,{from},{until}\n",
            ["甲", "乙", "丙", "丁"][i % 4]
        ));
    }
    let start = Instant::now();
    let (job, done) = import(&c, &ops, "big.csv", file.as_bytes()).await;
    println!(
        "imported 10,000 rows on {:?} in {:.2?}",
        c._db.backend,
        start.elapsed()
    );
    assert!(
        done.text().contains("已签发 10000 张通行证"),
        "{}",
        done.text()
    );
    let passes = all_passes(&c).await;
    assert_eq!(passes.len(), 10_000);
    let numbers: HashSet<u64> = passes.iter().map(|p| p.number.get()).collect();
    assert_eq!(numbers.len(), 10_000, "every number is unique");
    let plates: HashSet<&str> = passes.iter().map(|p| p.plate.as_str()).collect();
    assert_eq!(plates.len(), 10_000);
    // A single issue afterwards takes the next serial, after the reserved block.
    let next = c
        .state
        .store
        .next_serial(c.state.settings.area)
        .await
        .unwrap();
    assert!(passes.iter().all(|p| p.number.serial() < next));
    let result = c.get(Some(&ops), &format!("{job}/result.xlsx")).await;
    assert_eq!(cells_of(&result.body)[0].1.len(), 10_001);
}

async fn an_xlsx_with_english_headers_and_date_cells_imports(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let (east, west) = checkpoints(&c).await;
    let ent = c.enterprise.0;
    let mut book = rust_xlsxwriter::Workbook::new();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let sheet = book.add_worksheet();
    let headers = [
        "Plate",
        "Class",
        "Driver",
        "Enterprise ID",
        "Origin",
        "Destination",
        "Checkpoints",
        "Cargo",
        "Valid from",
        "Valid until",
    ];
    for (i, h) in headers.iter().enumerate() {
        sheet.write_string(0, i as u16, *h).unwrap();
    }
    // Excel serial days (Beijing time): tomorrow 08:00 and a week later 20:00.
    let today = (passgate_server::state::now() + 8 * 3600) / 86_400;
    let serial = |day: i64, hour: f64| (day + 25_569) as f64 + hour / 24.0;
    let from = serial(today + 1, 8.0);
    let until = serial(today + 8, 20.0);
    for r in 1..=2u32 {
        sheet.write_string(r, 0, format!("豫U9000{r}")).unwrap();
        sheet.write_string(r, 1, "long_haul").unwrap();
        sheet.write_string(r, 2, "孙八").unwrap();
        sheet.write_number(r, 3, ent).unwrap();
        // Division codes typed as numbers, as Excel keeps them.
        sheet.write_number(r, 4, 419001).unwrap();
        sheet.write_number(r, 5, 110105).unwrap();
        sheet.write_string(r, 6, format!("{east}; {west}")).unwrap();
        sheet.write_string(r, 7, "epidemic_supplies").unwrap();
        sheet.write_number_with_format(r, 8, from, &date).unwrap();
        sheet.write_number_with_format(r, 9, until, &date).unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    let (_, done) = import(&c, &ops, "english.xlsx", &bytes).await;
    assert!(done.text().contains("已签发 2 张通行证"), "{}", done.text());
    let passes = all_passes(&c).await;
    assert_eq!(passes.len(), 2);
    let p = &passes[0];
    assert_eq!(p.class, PassClass::LongHaul);
    assert_eq!(p.origin.get(), 419001);
    assert_eq!(p.route_checkpoints.len(), 2);
    // 08:00 Beijing time of tomorrow.
    assert_eq!(p.valid_from, (today + 1) * 86_400 + 8 * 3600 - 8 * 3600);
    assert_eq!(p.valid_until, (today + 8) * 86_400 + 20 * 3600 - 8 * 3600);
}

async fn files_that_are_not_tables_get_clear_messages(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    // "车牌号,通行证类别" and a row, as old Excel saves CSV: GBK.
    let mut gbk: Vec<u8> =
        b"\xb3\xb5\xc5\xc6\xba\xc5,\xcd\xa8\xd0\xd0\xd6\xa4\xc0\xe0\xb1\xf0\r\n".to_vec();
    gbk.extend_from_slice(b"\xd4\xa5U12345,\xb6\xcc\xcd\xbe\xb1\xd5\xbb\xb7\r\n");
    let r = upload(&c, &ops, "gbk.csv", &gbk).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("CSV UTF-8"), "{}", r.text());
    assert!(r.text().contains("GBK"));

    // Random bytes.
    let mut x: u32 = 0x1234_5678;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let r = upload(&c, &ops, "noise.csv", &noise).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("无法识别该文件"), "{}", r.text());

    // A zip that is not a workbook fails in the job with a message.
    let mut fake = b"PK\x03\x04".to_vec();
    fake.extend_from_slice(&noise);
    let (_, done) = import(&c, &ops, "fake.xlsx", &fake).await;
    assert!(
        done.text().contains("无法读取该 Excel 文件"),
        "{}",
        done.text()
    );

    // An old .xls, an empty file, no file at all.
    let r = upload(&c, &ops, "old.xls", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains(".xlsx"));
    let r = upload(&c, &ops, "empty.csv", b"").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = c.post_form(Some(&ops), "/passes/import", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("请选择要上传的"));
    // The English page says it in English.
    assert!(all_passes(&c).await.is_empty(), "nothing changed");
}

async fn another_user_cannot_see_the_job(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let other = c.browser(UserRole::Ops).await;
    let admin = c.browser(UserRole::Admin).await;
    let ent = c.enterprise.0;
    let file = format!(
        "车牌号,通行证类别,驾驶员,企业编号,始发地区划,目的地区划,货物类别,有效期起,有效期止\n\
         豫U12345,短途闭环,张三,{ent},419001,419001,防疫物资,{},{}\n",
        day_at(1, 8),
        day_at(2, 8)
    );
    let (job, done) = import(&c, &ops, "one.csv", file.as_bytes()).await;
    assert!(done.text().contains("已签发 1 张通行证"));
    for who in [&other, &admin] {
        for path in [job.clone(), format!("{job}/result.xlsx")] {
            let r = c.get(Some(who), &path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        }
    }
    // Transport staff may not use the import at all.
    let transport = c.browser(UserRole::Transport).await;
    assert_eq!(
        c.get(Some(&transport), &job).await.status,
        StatusCode::FORBIDDEN
    );
    // The owner still can.
    assert_eq!(c.get(Some(&ops), &job).await.status, StatusCode::OK);
}

async fn reserved_serials_never_overlap_single_issues(db: TestDb) {
    let c = Console::new(db).await;
    let area = c.state.settings.area;
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let store = c.state.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            for _ in 0..10 {
                if t % 2 == 0 {
                    let first = store.reserve_serials(area, 7).await.unwrap();
                    taken.extend(first..first + 7);
                } else {
                    taken.push(store.next_serial(area).await.unwrap());
                }
            }
            taken
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<u32> = all.iter().copied().collect();
    assert_eq!(all.len(), 4 * 10 * 7 + 4 * 10);
    assert_eq!(unique.len(), all.len(), "a serial was handed out twice");
    assert_eq!(*unique.iter().min().unwrap(), 1);
    assert!(c.state.store.reserve_serials(area, 0).await.is_err());
}

/// The optional phone column: a bad number is a row problem like any other (nothing is
/// issued); good numbers are stored masked and sealed, a blank cell is no phone.
async fn the_optional_phone_column_is_checked_and_sealed(db: TestDb) {
    let c = Console::new(db).await;
    let ops = c.browser(UserRole::Ops).await;
    let ent = c.enterprise.0;
    let (from, until) = (day_at(1, 8), day_at(5, 8));
    let file = |third: &str| {
        format!(
            "车牌号,通行证类别,驾驶员,企业编号,始发地区划,目的地区划,货物类别,有效期起,有效期止,手机号\n\
             豫U12345,短途闭环,张三,{ent},419001,419001,防疫物资,{from},{until},13812345678\n\
             豫U23456,短途闭环,李四,{ent},419001,419001,防疫物资,{from},{until},\n\
             豫U34567,短途闭环,王五,{ent},419001,419001,防疫物资,{from},{until},{third}\n"
        )
    };
    let (job, done) = import(&c, &ops, "phones.csv", file("0371-1234567").as_bytes()).await;
    let text = done.text();
    assert!(text.contains("未签发任何通行证"), "{text}");
    assert!(
        text.contains("<td class=\"num\">4</td><td>手机号</td>"),
        "the column as the file names it: {text}"
    );
    assert!(text.contains("手机号应为 11 位"), "{text}");
    assert!(all_passes(&c).await.is_empty());
    let csv = c
        .get(Some(&ops), &format!("{job}/problems.csv"))
        .await
        .text();
    assert!(csv.contains("4,手机号,0371-1234567,"), "{csv}");

    let (_, done) = import(&c, &ops, "phones.csv", file("+86 139 0000 1111").as_bytes()).await;
    assert!(done.text().contains("已签发 3 张通行证"), "{}", done.text());
    let passes = all_passes(&c).await;
    let by_plate = |plate: &str| passes.iter().find(|p| p.plate == plate).unwrap();
    for (plate, phone) in [
        ("豫U12345", Some("13812345678")),
        ("豫U23456", None),
        ("豫U34567", Some("13900001111")),
    ] {
        let p = by_plate(plate);
        let opened = p.crew_phone_sealed.as_deref().map(|s| {
            passgate_server::privacy::open_phone(&c.state.personal_secret, p.number, s)
                .unwrap()
                .as_str()
                .to_owned()
        });
        assert_eq!(opened.as_deref(), phone, "{plate}");
        assert_eq!(
            p.crew_phone_masked.clone(),
            phone.map(|n| format!("{}****{}", &n[..3], &n[7..])),
            "{plate}"
        );
        if let Some(n) = phone {
            assert!(!p.crew_phone_sealed.as_deref().unwrap().contains(n));
        }
    }
}
