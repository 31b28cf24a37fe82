//! Read-only by construction: a statement runs only if it is a query (or
//! `EXPLAIN`/`DESCRIBE`/`SHOW` of one). Everything else is refused here, by
//! name, before it is planned; DataFusion's plan check (`SQLOptions` with DDL,
//! DML and statements off) refuses it again if this check ever lets one by.

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Query, SetExpr, Statement};

use crate::QueryError;

/// Refuse anything but one read-only statement.
pub fn check(sql: &str) -> Result<(), QueryError> {
    let statements = DFParser::parse_sql(sql).map_err(|e| QueryError::Sql(e.to_string()))?;
    match statements.len() {
        0 => return Err(QueryError::Sql("no SQL statement given".into())),
        1 => {}
        n => {
            return Err(QueryError::Sql(format!(
                "{n} statements given; run one statement at a time (the shell runs each `;`-terminated statement in turn)"
            )));
        }
    }
    check_statement(&statements[0])
}

/// Split a script into its statements' texts (for the shell and notebooks),
/// as the parser sees them.
pub fn split(sql: &str) -> Result<Vec<String>, QueryError> {
    let statements = DFParser::parse_sql(sql).map_err(|e| QueryError::Sql(e.to_string()))?;
    Ok(statements.iter().map(|s| s.to_string()).collect())
}

fn check_statement(statement: &DfStatement) -> Result<(), QueryError> {
    match statement {
        DfStatement::Statement(inner) => match inner.as_ref() {
            Statement::Query(query) if selects_into(query) => Err(refused("SELECT INTO")),
            Statement::Query(_)
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowFunctions { .. }
            | Statement::ShowVariable { .. }
            | Statement::ExplainTable { .. } => Ok(()),
            Statement::Explain { statement, .. } => {
                if matches!(statement.as_ref(), Statement::Query(_)) {
                    Ok(())
                } else {
                    Err(refused(&first_words(&statement.to_string())))
                }
            }
            other => Err(refused(&first_words(&other.to_string()))),
        },
        DfStatement::Explain(explain) => check_statement(&explain.statement),
        DfStatement::CopyTo(_) => Err(refused("COPY")),
        DfStatement::CreateExternalTable(_) => Err(refused("CREATE EXTERNAL TABLE")),
        DfStatement::Reset(_) => Err(refused("RESET")),
    }
}

/// `SELECT ... INTO t` creates a table.
fn selects_into(query: &Query) -> bool {
    matches!(query.body.as_ref(), SetExpr::Select(select) if select.into.is_some())
}

/// The refusal, naming what was refused and what to do instead.
pub fn refused(what: &str) -> QueryError {
    QueryError::ReadOnly(format!(
        "refused: {what} is not allowed. The register is read-only here: only queries run \
         (SELECT, WITH, EXPLAIN, DESCRIBE, SHOW). To save a result, use --format and --out."
    ))
}

/// The statement's leading keywords (`CREATE TABLE`, `INSERT INTO`, ...).
fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    let two = words.join(" ").to_uppercase();
    if two.starts_with("CREATE") || two.starts_with("DROP") || two.starts_with("INSERT") || two.starts_with("ALTER") {
        two
    } else {
        words.first().map(|w| w.to_uppercase()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::QueryError;

    #[test]
    fn queries_pass() {
        for sql in [
            "SELECT 1",
            "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
            "select * from cases where opened >= $from",
            "EXPLAIN SELECT 1",
            "EXPLAIN ANALYZE SELECT 1",
            "SHOW TABLES",
            "DESCRIBE cases",
            "SELECT 1 UNION ALL SELECT 2",
        ] {
            check(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    #[test]
    fn everything_that_changes_or_writes_is_refused_by_name() {
        for (sql, named) in [
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("COPY cases TO '/tmp/x.parquet' STORED AS PARQUET", "COPY"),
            ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
            ("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'", "CREATE EXTERNAL TABLE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
            ("INSERT INTO cases VALUES (1)", "INSERT INTO"),
            ("DELETE FROM cases", "DELETE"),
            ("UPDATE cases SET unit = 'x'", "UPDATE"),
            ("DROP TABLE cases", "DROP TABLE"),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("EXPLAIN COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            ("EXPLAIN INSERT INTO cases VALUES (1)", "INSERT INTO"),
            ("SELECT * INTO t2 FROM cases", "SELECT INTO"),
        ] {
            match check(sql) {
                Err(QueryError::ReadOnly(message)) => {
                    assert!(message.contains(named), "{sql}: {message}");
                    assert!(message.contains("read-only"), "{sql}: {message}");
                }
                other => panic!("{sql}: expected a read-only refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn several_statements_are_refused() {
        let Err(QueryError::Sql(message)) = check("SELECT 1; DROP TABLE cases") else { panic!() };
        assert!(message.contains("one statement at a time"), "{message}");
    }
}
