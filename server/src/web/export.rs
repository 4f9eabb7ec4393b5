//! Tables for download: one generic [`Table`] of [`Cell`]s, written as an Excel workbook
//! (`.xlsx`: bold, frozen header row; column widths from the content, CJK counted double) or
//! as CSV in UTF-8 with a byte-order mark (so Excel on a Chinese Windows opens it right).
//!
//! Any console area can export: build a [`Table`] with headers from the catalog, then answer
//! with [`download`]. Large sheets can be written row by row with [`SheetWriter`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use super::{WebError, WebResult};

/// One value of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    /// Unix seconds, shown as a Beijing date and time.
    DateTime(i64),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// How the cell reads in a CSV file or an HTML table.
    pub fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::DateTime(t) => datetime_seconds(*t),
            Cell::Empty => String::new(),
        }
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Cell {
        Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// A Beijing-time timestamp to the second: `2026-12-01 08:00:05`.
pub fn datetime_seconds(t: i64) -> String {
    use chrono::{DateTime, FixedOffset};
    let tz = FixedOffset::east_opt(passgate_shared::time::LOCAL_OFFSET_SECONDS);
    match (DateTime::from_timestamp(t, 0), tz) {
        (Some(d), Some(tz)) => d.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => String::new(),
    }
}

/// A titled table: the sheet name, the header row and the rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

/// The width a text takes on screen, in Latin character cells: CJK and other wide characters
/// count double.
pub fn display_width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF |
        0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF |
        0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// An Excel sheet written row by row, remembering each column's widest content.
pub struct SheetWriter {
    sheet: Worksheet,
    row: u32,
    widths: Vec<usize>,
    bold: Format,
    date: Format,
    frozen: bool,
}

fn xlsx_err(e: XlsxError) -> WebError {
    WebError::Internal(format!("writing the workbook: {e}"))
}

/// Excel's limit on sheet names: 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if clean.trim().is_empty() {
        "Sheet1".into()
    } else {
        clean
    }
}

impl SheetWriter {
    pub fn new(name: &str) -> WebResult<SheetWriter> {
        let mut sheet = Worksheet::new();
        sheet.set_name(sheet_name(name)).map_err(xlsx_err)?;
        Ok(SheetWriter {
            sheet,
            row: 0,
            widths: Vec::new(),
            bold: Format::new().set_bold(),
            date: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            frozen: false,
        })
    }

    fn widen(&mut self, col: usize, text: &str) {
        if self.widths.len() <= col {
            self.widths.resize(col + 1, 0);
        }
        self.widths[col] = self.widths[col].max(display_width(text));
    }

    /// A bold header row; the first header row of a sheet stays in view when scrolling.
    pub fn header(&mut self, headers: &[String]) -> WebResult<()> {
        for (c, h) in headers.iter().enumerate() {
            self.sheet
                .write_string_with_format(self.row, col(c)?, h, &self.bold)
                .map_err(xlsx_err)?;
            self.widen(c, h);
        }
        if !self.frozen {
            self.sheet
                .set_freeze_panes(self.row + 1, 0)
                .map_err(xlsx_err)?;
            self.frozen = true;
        }
        self.row += 1;
        Ok(())
    }

    /// A bold line of text (a section title).
    pub fn title(&mut self, text: &str) -> WebResult<()> {
        self.sheet
            .write_string_with_format(self.row, 0, text, &self.bold)
            .map_err(xlsx_err)?;
        self.row += 1;
        Ok(())
    }

    pub fn blank(&mut self) {
        self.row += 1;
    }

    pub fn row(&mut self, cells: &[Cell]) -> WebResult<()> {
        for (c, cell) in cells.iter().enumerate() {
            let cn = col(c)?;
            match cell {
                Cell::Text(s) => {
                    self.sheet.write_string(self.row, cn, s).map_err(xlsx_err)?;
                }
                Cell::Int(n) => {
                    // Excel keeps 15 significant digits; counts are far below that.
                    self.sheet
                        .write_number(self.row, cn, *n as f64)
                        .map_err(xlsx_err)?;
                }
                Cell::Float(f) => {
                    self.sheet
                        .write_number(self.row, cn, *f)
                        .map_err(xlsx_err)?;
                }
                Cell::DateTime(t) => {
                    let local = t + i64::from(passgate_shared::time::LOCAL_OFFSET_SECONDS);
                    match ExcelDateTime::from_timestamp(local) {
                        Ok(d) => {
                            self.sheet
                                .write_datetime_with_format(self.row, cn, d, &self.date)
                                .map_err(xlsx_err)?;
                        }
                        Err(_) => {
                            self.sheet
                                .write_string(self.row, cn, cell.display())
                                .map_err(xlsx_err)?;
                        }
                    }
                }
                Cell::Empty => {}
            }
            let shown = match cell {
                Cell::DateTime(_) => "2026-01-01 00:00:00".to_owned(),
                other => other.display(),
            };
            self.widen(c, &shown);
        }
        self.row += 1;
        Ok(())
    }

    /// The finished sheet, columns sized to their content (within reason).
    pub fn finish(mut self) -> WebResult<Worksheet> {
        for (c, w) in self.widths.iter().enumerate() {
            let width = (*w as f64 + 2.0).clamp(6.0, 60.0);
            self.sheet
                .set_column_width(col(c)?, width)
                .map_err(xlsx_err)?;
        }
        Ok(self.sheet)
    }
}

fn col(c: usize) -> WebResult<u16> {
    u16::try_from(c).map_err(|_| WebError::Internal("too many columns".into()))
}

/// Write `table` into a new sheet.
pub fn table_sheet(table: &Table) -> WebResult<Worksheet> {
    let mut w = SheetWriter::new(&table.name)?;
    w.header(&table.headers)?;
    for r in &table.rows {
        w.row(r)?;
    }
    w.finish()
}

/// A workbook of finished sheets, as bytes.
pub fn workbook(sheets: Vec<Worksheet>) -> WebResult<Vec<u8>> {
    let mut book = Workbook::new();
    for s in sheets {
        book.push_worksheet(s);
    }
    book.save_to_buffer().map_err(xlsx_err)
}

/// One table as an `.xlsx` workbook.
pub fn to_xlsx(table: &Table) -> WebResult<Vec<u8>> {
    workbook(vec![table_sheet(table)?])
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// One table as CSV: UTF-8 with a byte-order mark, CRLF line ends, quoted where needed.
pub fn to_csv(table: &Table) -> Vec<u8> {
    let mut out = String::from("\u{FEFF}");
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        for (i, c) in cells.enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, &c);
        }
        out.push_str("\r\n");
    };
    line(&mut table.headers.iter().cloned());
    for r in &table.rows {
        line(&mut r.iter().map(Cell::display));
    }
    out.into_bytes()
}

/// A file name for `Content-Disposition`: an ASCII fallback and the real (Chinese) name.
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A file download answer.
pub fn attachment(bytes: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const CSV_TYPE: &str = "text/csv; charset=utf-8";

/// `table` as a download in `format`; `stem` is the file name without extension.
pub fn download(table: &Table, format: ExportFormat, stem: &str) -> WebResult<Response> {
    Ok(match format {
        ExportFormat::Xlsx => attachment(to_xlsx(table)?, XLSX_TYPE, &format!("{stem}.xlsx")),
        ExportFormat::Csv => attachment(to_csv(table), CSV_TYPE, &format!("{stem}.csv")),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::io::Cursor;

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

    use super::*;

    fn sample() -> Table {
        Table {
            name: "通行证".into(),
            headers: vec!["车牌号".into(), "次数".into(), "时间".into()],
            rows: vec![
                vec![
                    Cell::text("豫U12345"),
                    Cell::Int(3),
                    Cell::DateTime(1_800_000_000),
                ],
                vec![Cell::text("a,\"b\"\nc"), Cell::Float(1.5), Cell::Empty],
            ],
        }
    }

    #[test]
    fn cjk_counts_double() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("车牌号"), 6);
        assert_eq!(display_width("豫U12345"), 8);
    }

    #[test]
    fn csv_has_bom_crlf_and_quotes() {
        let csv = to_csv(&sample());
        assert_eq!(&csv[..3], &[0xEF, 0xBB, 0xBF]);
        let text = String::from_utf8(csv[3..].to_vec()).unwrap();
        assert!(text.starts_with("车牌号,次数,时间\r\n"));
        assert!(
            text.contains("豫U12345,3,2027-01-15 16:00:00\r\n"),
            "{text}"
        );
        assert!(text.contains("\"a,\"\"b\"\"\nc\",1.5,\r\n"), "{text}");
    }

    #[test]
    fn xlsx_reads_back() {
        let bytes = to_xlsx(&sample()).unwrap();
        let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), vec!["通行证".to_owned()]);
        let range = book.worksheet_range("通行证").unwrap();
        assert_eq!(
            range.get_value((0, 0)),
            Some(&Data::String("车牌号".into()))
        );
        assert_eq!(
            range.get_value((1, 0)),
            Some(&Data::String("豫U12345".into()))
        );
        assert_eq!(range.get_value((1, 1)), Some(&Data::Float(3.0)));
    }

    #[test]
    fn chinese_file_names_are_encoded() {
        let d = content_disposition("每日数据 2026.xlsx");
        assert!(
            d.starts_with("attachment; filename=\"_____2026.xlsx\""),
            "{d}"
        );
        assert!(d.contains("filename*=UTF-8''%E6%AF%8F"), "{d}");
        assert!(d.is_ascii());
    }

    #[test]
    fn bad_sheet_names_are_cleaned() {
        assert_eq!(sheet_name("a/b:c"), "abc");
        assert_eq!(sheet_name("//"), "Sheet1");
    }
}
