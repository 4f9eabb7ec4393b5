//! Writes the generated part of the fuzz seed corpora under `fuzz/corpus/` (docs/fuzzing.md):
//! signed passes, bundle files and upload batches made with the fuzz fixtures' keys, and an
//! XLSX import file. Deterministic: running it again rewrites the same bytes.
//!
//! ```text
//! cargo run -p passgate-server --example fuzz_seeds
//! ```
//!
//! The hand-written seeds (plates, CSV files, worksheet XML) sit beside these files and are
//! not touched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ed25519_dalek::Signer;
use passgate_shared::bundle::RevocationSet;
use passgate_shared::bundle_file::{BundleHeader, encode_delta, encode_snapshot};
use passgate_shared::codec::{encode_payload, encode_text, sign, signature_input};
use passgate_shared::pass::DivisionCode;
use passgate_shared::record::{GENESIS_HASH, GateRecord, Observations, Override, sign_batch};
use passgate_shared::sync::Direction;
use passgate_shared::vectors::{issue_time, sample_passes, test_key};
use passgate_shared::{KeyId, PassNumber};

/// The fixtures the fuzz targets use: one source for both.
#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fixtures;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    pass_text(&root.join("pass_text"));
    bundle_file(&root.join("bundle_file"));
    sync_upload(&root.join("sync_upload"));
    import_rows(&root.join("import_rows"));
    println!("seeds written under {}", root.display());
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The structured form of the pass target: gate clock, floor, checkpoint, flags, history,
/// then a payload the harness signs.
fn structured(minutes: i32, floor: i16, checkpoint: u8, flags: u8, history: u8) -> Vec<u8> {
    let mut v = minutes.to_be_bytes().to_vec();
    v.extend_from_slice(&floor.to_be_bytes());
    v.extend_from_slice(&[checkpoint, flags, history]);
    v
}

fn pass_text(dir: &Path) {
    let passes = sample_passes();
    for (name, pass) in ["long_haul", "short_haul", "load_unload_leave"]
        .iter()
        .zip(&passes)
    {
        let text = encode_text(&sign(pass, &test_key()).unwrap());
        write(dir, &format!("text-{name}.txt"), text.as_bytes());
    }
    let crlf = encode_text(&sign(&passes[0], &test_key()).unwrap()) + "\r\n";
    write(dir, "text-long_haul-crlf.txt", crlf.as_bytes());
    // Signed bytes (no prefix, no base45), for the raw byte decoder.
    write(
        dir,
        "signed-short_haul.bin",
        &sign(&passes[1], &test_key()).unwrap(),
    );
    // A signature over the payload without the domain prefix: a forgery attempt.
    let payload = encode_payload(&passes[0]);
    let mut no_domain = payload.clone();
    no_domain.extend_from_slice(&test_key().sign(&payload).to_bytes());
    write(
        dir,
        "text-no_domain.txt",
        encode_text(&no_domain).as_bytes(),
    );
    let _ = signature_input(&payload);

    // Structured: long-haul entering on its route; short-haul inside the zone at enterprise
    // 1's gate with two entries today; load-unload-leave leaving 3 h 45 min after entering
    // (an overstay); long-haul signed by the retired key 2; a clock set back a day.
    let mut rows = vec![
        (
            "s-long_haul-in",
            structured(60, 0, 3, 0, 0),
            passes[0].clone(),
        ),
        (
            "s-short_haul-limit",
            structured(120, 0, 7, 1 | 1 << 1, 2),
            passes[1].clone(),
        ),
        (
            "s-lul-overstay",
            structured(600, 0, 7, 1 | 1 << 1 | 8 | 16, 15 << 3),
            passes[2].clone(),
        ),
        (
            "s-clock_behind",
            structured(60, 24 * 60, 12, 0, 0),
            passes[0].clone(),
        ),
    ];
    let mut retired = passes[0].clone();
    retired.key_id = KeyId(2);
    rows.push(("s-retired_key", structured(60, 0, 3, 0, 0), retired));
    let mut compromised = passes[1].clone();
    compromised.key_id = KeyId(3);
    rows.push(("s-compromised_key", structured(60, 0, 5, 1, 0), compromised));
    for (name, mut bytes, pass) in rows {
        bytes.extend_from_slice(&encode_payload(&pass));
        write(dir, &format!("{name}.bin"), &bytes);
    }
}

fn bundle_file(dir: &Path) {
    let held = fixtures::bundle();
    let keys = fixtures::bundle_keys();
    let key = fixtures::bundle_signing_key();
    write(
        dir,
        "snapshot-v7.bin",
        &encode_snapshot(&held, &keys, KeyId(1), &key),
    );
    let area = DivisionCode::parse("419001").unwrap();
    let added: RevocationSet = (500..510)
        .map(|s| PassNumber::new(area, s).unwrap())
        .collect();
    let mut next = held.clone();
    next.version = 8;
    next.generated_at += 3600;
    next.revoked.extend(&added);
    write(
        dir,
        "delta-v7-v8.bin",
        &encode_delta(&next, 7, &added, &keys, KeyId(1), &key),
    );
    write(dir, "revocations.roaring", &held.revoked.to_bytes());

    // Structured: flags | header_len | header JSON | revocations, signed by the harness.
    let header = |b: &passgate_shared::Bundle, base: Option<u64>| BundleHeader {
        version: b.version,
        generated_at: b.generated_at,
        base_version: base,
        keys: b.keys.clone(),
        policy: b.policy.clone(),
        checkpoints: b.checkpoints.clone(),
        revoked_count: b.revoked.len(),
        bundle_keys: keys.clone(),
    };
    for (name, kind, h, revs) in [
        ("s-snapshot-v7", 0u8, header(&held, None), &held.revoked),
        ("s-delta-v7-v8", 1u8, header(&next, Some(7)), &added),
    ] {
        let json = serde_json::to_vec(&h).unwrap();
        let mut v = vec![kind];
        v.extend_from_slice(&u16::try_from(json.len()).unwrap().to_be_bytes());
        v.extend_from_slice(&json);
        v.extend_from_slice(&revs.to_bytes());
        write(dir, &format!("{name}.bin"), &v);
    }
}

fn sync_upload(dir: &Path) {
    let device = fixtures::DEVICE;
    let checkpoint = fixtures::DEVICE_CHECKPOINT;
    let passes = sample_passes();
    let mut records: Vec<GateRecord> = Vec::new();
    for seq in 1..=4u64 {
        let pass = &passes[(seq as usize - 1) % passes.len()];
        let rejected = seq == 2;
        let overriding = seq == 4;
        records.push(GateRecord {
            id: format!("{:016x}{:016x}", device.0, seq),
            device_id: device,
            seq,
            prev_hash: records
                .last()
                .map_or_else(|| GENESIS_HASH.to_owned(), GateRecord::hash_hex),
            checkpoint_id: checkpoint,
            scanned_at: issue_time() + seq as i64 * 600,
            direction: if seq == 3 {
                Direction::Out
            } else {
                Direction::In
            },
            number: Some(pass.number),
            class: Some(pass.class),
            plate: Some(pass.plate.to_string()),
            accepted: !rejected,
            reason: (rejected || overriding).then(|| "outside_zone".to_owned()),
            warnings: if seq == 3 {
                vec!["overstayed".into()]
            } else {
                vec![]
            },
            bundle_version: 7,
            guard_id: Some("guard-7".into()),
            observations: Observations::default(),
            override_by: overriding.then(|| Override {
                supervisor_id: "sup-1".into(),
                reason: "押运放行".into(),
            }),
            overrides_seq: overriding.then_some(2),
            dwell_minutes: (seq == 3).then_some(130),
        });
    }
    let key = fixtures::device_signing_key();
    let first = sign_batch(device, checkpoint, records[..2].to_vec(), &key);
    let later = sign_batch(device, checkpoint, records[2..].to_vec(), &key);
    write(
        dir,
        "batch-seq1-2.json",
        &serde_json::to_vec_pretty(&first).unwrap(),
    );
    write(
        dir,
        "batch-seq3-4-override.json",
        &serde_json::to_vec_pretty(&later).unwrap(),
    );
    write(
        dir,
        "record.json",
        &serde_json::to_vec(&records[0]).unwrap(),
    );
}

fn import_rows(dir: &Path) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("通行证").unwrap();
    let headers = [
        "车牌号",
        "通行证类别",
        "驾驶员",
        "企业编号",
        "企业名称",
        "始发地",
        "目的地",
        "线路查验点",
        "货物类别",
        "有效期起",
        "有效期止",
        "最长停留分钟",
        "备注",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let rows: [[&str; 13]; 3] = [
        [
            "豫U12345",
            "长途闭环",
            "张三",
            "1",
            "",
            "419001",
            "410102",
            "东出口、7",
            "重点生产物资",
            "",
            "",
            "",
            "示例行",
        ],
        [
            "豫UD12345",
            "short_haul",
            "王五",
            "",
            "一号企业",
            "419001",
            "419001",
            "",
            "3",
            "",
            "2026-12-02",
            "",
            "",
        ],
        [
            "晋E23456",
            "即装即卸即走",
            "赵六",
            "",
            "重名企业",
            "140502",
            "419001",
            "",
            "防疫物资",
            "2026/12/1 8:00",
            "2026年12月2日 8:00",
            "120",
            "",
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(r, c as u16, *v).unwrap();
            }
        }
    }
    // Numbers and a real date cell, as Excel stores them.
    sheet.write_number(2, 3, 2).unwrap();
    let from = ExcelDateTime::parse_from_str("2026-12-01 08:00:00").unwrap();
    sheet
        .write_datetime_with_format(2, 9, &from, &date)
        .unwrap();
    write(dir, "upload.xlsx", &book.save_to_buffer().unwrap());
}
