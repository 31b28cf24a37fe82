//! The notebook format: front matter, prose and cells, with file lines kept
//! for error messages.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use serde::Deserialize;
use utfall_queries::params::ParamSpecs;

use crate::NotebookError;
use crate::chart::ChartSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub title: String,
    /// One paragraph under the title.
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub params: ParamSpecs,
}

#[derive(Debug)]
pub struct Notebook {
    /// The notebook's path as given (for messages and the report's foot).
    pub name: String,
    pub front: FrontMatter,
    pub parts: Vec<Part>,
}

#[derive(Debug)]
pub enum Part {
    /// Markdown between cells.
    Prose(String),
    Cell(Cell),
}

#[derive(Debug)]
pub struct Cell {
    /// 1-based among the notebook's cells.
    pub number: usize,
    /// File line of the opening fence.
    pub line: usize,
    pub kind: CellKind,
    /// The cell's text (SQL, or the chart's TOML).
    pub text: String,
}

#[derive(Debug)]
pub enum CellKind {
    Sql(SqlOptions),
    Chart(Box<ChartSpec>),
}

/// Options on a SQL cell's fence: ```` ```sql name=flow counts=clients,cases rows=50 ````.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// A name chart cells can take their data from.
    pub name: Option<String>,
    /// The columns holding counts of people or cases (for suppression);
    /// default: every integer column.
    pub counts: Option<Vec<String>>,
    /// Rows shown in the table (the rest are counted, never dropped silently).
    pub rows: usize,
    /// A caption under the table.
    pub caption: Option<String>,
}

const DEFAULT_ROWS: usize = 40;

impl Cell {
    /// What the cell is, for error messages: `sql 'flow'`, `chart`.
    pub fn what(&self) -> String {
        match &self.kind {
            CellKind::Sql(o) => o.name.as_ref().map_or("sql".to_string(), |n| format!("sql '{n}'")),
            CellKind::Chart(c) => format!("{} chart", c.kind.name()),
        }
    }
}

impl Notebook {
    pub fn parse(name: &str, text: &str) -> Result<Notebook, NotebookError> {
        let err = |line: usize, message: String| NotebookError::Parse { notebook: name.to_string(), line, message };
        let (front_text, body_start) = front_matter(text).ok_or_else(|| {
            err(1, "no front matter: a notebook starts with `+++`, TOML (title = \"...\", [params]), `+++`".into())
        })?;
        let front: FrontMatter = toml::from_str(front_text).map_err(|e| {
            let line = e.span().map_or(2, |s| front_text[..s.start].matches('\n').count() + 2);
            err(line, format!("front matter: {}", e.message()))
        })?;
        let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
        let body = &text[body_start..];
        let mut parts = Vec::new();
        let mut prose_from = 0;
        let mut open: Option<(String, usize)> = None;
        let mut code = String::new();
        let mut number = 0;
        for (event, range) in Parser::new(body).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                    let word = info.split_whitespace().next().unwrap_or("");
                    if word == "sql" || word == "chart" {
                        open = Some((info.to_string(), range.start));
                        code.clear();
                        parts.push(Part::Prose(body[prose_from..range.start].to_string()));
                        prose_from = range.end;
                    }
                }
                Event::Text(t) if open.is_some() => code.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((info, start)) = open.take() {
                        number += 1;
                        let line = line_of(body_start + start);
                        let kind = cell_kind(&info, &code, line).map_err(|(l, m)| err(l, m))?;
                        parts.push(Part::Cell(Cell { number, line, kind, text: code.clone() }));
                        prose_from = range.end;
                    }
                }
                _ => {}
            }
        }
        parts.push(Part::Prose(body[prose_from..].to_string()));
        let notebook = Notebook { name: name.to_string(), front, parts };
        notebook.check_references().map_err(|(l, m)| err(l, m))?;
        Ok(notebook)
    }

    pub fn cells(&self) -> impl Iterator<Item = &Cell> {
        self.parts.iter().filter_map(|p| match p {
            Part::Cell(c) => Some(c),
            Part::Prose(_) => None,
        })
    }

    /// Chart cells name an earlier SQL cell; names are unique.
    fn check_references(&self) -> Result<(), (usize, String)> {
        let mut names: Vec<&str> = Vec::new();
        for cell in self.cells() {
            match &cell.kind {
                CellKind::Sql(SqlOptions { name: Some(n), .. }) => {
                    if names.contains(&n.as_str()) {
                        return Err((cell.line, format!("a cell named '{n}' already exists")));
                    }
                    names.push(n);
                }
                CellKind::Chart(spec) => {
                    if let Some(data) = &spec.data
                        && !names.contains(&data.as_str())
                    {
                        return Err((
                            cell.line,
                            format!(
                                "chart data '{data}' is not the name of an SQL cell above it (names: {})",
                                if names.is_empty() { "none".to_string() } else { names.join(", ") }
                            ),
                        ));
                    }
                }
                CellKind::Sql(_) => {}
            }
        }
        Ok(())
    }
}

/// The TOML between the opening and closing `+++` lines, and where the body starts.
fn front_matter(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix("+++\n").or_else(|| text.strip_prefix("+++\r\n"))?;
    let start = text.len() - rest.len();
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Some((&rest[..offset], start + offset + line.len()));
        }
        offset += line.len();
    }
    None
}

fn cell_kind(info: &str, code: &str, line: usize) -> Result<CellKind, (usize, String)> {
    let mut words = info.split_whitespace();
    let kind = words.next().unwrap_or("");
    if kind == "chart" {
        if let Some(extra) = words.next() {
            return Err((line, format!("chart cells take no options on the fence ('{extra}'); put them in the spec")));
        }
        let spec: ChartSpec = toml::from_str(code).map_err(|e| {
            let l = e.span().map_or(line + 1, |s| line + 1 + code[..s.start].matches('\n').count());
            (l, format!("chart spec: {}", e.message()))
        })?;
        spec.check().map_err(|m| (line, m))?;
        return Ok(CellKind::Chart(Box::new(spec)));
    }
    let mut options = SqlOptions { name: None, counts: None, rows: DEFAULT_ROWS, caption: None };
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    for option in split_options(&rest) {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| (line, format!("cell option '{option}' is not key=value (name, counts, rows, caption)")))?;
        let value = value.trim_matches('"');
        match key {
            "name" => options.name = Some(value.to_string()),
            "counts" => options.counts = Some(value.split(',').map(str::to_string).filter(|s| !s.is_empty()).collect()),
            "rows" => {
                options.rows = value.parse().map_err(|_| (line, format!("rows={value} is not a number")))?;
            }
            "caption" => options.caption = Some(value.to_string()),
            other => return Err((line, format!("unknown cell option '{other}' (name, counts, rows, caption)"))),
        }
    }
    if code.trim().is_empty() {
        return Err((line, "empty SQL cell".into()));
    }
    Ok(CellKind::Sql(options))
}

/// Split `a=1 caption="two words"` on spaces outside quotes.
fn split_options(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NB: &str = "+++\ntitle = \"T\"\n[params]\nunit = { type = \"text\", optional = true, doc = \"u\" }\n+++\n\n# Head\n\nText.\n\n```sql name=a counts=n caption=\"A table\"\nSELECT 1 AS n\n```\n\nMore.\n\n```chart\ntype = \"bar\"\ndata = \"a\"\nx = \"n\"\ny = \"n\"\n```\n\n```python\nnot a cell\n```\n";

    #[test]
    fn cells_prose_and_lines() {
        let nb = Notebook::parse("nb.md", NB).unwrap();
        let cells: Vec<_> = nb.cells().collect();
        assert_eq!(cells.len(), 2);
        assert_eq!((cells[0].number, cells[0].line), (1, 11));
        assert_eq!(cells[0].text.trim(), "SELECT 1 AS n");
        let CellKind::Sql(o) = &cells[0].kind else { panic!() };
        assert_eq!(o.name.as_deref(), Some("a"));
        assert_eq!(o.counts.as_deref(), Some(&["n".to_string()][..]));
        assert_eq!(o.caption.as_deref(), Some("A table"));
        assert_eq!((cells[1].number, cells[1].line), (2, 17));
        // The python block stays prose; nothing is lost between cells.
        let prose: String =
            nb.parts.iter().filter_map(|p| if let Part::Prose(t) = p { Some(t.as_str()) } else { None }).collect();
        assert!(prose.contains("# Head") && prose.contains("More.") && prose.contains("not a cell"));
        assert_eq!(nb.front.params.len(), 1);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = NB.replace("type = \"bar\"", "type = \"pie\"");
        let e = Notebook::parse("nb.md", &bad).unwrap_err().to_string();
        assert!(e.starts_with("nb.md:18:"), "{e}");
        let bad = NB.replace("data = \"a\"", "data = \"b\"");
        let e = Notebook::parse("nb.md", &bad).unwrap_err().to_string();
        assert!(e.starts_with("nb.md:17:") && e.contains("'b' is not the name"), "{e}");
        let bad = NB.replace("counts=n", "count=n");
        let e = Notebook::parse("nb.md", &bad).unwrap_err().to_string();
        assert!(e.starts_with("nb.md:11:") && e.contains("unknown cell option 'count'"), "{e}");
        let bad = NB.replace("title = \"T\"", "titel = \"T\"");
        let e = Notebook::parse("nb.md", &bad).unwrap_err().to_string();
        assert!(e.starts_with("nb.md:2:"), "{e}");
    }
}
