//! A plain text table: left-aligned columns, two spaces apart, no trailing blanks.
//!
//! [`fit`] keeps a table inside a terminal width by cutting the cells of chosen columns with
//! `…` (widest column first, never below its minimum): `list` must fit 100 columns by default
//! even when a VM has a 50-character name, and `--wide` shows every cell whole.

/// A column that may be cut to fit: its index and the fewest characters it keeps.
#[derive(Debug, Clone, Copy)]
pub struct Shrink {
    /// Column index.
    pub col: usize,
    /// Minimum width (the header is never cut).
    pub min: usize,
}

/// Renders rows under a header. Cells are escaped ([`super::escape::line`]): most come from
/// hosts, and a newline or an escape sequence in one must not draw rows or drive the terminal.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    fit(header, rows, usize::MAX, &[])
}

/// Like [`render`], but cuts cells of the `shrink` columns (ending them with `…`) until the
/// widest line is at most `budget` characters or every such column is at its minimum.
pub fn fit(header: &[&str], rows: &[Vec<String>], budget: usize, shrink: &[Shrink]) -> String {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|r| r.iter().map(|c| super::escape::line(c).into_owned()).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    while total(&widths) > budget {
        let floor = |s: &Shrink| s.min.max(header.get(s.col).map_or(0, |h| h.chars().count()));
        let widest = shrink
            .iter()
            .filter(|s| widths.get(s.col).is_some_and(|w| *w > floor(s)))
            .max_by_key(|s| (widths[s.col] - floor(s), std::cmp::Reverse(s.col)));
        match widest {
            Some(s) => widths[s.col] -= 1,
            None => break,
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let n = c.chars().count();
            if n > w {
                l.extend(c.chars().take(w.saturating_sub(1)));
                l.push('…');
            } else {
                l.push_str(c);
            }
            l.extend(std::iter::repeat_n(' ', w.saturating_sub(n) + 2));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Shrink;

    #[test]
    fn aligns_columns() {
        let t = super::render(&["A", "LONG"], &[vec!["xyz".into(), "1".into()], vec!["q".into(), "".into()]]);
        assert_eq!(t, "A    LONG\nxyz  1\nq\n");
    }

    #[test]
    fn fit_cuts_the_widest_shrinkable_column_first() {
        let rows = vec![vec!["abcdefghij".into(), "0123456789".into(), "x".into()]];
        let t = super::fit(&["A", "B", "C"], &rows, 20, &[Shrink { col: 0, min: 4 }, Shrink { col: 1, min: 6 }]);
        // 10 + 10 + 1 + 4 gaps = 25: five cuts, always from the column furthest above its minimum.
        assert_eq!(t, "A       B          C\nabcde…  01234567…  x\n");
        assert!(t.lines().all(|l| l.chars().count() <= 20), "{t}");
    }

    #[test]
    fn fit_stops_at_the_minimum_and_never_cuts_the_header() {
        let rows = vec![vec!["abcdefghij".into(), "y".into()]];
        let t = super::fit(&["HEADER", "B"], &rows, 3, &[Shrink { col: 0, min: 2 }]);
        assert_eq!(t, "HEADER  B\nabcde…  y\n");
    }
}
