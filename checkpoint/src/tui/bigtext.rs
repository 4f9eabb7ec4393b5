//! The plate in large letters: 5-row block glyphs for `0-9`, `A-Z` and `-`, drawn with `█`.
//! Characters without a glyph (the province character, e.g. 豫) are drawn bold on the middle
//! row, padded by a space on each side. When the whole plate does not fit the area, it is
//! drawn as one spaced bold line instead.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthChar;

/// Rows of a glyph.
pub const GLYPH_HEIGHT: u16 = 5;
/// Columns of a glyph (without the gap after it).
pub const GLYPH_WIDTH: u16 = 5;

/// The glyph of `c` as five rows of five cells (`#` filled), if there is one.
pub fn glyph(c: char) -> Option<[&'static str; 5]> {
    Some(match c.to_ascii_uppercase() {
        '0' => [" ### ", "#   #", "#   #", "#   #", " ### "],
        '1' => ["  #  ", " ##  ", "  #  ", "  #  ", " ### "],
        '2' => [" ### ", "#   #", "  ## ", " #   ", "#####"],
        '3' => ["#### ", "    #", " ### ", "    #", "#### "],
        '4' => ["#   #", "#   #", "#####", "    #", "    #"],
        '5' => ["#####", "#    ", "#### ", "    #", "#### "],
        '6' => [" ### ", "#    ", "#### ", "#   #", " ### "],
        '7' => ["#####", "    #", "   # ", "  #  ", "  #  "],
        '8' => [" ### ", "#   #", " ### ", "#   #", " ### "],
        '9' => [" ### ", "#   #", " ####", "    #", " ### "],
        'A' => [" ### ", "#   #", "#####", "#   #", "#   #"],
        'B' => ["#### ", "#   #", "#### ", "#   #", "#### "],
        'C' => [" ####", "#    ", "#    ", "#    ", " ####"],
        'D' => ["#### ", "#   #", "#   #", "#   #", "#### "],
        'E' => ["#####", "#    ", "#### ", "#    ", "#####"],
        'F' => ["#####", "#    ", "#### ", "#    ", "#    "],
        'G' => [" ####", "#    ", "#  ##", "#   #", " ### "],
        'H' => ["#   #", "#   #", "#####", "#   #", "#   #"],
        'I' => [" ### ", "  #  ", "  #  ", "  #  ", " ### "],
        'J' => ["  ###", "    #", "    #", "#   #", " ### "],
        'K' => ["#   #", "#  # ", "###  ", "#  # ", "#   #"],
        'L' => ["#    ", "#    ", "#    ", "#    ", "#####"],
        'M' => ["#   #", "## ##", "# # #", "#   #", "#   #"],
        'N' => ["#   #", "##  #", "# # #", "#  ##", "#   #"],
        'O' => [" ### ", "#   #", "#   #", "#   #", " ### "],
        'P' => ["#### ", "#   #", "#### ", "#    ", "#    "],
        'Q' => [" ### ", "#   #", "# # #", "#  # ", " ## #"],
        'R' => ["#### ", "#   #", "#### ", "#  # ", "#   #"],
        'S' => [" ####", "#    ", " ### ", "    #", "#### "],
        'T' => ["#####", "  #  ", "  #  ", "  #  ", "  #  "],
        'U' => ["#   #", "#   #", "#   #", "#   #", " ### "],
        'V' => ["#   #", "#   #", "#   #", " # # ", "  #  "],
        'W' => ["#   #", "#   #", "# # #", "## ##", "#   #"],
        'X' => ["#   #", " # # ", "  #  ", " # # ", "#   #"],
        'Y' => ["#   #", " # # ", "  #  ", "  #  ", "  #  "],
        'Z' => ["#####", "   # ", "  #  ", " #   ", "#####"],
        '-' => ["     ", "     ", " ### ", "     ", "     "],
        _ => return None,
    })
}

/// Display width of `c` drawn without a glyph (control characters count 0).
fn plain_width(c: char) -> u16 {
    u16::try_from(c.width().unwrap_or(0)).unwrap_or(0)
}

/// Columns the big rendering of `text` needs (glyphs and plain characters, one column
/// between neighbours).
pub fn big_width(text: &str) -> u16 {
    let mut total: u16 = 0;
    for (i, c) in text.chars().enumerate() {
        if i > 0 {
            total = total.saturating_add(1);
        }
        let w = match glyph(c) {
            Some(_) => GLYPH_WIDTH,
            None => plain_width(c).saturating_add(2),
        };
        total = total.saturating_add(w);
    }
    total
}

/// `豫U12345` → `豫 U 1 2 3 4 5`: the fallback for a small area.
pub fn spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for (i, c) in text.chars().filter(|c| !c.is_control()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The plate drawn large and centred in its area (see the module docs).
#[derive(Debug, Clone)]
pub struct BigText<'a> {
    pub text: &'a str,
    pub style: Style,
}

impl Widget for BigText<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let style = self.style.add_modifier(Modifier::BOLD);
        let width = big_width(self.text);
        if area.height < GLYPH_HEIGHT || width > area.width {
            // Not enough room: one spaced bold line in the middle row, clipped by width.
            let line = spaced(self.text);
            let w = u16::try_from(unicode_width::UnicodeWidthStr::width(line.as_str()))
                .unwrap_or(u16::MAX)
                .min(area.width);
            let x = area.x + (area.width - w) / 2;
            let y = area.y + area.height / 2;
            buf.set_stringn(x, y, &line, usize::from(area.width - (x - area.x)), style);
            return;
        }
        let top = area.y + (area.height - GLYPH_HEIGHT) / 2;
        let mut x = area.x + (area.width - width) / 2;
        for (i, c) in self.text.chars().enumerate() {
            if i > 0 {
                x += 1;
            }
            match glyph(c) {
                Some(rows) => {
                    for (dy, row) in (0u16..).zip(rows.iter()) {
                        for (dx, cell) in (0u16..).zip(row.chars()) {
                            if cell == '#' {
                                buf[(x + dx, top + dy)].set_symbol("█").set_style(style);
                            }
                        }
                    }
                    x += GLYPH_WIDTH;
                }
                None => {
                    let w = plain_width(c);
                    if w > 0 {
                        let mut s = [0u8; 4];
                        buf.set_stringn(
                            x + 1,
                            top + GLYPH_HEIGHT / 2,
                            c.encode_utf8(&mut s),
                            usize::from(w),
                            style,
                        );
                    }
                    x += w + 2;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_plate_character_has_a_glyph() {
        for c in "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ-".chars() {
            let g = glyph(c).unwrap();
            assert!(g.iter().all(|row| row.chars().count() == 5), "{c}");
        }
        assert!(glyph('豫').is_none());
        assert_eq!(big_width("豫U12345"), 4 + 6 * 6);
        assert_eq!(spaced("豫U1"), "豫 U 1");
    }

    #[test]
    fn draws_blocks_and_the_province_character() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 60, 5));
        BigText {
            text: "豫U1",
            style: Style::default(),
        }
        .render(buf.area, &mut buf);
        let row2: String = (0..60).map(|x| buf[(x, 2)].symbol().to_owned()).collect();
        assert!(row2.contains('豫'), "{row2:?}");
        assert!(row2.contains('█'), "{row2:?}");
        // Too small: the spaced line, no panic.
        let mut small = Buffer::empty(Rect::new(0, 0, 8, 1));
        BigText {
            text: "豫U12345",
            style: Style::default(),
        }
        .render(small.area, &mut small);
        let line: String = (0..8).map(|x| small[(x, 0)].symbol().to_owned()).collect();
        assert!(line.starts_with("豫"), "{line:?}");
    }
}
