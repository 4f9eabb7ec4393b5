//! Bulk import files: CSV and XLSX to rows to pass requests (docs/fuzzing.md).
//!
//! Each input is used twice:
//! 1. raw: as the uploaded file, through `passgate_server::web::import::parse_upload` (the
//!    function the import job runs), then every data row through the request builder with a
//!    fixed directory of enterprise and checkpoint names;
//! 2. structured: the bytes before the first NUL are the first worksheet's XML and the bytes
//!    after it (if any) the shared-strings XML of an otherwise well-formed XLSX package
//!    (stored, not deflated), so the spreadsheet reader sees mutated XML rather than a
//!    broken zip.
//!
//! A time the import writes into a request must be one the API's own check can read back.
#![no_main]

use std::io::{Cursor, Write};
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use passgate_server::web::import::{Directory, parse_upload};
use zip::write::SimpleFileOptions;

static DIRECTORY: LazyLock<Directory> = LazyLock::new(|| {
    let names = |v: &[(&str, u32)]| {
        v.iter()
            .map(|(n, id)| ((*n).to_owned(), *id))
            .collect::<Vec<_>>()
    };
    Directory::new(
        names(&[
            ("一号企业", 1),
            ("二号企业", 2),
            ("重名企业", 3),
            ("重名企业", 4),
        ]),
        names(&[
            ("东出口", 3),
            ("一号厂门", 7),
            ("重名卡口", 8),
            ("重名卡口", 9),
        ]),
    )
});

fuzz_target!(
    init: {
        // libFuzzer's panic hook aborts on every panic, even one the code under test
        // catches. The import catches panics of the spreadsheet reader (a third party's
        // parser; one overflows on long cell references) and answers "not a readable
        // XLSX", which `import::tests` checks; so a panic located in that crate unwinds to
        // the import's catch here, and every other panic still aborts as a crash.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|l| l.file().contains("/calamine-")) {
                abort(info);
            }
        }));
    },
    |data: &[u8]| {
    rows(data.to_vec());
    let (sheet, strings) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    if let Some(xlsx) = package(sheet, strings) {
        rows(xlsx);
    }
});

fn rows(bytes: Vec<u8>) {
    let Ok(sheet) = parse_upload(bytes) else {
        return;
    };
    for (row, req) in sheet.requests(&DIRECTORY) {
        assert!(row >= 1);
        let _ = req.problems().count();
        for t in [&req.body.valid_from, &req.body.valid_until]
            .into_iter()
            .flatten()
        {
            assert!(
                chrono::DateTime::parse_from_rfc3339(t).is_ok(),
                "row {row}: the import wrote {t:?}"
            );
        }
    }
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="通行证" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;

/// A minimal XLSX package around the given worksheet and shared-strings XML.
fn package(sheet: &[u8], strings: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut part = |name: &str, body: &[u8]| -> Option<()> {
        zip.start_file(name, opts).ok()?;
        zip.write_all(body).ok()
    };
    part("[Content_Types].xml", CONTENT_TYPES.as_bytes())?;
    part("_rels/.rels", ROOT_RELS.as_bytes())?;
    part("xl/workbook.xml", WORKBOOK.as_bytes())?;
    part("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes())?;
    part("xl/worksheets/sheet1.xml", sheet)?;
    if let Some(s) = strings {
        part("xl/sharedStrings.xml", s)?;
    }
    zip.finish().ok().map(Cursor::into_inner)
}
