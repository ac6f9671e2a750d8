//! Both backends' migrations must define the same schema: tables, columns and indexes (with
//! their uniqueness), so code written against one runs on the other.

use std::collections::BTreeSet;

use numberd::app;
use numberd::store::Db;
use sqlx::Row;

use crate::common::{test_config, Backend, TestDb};

/// (table, column) pairs and (table, index, unique) triples of a migrated database.
type Schema = (BTreeSet<(String, String)>, BTreeSet<(String, String, bool)>);

async fn schema(backend: Backend) -> Schema {
    let db = TestDb::new(backend).await;
    let Db { pool, .. } = app::connect(&test_config(&db.url)).await.expect("migrate");
    let (columns_sql, indexes_sql) = match backend {
        Backend::Sqlite => (
            "SELECT m.name AS t, c.name AS n FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
            // origin 'c': made by CREATE INDEX, not by a PRIMARY KEY or UNIQUE column.
            "SELECT m.name AS t, i.name AS n, i.\"unique\" AS u FROM sqlite_master m, pragma_index_list(m.name) i \
             WHERE m.type = 'table' AND i.origin = 'c'",
        ),
        Backend::Postgres => (
            "SELECT table_name::text AS t, column_name::text AS n FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'",
            // Indexes behind constraints (primary keys, UNIQUE columns) have no CREATE INDEX.
            "SELECT tablename::text AS t, indexname::text AS n, CASE WHEN indexdef LIKE 'CREATE UNIQUE%' THEN 1 ELSE 0 END AS u \
             FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE connamespace = current_schema()::regnamespace)",
        ),
    };
    let columns = sqlx::query(columns_sql).fetch_all(&pool).await.unwrap();
    let indexes = sqlx::query(indexes_sql).fetch_all(&pool).await.unwrap();
    let columns = columns.iter().map(|r| (r.get::<String, _>("t"), r.get::<String, _>("n"))).collect();
    let indexes = indexes.iter().map(|r| (r.get::<String, _>("t"), r.get::<String, _>("n"), r.get::<i64, _>("u") != 0)).collect();
    (columns, indexes)
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_define_the_same_schema() {
    let (sqlite, postgres) = (schema(Backend::Sqlite).await, schema(Backend::Postgres).await);
    assert!(sqlite.0.iter().any(|(t, c)| t == "jobs" && c == "dedupe_key"), "introspection found the tables: {:?}", sqlite.0);
    assert!(!sqlite.1.is_empty(), "introspection found the indexes");
    fn only<T: Ord + Clone>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> Vec<T> {
        a.difference(b).cloned().collect()
    }
    assert_eq!(only(&sqlite.0, &postgres.0), Vec::<(String, String)>::new(), "columns only on SQLite");
    assert_eq!(only(&postgres.0, &sqlite.0), Vec::<(String, String)>::new(), "columns only on PostgreSQL");
    assert_eq!(only(&sqlite.1, &postgres.1), Vec::<(String, String, bool)>::new(), "indexes only on SQLite (or unique only there)");
    assert_eq!(only(&postgres.1, &sqlite.1), Vec::<(String, String, bool)>::new(), "indexes only on PostgreSQL (or unique only there)");
}
