//! Many rows of one table written by ONE statement: each column sent as an
//! array and the rows taken back apart by `unnest`, so that a batch of
//! call records or dialogs costs one network round trip instead of one
//! per row (the sync client cannot pipeline).

use postgres::types::ToSql;
use postgres::{Statement, Transaction};

use super::{classify, upsert_rows_from};
use crate::error::StoreError;

/// The type of a column, as its array is cast in the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SqlType {
    /// `TEXT`, possibly `NULL`.
    Text,
    /// `BIGINT`, possibly `NULL`.
    Big,
    /// `BOOLEAN`, never `NULL`.
    Flag,
}

impl SqlType {
    const fn array_cast(self) -> &'static str {
        match self {
            Self::Text => "text[]",
            Self::Big => "bigint[]",
            Self::Flag => "boolean[]",
        }
    }
}

/// One value of a row, of its column's [`SqlType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cell {
    Text(Option<String>),
    Big(Option<i64>),
    Flag(bool),
}

impl Cell {
    /// A text value that is always there.
    pub(super) fn text(value: &str) -> Self {
        Self::Text(Some(value.to_owned()))
    }

    /// A text value that may be missing.
    pub(super) fn maybe_text(value: Option<&str>) -> Self {
        Self::Text(value.map(str::to_owned))
    }
}

/// The values of one column, one per row.
#[derive(Debug)]
enum ColumnArray {
    Text(Vec<Option<String>>),
    Big(Vec<Option<i64>>),
    Flag(Vec<bool>),
}

impl ColumnArray {
    fn of(sql_type: SqlType) -> Self {
        match sql_type {
            SqlType::Text => Self::Text(Vec::new()),
            SqlType::Big => Self::Big(Vec::new()),
            SqlType::Flag => Self::Flag(Vec::new()),
        }
    }

    fn push(&mut self, cell: Cell) -> Result<(), StoreError> {
        match (self, cell) {
            (Self::Text(values), Cell::Text(value)) => values.push(value),
            (Self::Big(values), Cell::Big(value)) => values.push(value),
            (Self::Flag(values), Cell::Flag(value)) => values.push(value),
            (_, cell) => {
                return Err(StoreError::InvalidInput(format!(
                    "row batch: a value of the wrong type ({cell:?})"
                )));
            }
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Text(values) => values,
            Self::Big(values) => values,
            Self::Flag(values) => values,
        }
    }
}

/// Rows of one table gathered column by column, for a statement of
/// [`upsert_rows_sql`] or [`key_list_sql`], written by [`write_rows`].
#[derive(Debug)]
struct RowBatch {
    columns: Vec<ColumnArray>,
    rows: usize,
}

impl RowBatch {
    /// An empty batch of rows with these column types.
    fn new(types: &[SqlType]) -> Self {
        Self {
            columns: types.iter().copied().map(ColumnArray::of).collect(),
            rows: 0,
        }
    }

    /// Adds a row: one cell per column, in the columns' order.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a row of the wrong shape (a bug
    /// here, not the caller's data).
    fn push(&mut self, row: impl IntoIterator<Item = Cell>) -> Result<(), StoreError> {
        let mut cells = row.into_iter();
        for column in &mut self.columns {
            let cell = cells
                .next()
                .ok_or_else(|| StoreError::InvalidInput("row batch: a row too short".into()))?;
            column.push(cell)?;
        }
        if cells.next().is_some() {
            return Err(StoreError::InvalidInput("row batch: a row too long".into()));
        }
        self.rows += 1;
        Ok(())
    }

    /// Runs `statement` over the rows (nothing when there is none);
    /// returns the rows it touched.
    fn execute(&self, tx: &mut Transaction<'_>, statement: &Statement) -> Result<u64, StoreError> {
        if self.rows == 0 {
            return Ok(0);
        }
        let params: Vec<&(dyn ToSql + Sync)> =
            self.columns.iter().map(ColumnArray::param).collect();
        tx.execute(statement, &params).map_err(classify)
    }
}

/// Runs `statement` once over all `rows` of `types` (nothing when there is
/// none): the one way every held-back kind of row is written.
pub(super) fn write_rows<R: IntoIterator<Item = Cell>>(
    tx: &mut Transaction<'_>,
    statement: &Statement,
    types: &[SqlType],
    rows: impl IntoIterator<Item = R>,
) -> Result<u64, StoreError> {
    let mut batch = RowBatch::new(types);
    for row in rows {
        batch.push(row)?;
    }
    batch.execute(tx, statement)
}

/// `unnest($1::type[], ...)` over `columns`.
fn unnest(columns: &[(&str, SqlType)]) -> String {
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(index, (_, sql_type))| format!("${}::{}", index + 1, sql_type.array_cast()))
        .collect();
    format!("unnest({})", arrays.join(", "))
}

/// The upsert of many rows of `table` at once: as `upsert_sql`, the rows
/// given as one array per column. The rows must have distinct keys
/// (PostgreSQL refuses to update one row twice in a statement).
pub(super) fn upsert_rows_sql(table: &str, columns: &[(&str, SqlType)], key: &[&str]) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let rows = format!("SELECT * FROM {}", unnest(columns));
    upsert_rows_from(table, &names, &rows, key)
}

/// `FROM unnest(...) AS keys (columns)`: the rows of a batch as a table
/// named `keys`, for a `DELETE ... USING` over many keys at once.
pub(super) fn key_list_sql(columns: &[(&str, SqlType)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    format!("{} AS keys ({})", unnest(columns), names.join(", "))
}
