//! The two migrations folders stay in step: the same files, and in each file the same tables,
//! indexes and alterations (only type names may differ between the databases).

use std::collections::BTreeMap;

/// File name → the file's text, for one folder.
fn migrations(folder: &str) -> BTreeMap<String, String> {
    let dir = format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The schema objects a migration creates or changes, in order: `CREATE TABLE users`, ….
fn schema_statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    code.split(';')
        .filter_map(|statement| {
            let words: Vec<_> = statement.split_whitespace().collect();
            let head = words
                .iter()
                .position(|w| w.eq_ignore_ascii_case("TABLE") || w.eq_ignore_ascii_case("INDEX"))?;
            let mut key = words[..=head].join(" ").to_uppercase();
            let name = words[head + 1..]
                .iter()
                .find(|w| !["IF", "NOT", "EXISTS"].contains(&w.to_uppercase().as_str()))?;
            key.push(' ');
            key.push_str(name);
            Some(key)
        })
        .collect()
}

#[test]
fn sqlite_and_postgres_migrations_are_in_step() {
    let sqlite = migrations("sqlite");
    let postgres = migrations("postgres");
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "migrations/sqlite and migrations/postgres must hold the same files"
    );
    for (name, sql) in &sqlite {
        let statements = schema_statements(sql);
        assert!(!statements.is_empty(), "{name}: no schema statements found");
        assert_eq!(
            statements,
            schema_statements(&postgres[name]),
            "{name} differs"
        );
    }
}
