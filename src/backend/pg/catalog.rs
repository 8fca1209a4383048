//! Catalog facts about a table, read once when a backend opens.

use std::collections::{HashMap, HashSet};

use sqlx::PgPool;

use super::sql::qualified;

/// Catalog facts about one table, read once at open.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// Column name -> type as `format_type` spells it.
    pub columns: HashMap<String, String>,
    /// Columns declared NOT NULL.
    pub not_null: HashSet<String>,
    /// Each index: (key column names in order, predicate text or None); for a partitioned
    /// table, also those on every partition.
    pub indexes: Vec<IndexShape>,
    /// `p` for a partitioned table.
    pub relkind: String,
    /// The table's size on disk (`pg_table_size`; a partitioned table's, its partitions').
    pub bytes: i64,
}

/// Up to this size a table is read whole for a figure no index serves: a scan of a few
/// megabytes a poll costs less than going without the figure. Oban prunes completed jobs
/// after a minute by default, and a young procrastinate app has a few thousand events.
pub const SMALL_TABLE_BYTES: i64 = 8 << 20;

/// One index's shape: key column names in order, predicate text or None.
type IndexShape = (Vec<String>, Option<String>);

/// The indexes that serve reads of the table: its own, and where it is partitioned, those
/// every leaf partition carries (pg-boss creates its indexes on each partition, not on the
/// parent; a shape some partition lacks cannot keep a read of the parent on an index).
async fn load_indexes(pool: &PgPool, oid: i64) -> anyhow::Result<Vec<IndexShape>> {
    let rows: Vec<(i64, bool, Vec<String>, Option<String>)> = sqlx::query_as(
        "WITH RECURSIVE tree(oid) AS ( \
           SELECT $1::bigint::oid \
           UNION ALL \
           SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid) \
         SELECT c.oid::bigint, c.oid = $1::bigint::oid, \
                ARRAY(SELECT coalesce(a.attname::text, '') \
                      FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
                      LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                      WHERE k.ord <= i.indnkeyatts ORDER BY k.ord), \
                pg_get_expr(i.indpred, i.indrelid) \
         FROM tree t JOIN pg_class c ON c.oid = t.oid \
         LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisvalid \
         WHERE c.oid = $1::bigint::oid OR c.relkind = 'r'",
    )
    .bind(oid)
    .fetch_all(pool)
    .await?;
    let mut own = Vec::new();
    let mut by_leaf: HashMap<i64, HashSet<IndexShape>> = HashMap::new();
    for (rel, is_table, keys, predicate) in rows {
        // The LEFT JOIN's row for a relation without an index: keys come back empty.
        let shape = (!keys.is_empty()).then_some((keys, predicate));
        if is_table {
            own.extend(shape);
        } else {
            by_leaf.entry(rel).or_default().extend(shape);
        }
    }
    let mut leaves = by_leaf.into_values();
    if let Some(first) = leaves.next() {
        let common = leaves.fold(first, |acc, leaf| &acc & &leaf);
        own.extend(
            common
                .into_iter()
                .filter(|s| !own.contains(s))
                .collect::<Vec<_>>(),
        );
    }
    Ok(own)
}

impl TableInfo {
    pub async fn load(
        pool: &PgPool,
        schema: &str,
        name: &str,
    ) -> anyhow::Result<Option<TableInfo>> {
        let rel: Option<(i64, String, i64)> = sqlx::query_as(
            "SELECT c.oid::bigint, c.relkind::text, \
               CASE WHEN c.relkind = 'p' \
                 THEN coalesce((SELECT sum(pg_table_size(p.relid)) FROM pg_partition_tree(c.oid) p), 0) \
                 ELSE pg_table_size(c.oid) END::bigint \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
        )
        .bind(schema)
        .bind(name)
        .fetch_optional(pool)
        .await?;
        let Some((oid, relkind, bytes)) = rel else {
            return Ok(None);
        };
        let columns: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
             WHERE attrelid = $1::bigint::oid AND attnum > 0 AND NOT attisdropped",
        )
        .bind(oid)
        .fetch_all(pool)
        .await?;
        let indexes = load_indexes(pool, oid).await?;
        Ok(Some(TableInfo {
            schema: schema.to_string(),
            name: name.to_string(),
            not_null: columns
                .iter()
                .filter(|c| c.2)
                .map(|c| c.0.clone())
                .collect(),
            columns: columns.into_iter().map(|(n, t, _)| (n, t)).collect(),
            indexes,
            relkind,
            bytes,
        }))
    }

    /// A table under `SMALL_TABLE_BYTES` (a partitioned one: its partitions together):
    /// cheap to read whole each poll.
    pub fn is_small(&self) -> bool {
        matches!(self.relkind.as_str(), "r" | "p") && self.bytes < SMALL_TABLE_BYTES
    }

    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// The column may hold NULL (or is not there).
    pub fn nullable(&self, column: &str) -> bool {
        !self.not_null.contains(column)
    }

    /// The column's type is `timestamp without time zone`.
    pub fn is_naive_timestamp(&self, column: &str) -> bool {
        self.columns
            .get(column)
            .is_some_and(|t| t.starts_with("timestamp") && t.contains("without"))
    }

    /// An index that can serve a range on `column`: the column leads the index, or follows
    /// one of `equality_prefix` (columns the query pins with `=`).
    pub fn has_index_for(&self, column: &str, equality_prefix: &[&str]) -> bool {
        self.has_index_where(column, equality_prefix, |_| true)
    }

    /// Like `has_index_for`, for indexes whose predicate (None: not partial) passes `fits`.
    pub fn has_index_where(
        &self,
        column: &str,
        equality_prefix: &[&str],
        fits: impl Fn(Option<&str>) -> bool,
    ) -> bool {
        self.indexes.iter().any(|(keys, predicate)| {
            let lead = keys
                .iter()
                .take_while(|k| equality_prefix.contains(&k.as_str()))
                .count();
            keys.get(lead).is_some_and(|k| k == column) && fits(predicate.as_deref())
        })
    }

    pub fn qualified(&self) -> String {
        qualified(&self.schema, &self.name)
    }
}

/// An enum column's type, qualified, and its labels in order.
pub async fn enum_of(
    pool: &PgPool,
    table: &TableInfo,
    column: &str,
) -> anyhow::Result<(String, Vec<String>)> {
    let row: Option<(String, Vec<String>)> = sqlx::query_as(
        "SELECT format('%I.%I', n.nspname, t.typname), \
           ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid \
                 ORDER BY e.enumsortorder) \
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
         JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass AND a.attname = $3",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .bind(column)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => Ok(r),
        None => anyhow::bail!("{}.{} has no {column} column", table.schema, table.name),
    }
}
