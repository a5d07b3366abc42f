//! Every text a person reads at the terminal, in English and Russian: the
//! one catalogue, and the choice of language.
//!
//! Each message is defined once, with both translations side by side, by
//! a [`catalogue!`] entry in one of the submodules (one per area of the
//! program). An entry becomes a function that takes the message's
//! arguments and returns a [`Text`]: the message and its arguments, not
//! yet rendered. Whoever shows it picks the language: [`Text::owner`] for
//! the terminal (the owner's language, see below), [`Text::english`] for
//! the log file, which stays English so that it is stable, searchable and
//! shareable with support, and [`Text::in_lang`] for the buyer's error
//! texts (the `buyer_language` setting). `Text` has no `Display`, so every
//! use says which.
//!
//! Templates are plain strings rendered at run time by [`render`] (one
//! small function instead of a `format!` per message and language, which
//! keeps the binary small): `{name}` is an argument, `{{` and `}}` are
//! braces, and `{name|form|form...}` is the word for the count `name` in
//! the language's plural forms (English: one, other; Russian: one, few,
//! many, as in 1 запрос, 2 запроса, 5 запросов). A unit test checks every
//! entry: both translations present, the same arguments in both and in the
//! declaration, the right number of plural forms.
//!
//! The owner's language is chosen the way gettext-based tools choose it:
//! the `language` setting (`auto`, `en`, `ru`); with `auto`, the first of
//! `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and non-empty decides, and
//! a value starting with `ru` means Russian, anything else (`C`, `POSIX`)
//! English. `main` sets it once, before anything is printed.

pub mod check;
pub mod cli;
pub mod config;
pub mod control;
#[cfg(test)]
pub mod docs;
pub mod errors;
pub mod files;
pub mod metrics;
mod render;
pub mod startup;
pub mod stats;

pub(crate) use render::{catalogue, english_display};
pub use render::{outside, owner_language, set_owner_language, Arg, Lang, Msg, Text};

#[cfg(test)]
mod tests {
    #[test]
    fn outside_text_cannot_forge_a_line_or_drive_a_terminal() {
        let cases = [
            (
                "bye\n2026-01-01 [ERROR] FORGED\u{1b}[31m",
                "bye\\n2026-01-01 [ERROR] FORGED\\u{1b}[31m",
            ),
            ("a\rb\u{7}c\td\0", "a\\rb\\u{7}c\\td\\0"),
            ("\u{1b}[2J", "\\u{1b}[2J"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("del\u{7f}", "del\\u{7f}"),
            ("line\u{2028}sep\u{2029}", "line\\u{2028}sep\\u{2029}"),
            (
                "\u{202e}evil\u{2066}\u{200f}",
                "\\u{202e}evil\\u{2066}\\u{200f}",
            ),
            ("back\\slash\\n", "back\\\\slash\\\\n"),
            (
                "plain \"quoted\" 'text' ёжик 🙂",
                "plain \"quoted\" 'text' ёжик 🙂",
            ),
            ("", ""),
        ];
        for (from, shown) in cases {
            assert_eq!(outside(from), shown, "{from:?}");
        }
    }

    use super::render::*;
    use super::*;

    /// Every part of the catalogue.
    fn every_message() -> impl Iterator<Item = &'static Msg> {
        [
            check::ALL,
            cli::ALL,
            config::ALL,
            control::ALL,
            docs::ALL,
            errors::ALL,
            files::ALL,
            metrics::ALL,
            startup::ALL,
            stats::ALL,
        ]
        .into_iter()
        .flatten()
        .copied()
    }

    /// The placeholders of a template: each argument's name with its number
    /// of plural forms (0 for a plain argument), in order.
    fn placeholders(template: &str) -> Vec<(&str, usize)> {
        pieces(template)
            .filter_map(|piece| match piece {
                Piece::Placeholder { name, forms, .. } => Some((name, forms.len())),
                Piece::Literal(_) => None,
            })
            .collect()
    }

    #[test]
    fn every_message_has_both_translations_with_the_same_arguments() {
        let mut names = std::collections::HashSet::new();
        for msg in every_message() {
            assert!(names.insert(msg.name), "{} is defined twice", msg.name);
            assert!(!msg.en.trim().is_empty(), "{}: no English text", msg.name);
            assert!(!msg.ru.trim().is_empty(), "{}: no Russian text", msg.name);
            let declared: std::collections::BTreeSet<&str> = msg.args.iter().copied().collect();
            for lang in [Lang::En, Lang::Ru] {
                let found = placeholders(msg.template(lang));
                let used: std::collections::BTreeSet<&str> =
                    found.iter().map(|(name, _)| *name).collect();
                assert_eq!(
                    used, declared,
                    "{} ({lang:?}) must use exactly its arguments",
                    msg.name
                );
                for (name, forms) in found {
                    assert!(
                        forms == 0 || forms == plural_forms(lang),
                        "{} ({lang:?}): {{{name}|...}} needs {} plural forms",
                        msg.name,
                        plural_forms(lang)
                    );
                }
            }
        }
        assert!(names.len() > 50, "only {} messages found", names.len());
    }

    #[test]
    fn russian_texts_are_russian() {
        // A Russian text with no Cyrillic letter is an untranslated copy
        // (a text that is all placeholders, such as "{path}: {error}", is
        // the same in both languages and is fine).
        for msg in every_message() {
            let letters = render(msg.ru, Lang::Ru, &|_| Some(String::new()));
            let has_latin_words = letters
                .split(|c: char| !c.is_ascii_alphabetic())
                .any(|word| word.len() > 3 && !is_name(word));
            let has_cyrillic = msg
                .ru
                .chars()
                .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)));
            assert!(
                has_cyrillic || !has_latin_words,
                "{}: the Russian text is not translated: {}",
                msg.name,
                msg.ru
            );
        }
    }

    /// Words that stay as they are in Russian text: names of programs,
    /// protocols and variables.
    fn is_name(word: &str) -> bool {
        word.chars().any(|c| c.is_ascii_uppercase())
    }

    fn with_args(template: &str, lang: Lang, args: &[(&str, &str)]) -> String {
        render(template, lang, &|name| {
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn templates_fill_in_arguments_braces_and_plurals() {
        let t = "{n} {n|запрос|запроса|запросов} {{x}} к {host}";
        let host = ("host", "gpu");
        let cases = [
            (0, "запросов"),
            (1, "запрос"),
            (2, "запроса"),
            (4, "запроса"),
            (5, "запросов"),
            (11, "запросов"),
            (12, "запросов"),
            (14, "запросов"),
            (21, "запрос"),
            (22, "запроса"),
            (25, "запросов"),
            (101, "запрос"),
            (111, "запросов"),
            (112, "запросов"),
            (1000, "запросов"),
        ];
        for (n, word) in cases {
            let count = n.to_string();
            assert_eq!(
                with_args(t, Lang::Ru, &[("n", &count), host]),
                format!("{n} {word} {{x}} к gpu")
            );
        }
        let en = "{n} {n|piece|pieces}";
        assert_eq!(with_args(en, Lang::En, &[("n", "1")]), "1 piece");
        assert_eq!(with_args(en, Lang::En, &[("n", "0")]), "0 pieces");
        assert_eq!(with_args(en, Lang::En, &[("n", "2")]), "2 pieces");
        assert_eq!(with_args(en, Lang::En, &[("n", "1.5")]), "1.5 pieces");
    }

    #[test]
    fn broken_templates_render_without_panicking() {
        for template in [
            "{", "}", "a{b", "a}b", "{x|", "{|}", "{}", "{{{", "}}}", "{x}{",
        ] {
            let shown = with_args(template, Lang::Ru, &[("x", "1")]);
            assert!(!shown.contains("1") || template.contains('x'), "{template}");
        }
        assert_eq!(with_args("{missing} ok", Lang::En, &[]), "{missing} ok");
        assert_eq!(with_args("a } b { c", Lang::En, &[]), "a } b { c");
    }

    #[test]
    fn the_first_locale_variable_set_decides() {
        let cases = [
            ([None, None, None], Lang::En),
            ([None, None, Some("ru_RU.UTF-8")], Lang::Ru),
            ([None, None, Some("ru")], Lang::Ru),
            ([Some("C"), None, Some("ru_RU.UTF-8")], Lang::En),
            ([Some(""), None, Some("ru_RU.UTF-8")], Lang::Ru),
            ([None, Some("ru_UA.KOI8-U"), Some("en_US.UTF-8")], Lang::Ru),
            ([None, Some("POSIX"), Some("ru_RU.UTF-8")], Lang::En),
            ([Some("ru_RU.UTF-8"), Some("C"), Some("C")], Lang::Ru),
            ([None, None, Some("en_GB.UTF-8")], Lang::En),
            ([None, None, Some("rus")], Lang::Ru),
            ([None, None, Some("uk_UA.UTF-8")], Lang::En),
        ];
        for (vars, lang) in cases {
            assert_eq!(Lang::of_locale_vars(vars, None), lang, "{vars:?}");
            // The display language speaks only when no variable does.
            let with_display = Lang::of_locale_vars(vars, Some("ru"));
            let none_set = vars.iter().flatten().all(|v| v.is_empty());
            let expected = if none_set { Lang::Ru } else { lang };
            assert_eq!(with_display, expected, "{vars:?}");
        }
    }

    #[test]
    fn language_codes_round_trip() {
        for lang in [Lang::En, Lang::Ru] {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Lang::from_code("RU"), None);
        assert_eq!(Lang::from_code("auto"), None);
    }

    #[test]
    fn a_nested_text_is_rendered_in_the_language_of_the_outer_one() {
        let inner = Text::verbatim("x");
        assert_eq!(inner.in_lang(Lang::Ru), "x");
        let outer = Text::new(&TEST_OUTER, vec![Arg::from(inner), Arg::from(3u8)]);
        assert_eq!(outer.in_lang(Lang::En), "outer x 3");
        assert_eq!(outer.in_lang(Lang::Ru), "внешний x 3");
        assert_eq!(format!("{outer:?}"), "\"outer x 3\"");
    }

    static TEST_OUTER: Msg = Msg {
        name: "test_outer",
        args: &["inner", "n"],
        en: "outer {inner} {n}",
        ru: "внешний {inner} {n}",
    };
}
