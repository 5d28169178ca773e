//! The page: one HTML file with the figures' SVG inline, a print style sheet and a ten-line
//! script that sorts tables by a clicked column. Nothing is fetched from the network.

use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as shown in a table: integers in full, others to four significant digits (one
/// decimal from 1000 up, scientific below 0.001). The exact value goes in the cell's `data-v`.
pub fn format_number(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "n/a".into()
    } else if v == v.trunc() && a < 1e15 {
        format!("{}", v as i64)
    } else if a >= 1000.0 {
        format!("{v:.1}")
    } else if a >= 1e-3 {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// A numeric table cell: the shown value, the exact one in `data-v` and `title` (a tooltip;
/// Rust's shortest round-trip form) and the extra attributes `attrs` (already escaped).
pub fn number_cell(v: f64, attrs: &str) -> String {
    format!(
        "<td class=\"n\" data-v=\"{v}\" title=\"{v}\"{attrs}>{}</td>",
        format_number(v)
    )
}

/// A text cell.
pub fn text_cell(text: &str) -> String {
    format!("<td>{}</td>", escape(text))
}

/// A table: `class` (`sortable` makes its headers sort it), header cells (text) and rows of
/// cells already rendered (see [`number_cell`], [`text_cell`]), each row with its attributes.
pub fn table(id: &str, class: &str, head: &[String], rows: &[(String, Vec<String>)]) -> String {
    let mut s = format!(
        "<div class=\"scroll\"><table id=\"{}\" class=\"{class}\">",
        escape(id)
    );
    if !head.is_empty() {
        s += "<thead><tr>";
        for h in head {
            let _ = write!(s, "<th>{}</th>", escape(h));
        }
        s += "</tr></thead>";
    }
    s += "<tbody>\n";
    for (attrs, cells) in rows {
        let _ = writeln!(s, "<tr{attrs}>{}</tr>", cells.concat());
    }
    s += "</tbody></table></div>\n";
    s
}

/// The report being built: sections of figures and tables.
pub struct Page {
    title: String,
    body: String,
    open_grid: bool,
}

impl Page {
    /// A page with a title (also the first heading).
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            body: format!("<h1>{}</h1>\n", escape(title)),
            open_grid: false,
        }
    }

    fn close_grid(&mut self) {
        if self.open_grid {
            self.body += "</div>\n";
            self.open_grid = false;
        }
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) {
        self.close_grid();
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
    }

    /// A paragraph of plain text.
    pub fn paragraph(&mut self, text: &str) {
        self.close_grid();
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    /// Raw HTML (a table built with [`table`]).
    pub fn raw(&mut self, html: &str) {
        self.close_grid();
        self.body += html;
    }

    /// A figure: its SVG and a one-line caption, laid out in a grid with its neighbours.
    pub fn figure(&mut self, id: &str, svg: &str, caption: &str) {
        if !self.open_grid {
            self.body += "<div class=\"grid\">\n";
            self.open_grid = true;
        }
        let _ = writeln!(
            self.body,
            "<figure id=\"{}\" class=\"fig\">{svg}<figcaption>{}</figcaption></figure>",
            escape(id),
            escape(caption)
        );
    }

    /// The whole HTML document.
    pub fn finish(mut self) -> String {
        self.close_grid();
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
             <meta name=\"generator\" content=\"kvcsim {}\">\n<title>{}</title>\n\
             <style>{STYLE}</style></head>\n<body>\n{}<script>{SCRIPT}</script>\n</body></html>\n",
            env!("CARGO_PKG_VERSION"),
            escape(&self.title),
            self.body
        )
    }
}

const STYLE: &str = "
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1600px; padding: 0 1em; color: #111; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #999; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eee; }
table.sortable th { cursor: pointer; }
table.sortable th[data-sort=asc]::after { content: ' \\25B2'; }
table.sortable th[data-sort=desc]::after { content: ' \\25BC'; }
.scroll { overflow-x: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.4em; break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.85em; color: #333; margin-top: 0.3em; }
@media print {
  body { max-width: none; margin: 0; font-size: 9pt; }
  .grid { grid-template-columns: 1fr 1fr; }
  .scroll { overflow: visible; }
  table { font-size: 7pt; }
  h2 { break-after: avoid; }
}
";

/// Sorts a `sortable` table by a clicked header: numbers by `data-v`, other cells as text.
const SCRIPT: &str = "
document.querySelectorAll('table.sortable th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const asc = th.dataset.sort !== 'asc';
  th.parentNode.querySelectorAll('th').forEach(h => delete h.dataset.sort);
  th.dataset.sort = asc ? 'asc' : 'desc';
  const key = row => { const c = row.cells[col]; return c.dataset.v !== undefined ? parseFloat(c.dataset.v) : c.textContent; };
  const cmp = (a, b) => typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
  [...body.rows].sort((a, b) => (asc ? 1 : -1) * cmp(key(a), key(b))).forEach(r => body.appendChild(r));
}));
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_four_significant_digits_and_keep_the_exact_value() {
        assert_eq!(format_number(2000.0), "2000");
        assert_eq!(format_number(265.51549396000064), "265.5");
        assert_eq!(format_number(0.4871645651471064), "0.4872");
        assert_eq!(format_number(1149.9278405839411), "1149.9");
        assert_eq!(format_number(0.0123456), "0.01235");
        assert_eq!(format_number(1.5e-5), "1.500e-5");
        assert_eq!(format_number(-2.5), "-2.500");
        let cell = number_cell(0.1 + 0.2, " data-key=\"/x\"");
        assert!(cell.contains("data-v=\"0.30000000000000004\""), "{cell}");
    }

    #[test]
    fn text_is_escaped_and_the_page_is_self_contained() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let mut page = Page::new("run <1>");
        page.figure("f", "<svg></svg>", "a < b");
        let html = page.finish();
        assert!(html.contains("<title>run &lt;1&gt;</title>") && html.contains("a &lt; b"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
