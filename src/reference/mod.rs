//! The documents rendered from the code, so that they cannot disagree with
//! it: the configuration reference in both languages
//! (`docs/config-reference.md`, `docs/ru/config-reference.md`), from the
//! settings table, and the man pages (`docs/man/ollama-proxy-client.1`,
//! `docs/man/ru/ollama-proxy-client.1`; see [`man`]), from the same
//! `--help` page the binary prints and the same table.
//!
//! Compiled into the tests only. The test below renders every document and
//! fails when a committed file differs; `scripts/gen-docs.sh` runs it with
//! `UPDATE_DOCS=1`, which writes the files instead. The page texts around
//! the generated parts are in the catalogue (`text::docs`), both languages
//! side by side.

mod man;

use crate::config::{documented_keys, DocumentedDefault};
use crate::text::{docs as text, Lang};

/// The config file, as the documents name it.
const CONFIG_FILE: &str = "~/.config/ollama_proxy/config.json";

/// The log file, as the documents name it.
const LOG_FILE: &str = "~/.config/ollama_proxy/logs/client.log";

/// Every generated document: its path from the top of the repository, and
/// its text.
fn documents() -> Vec<(&'static str, String)> {
    vec![
        ("docs/config-reference.md", config_reference(Lang::En)),
        ("docs/ru/config-reference.md", config_reference(Lang::Ru)),
        (
            "docs/man/ollama-proxy-client.1",
            man::page(Lang::En, CONFIG_FILE, LOG_FILE),
        ),
        (
            "docs/man/ru/ollama-proxy-client.1",
            man::page(Lang::Ru, CONFIG_FILE, LOG_FILE),
        ),
    ]
}

/// The configuration reference: every key, its default, what it must be
/// and what it does, one table row each.
fn config_reference(lang: Lang) -> String {
    let mut page = format!(
        "# {}\n\n{}\n\n{}\n\n{}\n| --- | --- | --- | --- |\n",
        text::reference_title().in_lang(lang),
        text::reference_links().in_lang(lang),
        text::reference_intro(format!("`{CONFIG_FILE}`")).in_lang(lang),
        text::reference_columns().in_lang(lang),
    );
    for key in documented_keys(lang) {
        let default = match key.default {
            DocumentedDefault::Value(value) => format!("`{value}`"),
            DocumentedDefault::Described(description) => description.to_string(),
        };
        let row = [
            format!("`{}`", key.name),
            default,
            key.takes,
            key.doc.into(),
        ];
        page.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    page
}

#[test]
fn the_committed_documents_are_what_the_code_renders() {
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let top = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, rendered) in documents() {
        let file = top.join(path);
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &rendered).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == rendered,
            "{path} is not what the code renders: run scripts/gen-docs.sh and commit it"
        );
    }
}

#[test]
fn the_reference_has_a_row_for_every_key_with_its_range() {
    for lang in [Lang::En, Lang::Ru] {
        let page = config_reference(lang);
        let rows: Vec<&str> = page.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(rows.len(), crate::config::KEYS.len());
        let max_parallel = rows.iter().find(|r| r.starts_with("| `max_parallel` |"));
        let range = match lang {
            Lang::En => "| `1` | a whole number from 1 to 256 |",
            Lang::Ru => "| `1` | целым числом от 1 до 256 |",
        };
        assert!(max_parallel.unwrap().contains(range), "{page}");
        assert!(page.contains("| `token` | ("), "{page}");
    }
}
