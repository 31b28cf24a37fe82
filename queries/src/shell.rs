//! `utfall sql`: an interactive, read-only SQL shell over one build of the
//! register, with line editing, a history file, completion of table and
//! column names, and psql-style commands:
//!
//! | command | does |
//! |---|---|
//! | `\d` | list the tables, with what each holds |
//! | `\d TABLE` | a table's columns and types |
//! | `\n` | list the named queries |
//! | `\n NAME [k=v ...]` | run a named query |
//! | `\format table\|csv\|json` | how results print |
//! | `\timing` | toggle printing each query's time |
//! | `\q` | quit (or Ctrl-D) |
//!
//! A statement runs when a line ends with `;`.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::named::{self, NamedQuery};
use crate::output::{self, Format};
use crate::params::{bind, split_assignment};
use crate::{QueryError, Session};

/// What the loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// The shell's state, apart from the line editor (so it can be tested).
pub struct Shell<'a> {
    session: &'a Session,
    named: Vec<NamedQuery>,
    format: Format,
    timing: bool,
}

impl<'a> Shell<'a> {
    pub fn new(session: &'a Session, named: Vec<NamedQuery>) -> Shell<'a> {
        Shell { session, named, format: Format::Table, timing: false }
    }

    /// Run one complete input: a backslash command or one SQL statement.
    /// Errors are printed, not returned: the shell goes on.
    pub fn handle(&mut self, input: &str, out: &mut dyn Write) -> Flow {
        let input = input.trim();
        let result = if let Some(command) = input.strip_prefix('\\') {
            self.command(command, out)
        } else if input.trim_end_matches(';').trim().is_empty() {
            Ok(Flow::Continue)
        } else {
            self.query(input, &[], out).map(|_| Flow::Continue)
        };
        match result {
            Ok(flow) => flow,
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
                Flow::Continue
            }
        }
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[(String, datafusion::common::ScalarValue)],
        out: &mut dyn Write,
    ) -> Result<(), QueryError> {
        let answer = self.session.run(sql.trim().trim_end_matches(';'), params)?;
        let mut text = Vec::new();
        output::write(&answer, self.format, &mut text)?;
        out.write_all(&text).map_err(|e| QueryError::Output(e.to_string()))?;
        if self.timing {
            let _ = writeln!(out, "Time: {:.1} ms", answer.elapsed.as_secs_f64() * 1000.0);
        }
        Ok(())
    }

    fn command(&mut self, command: &str, out: &mut dyn Write) -> Result<Flow, QueryError> {
        let io = |e: std::io::Error| QueryError::Output(e.to_string());
        let mut words = command.split_whitespace();
        match (words.next().unwrap_or(""), words.next()) {
            ("q", _) => return Ok(Flow::Quit),
            ("d", None) => {
                writeln!(out, "{:<20} {:<28} description", "table", "svenska").map_err(io)?;
                for t in self.session.tables() {
                    writeln!(out, "{:<20} {:<28} {}", t.name, t.swedish, t.description).map_err(io)?;
                }
            }
            ("d", Some(table)) => {
                for (name, data_type) in self.session.columns(table)? {
                    writeln!(out, "{name:<28} {data_type}").map_err(io)?;
                }
            }
            ("n", None) => {
                for q in &self.named {
                    let params: Vec<String> = q.params.iter().map(|(n, s)| format!("{n}:{:?}", s.kind)).collect();
                    writeln!(out, "{:<36} {} [{}]", q.name, q.title, params.join(", ").to_lowercase()).map_err(io)?;
                }
            }
            ("n", Some(name)) => {
                let given = words.map(split_assignment).collect::<Result<Vec<_>, _>>()?;
                let query = named::find(&self.named, name)?.clone();
                let bound = bind(&query.params, &given, &format!("named query '{name}'"))?;
                self.query(&query.sql, &bound.values, out)?;
            }
            ("format", Some(f)) => {
                let format: Format = f.parse().map_err(QueryError::Param)?;
                if format.is_binary() {
                    return Err(QueryError::Param("the shell prints table, csv or json".into()));
                }
                self.format = format;
            }
            ("timing", _) => {
                self.timing = !self.timing;
                writeln!(out, "Timing is {}.", if self.timing { "on" } else { "off" }).map_err(io)?;
            }
            ("?" | "h" | "help", _) => writeln!(out, "{HELP}").map_err(io)?,
            (other, _) => return Err(QueryError::Param(format!("unknown command \\{other} (\\? lists them)"))),
        }
        Ok(Flow::Continue)
    }
}

const HELP: &str = "\\d              list tables
\\d TABLE        describe a table
\\n              list named queries
\\n NAME k=v ... run a named query
\\format F       table, csv or json
\\timing         toggle query timing
\\q              quit
SQL statements end with ';' (read-only: SELECT, WITH, EXPLAIN, DESCRIBE, SHOW).";

/// Completion of table names, column names and a few keywords.
struct Complete {
    words: Vec<String>,
}

impl Completer for Complete {
    type Candidate = Pair;
    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
        let prefix = line[start..pos].to_lowercase();
        if prefix.is_empty() {
            return Ok((start, Vec::new()));
        }
        let candidates = self
            .words
            .iter()
            .filter(|w| w.to_lowercase().starts_with(&prefix))
            .map(|w| Pair { display: w.clone(), replacement: w.clone() })
            .collect();
        Ok((start, candidates))
    }
}
impl Hinter for Complete {
    type Hint = String;
}
impl Highlighter for Complete {
    fn highlight<'l>(&self, line: &'l str, _: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}
impl Validator for Complete {}
impl Helper for Complete {}

/// Where the history is kept: `$XDG_STATE_HOME/utfall/sql_history`, else
/// `~/.local/state/utfall/sql_history`.
fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("utfall").join("sql_history"))
}

/// The interactive loop.
pub fn run(session: &Session, named: Vec<NamedQuery>) -> Result<(), QueryError> {
    let mut words: Vec<String> = Vec::new();
    for t in session.tables() {
        words.push(t.name.to_string());
        words.extend(session.columns(t.name)?.into_iter().map(|(c, _)| c));
    }
    for k in ["SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "HAVING", "JOIN", "WITH", "DISTINCT", "COUNT"] {
        words.push(k.to_string());
    }
    words.sort();
    words.dedup();
    // Bash-like completion: the common prefix, then the list on a second Tab.
    let config = Config::builder().completion_type(CompletionType::List).auto_add_history(false).build();
    let mut editor: Editor<Complete, FileHistory> =
        Editor::with_config(config).map_err(|e| QueryError::Output(format!("cannot start the shell: {e}")))?;
    editor.set_helper(Some(Complete { words }));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let manifest = session.manifest();
    println!(
        "utfall sql: build {} of the register ({} tables, read-only). \\? for help, \\q to quit.",
        manifest.build_id,
        session.tables().len()
    );
    let mut shell = Shell::new(session, named);
    let mut buffer = String::new();
    let stdout = std::io::stdout();
    loop {
        let prompt = if buffer.is_empty() { "utfall> " } else { "   ...> " };
        match editor.readline(prompt) {
            Ok(line) => {
                let starts_command = buffer.is_empty() && line.trim_start().starts_with('\\');
                if !buffer.is_empty() {
                    buffer.push('\n');
                }
                buffer.push_str(&line);
                if !(starts_command || line.trim_end().ends_with(';')) {
                    continue;
                }
                let _ = editor.add_history_entry(buffer.as_str());
                let flow = shell.handle(&buffer, &mut stdout.lock());
                buffer.clear();
                if flow == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => {
                if !buffer.trim().is_empty() {
                    shell.handle(&buffer, &mut stdout.lock());
                }
                break;
            }
            Err(e) => return Err(QueryError::Output(format!("shell: {e}"))),
        }
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rustyline::history::FileHistory;

    use super::*;

    #[test]
    fn completes_names_from_the_word_under_the_cursor() {
        let complete = Complete { words: vec!["cases".into(), "clients".into(), "closed".into(), "unit".into()] };
        let history = FileHistory::new();
        let ctx = Context::new(&history);
        let line = "select unit from cl";
        let (start, candidates) = complete.complete(line, line.len(), &ctx).unwrap();
        assert_eq!(start, 17);
        let names: Vec<&str> = candidates.iter().map(|c| c.replacement.as_str()).collect();
        assert_eq!(names, ["clients", "closed"]);
        let (_, none) = complete.complete("select ", 7, &ctx).unwrap();
        assert!(none.is_empty());
        let (start, upper) = complete.complete("SELECT UN", 9, &ctx).unwrap();
        assert_eq!((start, upper[0].replacement.as_str()), (7, "unit"));
    }
}
