//! The one Markdown table writer of the project (the conformance report,
//! and through the xtask every other report: bench, comparisons,
//! mutation testing).  Cells are escaped: `|` becomes `\|`, and the lines
//! of a multi-line cell are joined with `<br>`, so any text keeps the
//! table's shape.

/// A Markdown table: a header row, then rows of the same width.
#[derive(Debug, Clone)]
pub struct Table {
    text: String,
    width: usize,
}

/// `text` made safe for one table cell.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .lines()
        .collect::<Vec<_>>()
        .join("<br>")
}

impl Table {
    /// A table with these column headings.
    pub fn new(headers: &[&str]) -> Table {
        let mut t = Table {
            text: String::new(),
            width: headers.len(),
        };
        t.line(headers.iter().map(|h| cell(h)).collect());
        t.text.push('|');
        t.text.push_str(&"---|".repeat(headers.len()));
        t.text.push('\n');
        t
    }

    fn line(&mut self, cells: Vec<String>) {
        self.text.push('|');
        for c in cells {
            self.text.push(' ');
            self.text.push_str(&c);
            self.text.push_str(" |");
        }
        self.text.push('\n');
    }

    /// Appends a row of plain-text cells (escaped; missing cells are
    /// empty, extra ones dropped).
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> &mut Table {
        let mut v: Vec<String> = cells.iter().map(|c| cell(c.as_ref())).collect();
        v.resize(self.width, String::new());
        self.line(v);
        self
    }

    /// The table's text: header, separator, rows, each ending in a newline.
    pub fn render(&self) -> String {
        self.text.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_rows_keep_the_width() {
        let mut t = Table::new(&["a", "b|c"]);
        t.row(&["x | y\nsecond", "`z`"]).row(&["only"]);
        assert_eq!(
            t.render(),
            "| a | b\\|c |\n|---|---|\n| x \\| y<br>second | `z` |\n| only |  |\n"
        );
    }
}
