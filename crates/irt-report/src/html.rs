//! The hand-written HTML around the charts: escaping, tables and the page with its CSS.
//! Functions here take markup; text from the document goes through [`esc`] first.

/// Text made safe for element content and for quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// A paragraph of markup.
pub fn p(markup: &str) -> String {
    format!("<p>{markup}</p>\n")
}

/// A paragraph that stands out: something the reader must not miss.
pub fn warning(markup: &str) -> String {
    format!("<p class=\"warning\">{markup}</p>\n")
}

/// A table row: its cells' markup and an optional class (a status, for colour).
pub struct Row {
    pub class: Option<String>,
    pub cells: Vec<String>,
}

impl Row {
    pub fn new(cells: Vec<String>) -> Self {
        Self { class: None, cells }
    }

    pub fn with_class(mut self, class: &str) -> Self {
        self.class = Some(class.to_string());
        self
    }
}

pub fn table(head: &[&str], rows: &[Row]) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for h in head {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        match &row.class {
            Some(class) => out.push_str(&format!("<tr class=\"{}\">", esc(class))),
            None => out.push_str("<tr>"),
        }
        for cell in &row.cells {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// A two-column table of labels and values (markup).
pub fn facts(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<table class=\"facts\">\n<tbody>\n");
    for (label, value) in rows {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{value}</td></tr>\n",
            esc(label)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// A chart with its caption; `item` names the item it shows, as `data-item`.
pub fn figure(class: &str, item: Option<&str>, svg: &str, caption: &str) -> String {
    let data = item.map_or_else(String::new, |id| format!(" data-item=\"{}\"", esc(id)));
    format!(
        "<figure class=\"{class}\"{data}>\n{svg}<figcaption>{caption}</figcaption>\n</figure>\n"
    )
}

/// One `<section>` of the page.
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    pub body: String,
}

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1200px;\
padding:0 1.5rem 3rem;color:#1d2329;line-height:1.45}
h1{font-size:1.5rem;margin:1.5rem 0 .3rem}h2{font-size:1.2rem;border-bottom:1px solid #d0d7de;\
padding-bottom:.2rem;margin-top:2.2rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}
nav a{margin-right:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e3e7eb;padding:.2rem .55rem;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f6f8fa}
table.facts th{font-weight:600;white-space:nowrap;color:#4a5560}
td{font-variant-numeric:tabular-nums}td code{white-space:pre-wrap;word-break:break-word}
tr.misfit td,tr.flagged td{background:#fdecea}tr.drifted td,tr.dif td,tr.trending td{background:#fff4e5}
tr.low_discrimination td{background:#fffbe6}tr.excluded td{color:#6a737d}
.missing{color:#6a737d;font-style:italic}
.warning{background:#fff4e5;border-left:4px solid #e8590c;padding:.5rem .8rem}
.tag{font-size:.75rem;background:#e7f0fb;color:#1c4f8a;border-radius:3px;padding:0 .3rem;\
margin-left:.3rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
.icc-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(235px,1fr));gap:.6rem}
figure{margin:0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.8rem;color:#4a5560}
.key-new{color:#1f5fbf;font-weight:600}.key-stored{color:#e8590c;font-weight:600}
.key-flagged{color:#c92a2a;font-weight:600}
footer{margin-top:3rem;font-size:.8rem;color:#6a737d}
";

/// The whole document. The policy forbids scripts and every network fetch, so even a slip in
/// escaping could not load or run anything.
pub fn page(title: &str, sections: &[Section]) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(title)));
    out.push_str(&format!("<style>\n{CSS}</style>\n</head>\n<body>\n"));
    out.push_str(&format!("<h1>{}</h1>\n<nav>", esc(title)));
    for s in sections {
        out.push_str(&format!("<a href=\"#{}\">{}</a>", s.id, esc(s.title)));
    }
    out.push_str("</nav>\n");
    for s in sections {
        out.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n",
            s.id,
            esc(s.title),
            s.body
        ));
    }
    out.push_str("<footer>Calibration report of pg_irt, drawn from the run's rows in its result tables.</footer>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
