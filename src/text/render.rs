//! How a catalogue entry becomes a sentence: the [`Lang`]uages, the
//! [`Text`] an entry returns (its message and arguments, not yet
//! rendered), the owner's language, the [`render`]ing of templates with
//! their plural forms, [`outside`] for words that came from outside the
//! process, and the `catalogue!` macro that the `text` submodules write
//! their entries with. See `text` for the whole.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// A language the catalogue speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    /// The language a locale name asks for: `ru_RU.UTF-8`, `ru` -> Russian;
    /// `C`, `POSIX`, `en_US.UTF-8` and everything else -> English.
    pub fn of_locale(locale: &str) -> Lang {
        match locale.starts_with("ru") {
            true => Lang::Ru,
            false => Lang::En,
        }
    }

    /// The language of the locale variables, given their values in POSIX
    /// order of precedence (`LC_ALL`, `LC_MESSAGES`, `LANG`): the first one
    /// set and non-empty decides; none set means English.
    pub fn of_locale_vars(values: [Option<&str>; 3]) -> Lang {
        values
            .into_iter()
            .flatten()
            .find(|value| !value.is_empty())
            .map_or(Lang::En, Lang::of_locale)
    }

    /// The language of this process's locale variables; when none is
    /// set, the system's display language (Windows has one; on Unix the
    /// variables are the only source), else English.
    pub fn from_environment() -> Lang {
        let var = |name| std::env::var_os(name);
        let [all, messages, lang] = [var("LC_ALL"), var("LC_MESSAGES"), var("LANG")];
        // A value that is not UTF-8 is still "set": it decides, as English
        // (its text cannot start with "ru" in any encoding we can read).
        fn text(value: &Option<std::ffi::OsString>) -> Option<&str> {
            value.as_ref().map(|v| v.to_str().unwrap_or("C"))
        }
        let set = [text(&all), text(&messages), text(&lang)];
        match set.iter().flatten().any(|value| !value.is_empty()) {
            true => Lang::of_locale_vars(set),
            false => crate::platform::console::display_language().map_or(Lang::En, Lang::of_locale),
        }
    }

    /// The config file's spelling of the language.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// The language a config value names (`en`, `ru`), if any.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }
}

/// The owner's language, once `main` has chosen it (English until then).
static OWNER: AtomicU8 = AtomicU8::new(0);

/// Sets the language of everything shown at the terminal from now on.
pub fn set_owner_language(lang: Lang) {
    OWNER.store(lang as u8, Ordering::Relaxed);
}

/// The language of the terminal.
pub fn owner_language() -> Lang {
    match OWNER.load(Ordering::Relaxed) {
        1 => Lang::Ru,
        _ => Lang::En,
    }
}

/// One message of the catalogue: its name (for tests), its argument names
/// in declaration order, and its two templates.
pub struct Msg {
    /// Only the catalogue test reads it: outside tests the names would be
    /// some 10 KB of the binary for nothing.
    #[cfg(test)]
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub en: &'static str,
    pub ru: &'static str,
}

impl Msg {
    pub(super) fn template(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Ru => self.ru,
        }
    }
}

/// An argument of a message: a value shown as it is (a path, a number, an
/// address, the operating system's own error text), or another message,
/// rendered in the same language as the one it is part of.
#[derive(Clone)]
pub enum Arg {
    Plain(String),
    Text(Text),
}

impl<T: fmt::Display> From<T> for Arg {
    fn from(value: T) -> Arg {
        Arg::Plain(value.to_string())
    }
}

impl From<Text> for Arg {
    fn from(text: Text) -> Arg {
        Arg::Text(text)
    }
}

impl Arg {
    fn render(&self, lang: Lang) -> String {
        match self {
            Arg::Plain(value) => value.clone(),
            Arg::Text(text) => text.in_lang(lang),
        }
    }
}

/// A message with its arguments, to be shown in a language chosen by
/// whoever shows it.
#[derive(Clone)]
pub struct Text {
    msg: &'static Msg,
    args: Vec<Arg>,
}

impl Text {
    /// Used by the functions [`catalogue!`] generates.
    pub fn new(msg: &'static Msg, args: Vec<Arg>) -> Text {
        Text { msg, args }
    }

    /// A text that reads the same in every language, not a message of the
    /// catalogue: a path, an address, a model's name, the operating
    /// system's or a peer's own words (made safe with [`outside`] first
    /// when they came from outside the process).
    pub fn verbatim(text: impl Into<Arg>) -> Text {
        static VERBATIM: Msg = Msg {
            #[cfg(test)]
            name: "verbatim",
            args: &["text"],
            en: "{text}",
            ru: "{text}",
        };
        Text::new(&VERBATIM, vec![text.into()])
    }

    /// The text in `lang`.
    pub fn in_lang(&self, lang: Lang) -> String {
        render(self.msg.template(lang), lang, &|name| {
            let index = self.msg.args.iter().position(|arg| *arg == name)?;
            Some(self.args.get(index)?.render(lang))
        })
    }

    /// The text in the owner's language, for the terminal.
    pub fn owner(&self) -> String {
        self.in_lang(owner_language())
    }

    /// The text in English, for the log file.
    pub fn english(&self) -> String {
        self.in_lang(Lang::En)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.english())
    }
}

/// Text from outside the process (the hub, Ollama, a ledger file), made
/// safe to show in a log line or at a terminal: every control character
/// (line breaks, escape sequences, bells, C1 codes) and every character
/// that reorders or breaks lines (U+2028, bidirectional overrides) becomes
/// its Rust escape (`\n`, `\u{1b}`), and a backslash is doubled, so that
/// such text can neither forge a log line nor drive a terminal. The rest
/// stays as it is, Cyrillic included. The one function for it: whatever
/// came from outside goes through here before `log::` or a terminal.
pub fn outside(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || c == '\\'
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(unsafe_char) {
        return text.to_string();
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match unsafe_char(c) {
            true => shown.extend(c.escape_debug()),
            false => shown.push(c),
        }
    }
    shown
}

/// Which of a language's plural forms goes with `count`: English has one
/// and other; Russian one (1, 21, 101), few (2-4, 22-24) and many (0, 5-20,
/// 11-14, 25...), as CLDR says.
pub fn plural_form(lang: Lang, count: u64) -> usize {
    match lang {
        Lang::En => usize::from(count != 1),
        Lang::Ru => match (count % 10, count % 100) {
            (1, n) if n != 11 => 0,
            (2..=4, n) if !(12..=14).contains(&n) => 1,
            _ => 2,
        },
    }
}

/// How many plural forms a language's templates give.
#[cfg(test)]
pub(super) fn plural_forms(lang: Lang) -> usize {
    match lang {
        Lang::En => 2,
        Lang::Ru => 3,
    }
}

/// Fills in a template (see the module comment). `arg` gives an argument's
/// rendered value by name; an unknown name is left in braces, so that a
/// mistake shows instead of vanishing (the catalogue test keeps it from
/// happening).
pub fn render(template: &str, lang: Lang, arg: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    for piece in pieces(template) {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Placeholder {
                inside,
                name,
                forms,
            } => match arg(name) {
                None => {
                    out.push('{');
                    out.push_str(inside);
                    out.push('}');
                }
                Some(value) if forms.is_empty() => out.push_str(&value),
                Some(count) => out.push_str(plural(lang, &count, &forms)),
            },
        }
    }
    out
}

/// The form for `count` among `forms`; a count that is not a whole number
/// takes the last form ("1.5 pieces").
pub(super) fn plural<'t>(lang: Lang, count: &str, forms: &[&'t str]) -> &'t str {
    let form = count.parse::<u64>().ok().map(|n| plural_form(lang, n));
    form.and_then(|form| forms.get(form))
        .or(forms.last())
        .copied()
        .unwrap_or_default()
}

/// A part of a template.
#[derive(Debug, PartialEq)]
pub(super) enum Piece<'t> {
    /// Text as it is (`{{` and `}}` already halved).
    Literal(&'t str),
    /// `{name}` or `{name|form|...}`.
    Placeholder {
        inside: &'t str,
        name: &'t str,
        forms: Vec<&'t str>,
    },
}

/// Splits a template into its parts. A lone brace is kept as text.
pub(super) fn pieces(template: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = template;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(start) = rest.find(['{', '}']) else {
            return Some(Piece::Literal(std::mem::take(&mut rest)));
        };
        if start > 0 {
            let (literal, after) = rest.split_at(start);
            rest = after;
            return Some(Piece::Literal(literal));
        }
        let closing = rest.find('}').filter(|_| rest.starts_with('{'));
        if rest.starts_with("{{") || rest.starts_with("}}") || closing.is_none() {
            let (brace, after) = rest.split_at(1);
            let doubled = after.starts_with(brace);
            rest = if doubled { &after[1..] } else { after };
            return Some(Piece::Literal(brace));
        }
        let end = closing.unwrap_or_default();
        let inside = &rest[1..end];
        rest = &rest[end + 1..];
        let mut parts = inside.split('|');
        let name = parts.next().unwrap_or_default();
        Some(Piece::Placeholder {
            inside,
            name,
            forms: parts.collect(),
        })
    })
}

/// `Display` in English for a type with a `text()`: what the log shows,
/// and what `std::error::Error` needs. The owner sees `text()` in their
/// language.
macro_rules! english_display {
    ($type:ty) => {
        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.text().english())
            }
        }
    };
}
pub(crate) use english_display;

/// Declares messages. Each entry:
///
/// ```text
/// /// What it is for (optional doc).
/// name(arg, arg) {
///     en: "English, with {arg}",
///     ru: "По-русски, с {arg}",
/// }
/// ```
///
/// becomes `pub fn name(arg: impl Into<Arg>, ...) -> Text`, and the module
/// gets `ALL`, every entry's [`Msg`], for the catalogue test.
macro_rules! catalogue {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident($($arg:ident),* $(,)?) {
            en: $en:literal,
            ru: $ru:literal $(,)?
        }
    )*) => {
        /// The [`Msg`](crate::text::Msg) of each entry, by the entry's name.
        #[allow(non_upper_case_globals)]
        mod msg {
            $(pub static $name: crate::text::Msg = crate::text::Msg {
                #[cfg(test)]
                name: stringify!($name),
                args: &[$(stringify!($arg)),*],
                en: $en,
                ru: $ru,
            };)*
        }

        /// Every entry of this part of the catalogue.
        #[cfg(test)]
        pub static ALL: &[&crate::text::Msg] = &[$(&msg::$name),*];

        $(
            $(#[doc = $doc])*
            // A message takes as many arguments as its text names (the
            // help page, eight).
            #[allow(dead_code, clippy::too_many_arguments)]
            pub fn $name($($arg: impl Into<crate::text::Arg>),*) -> crate::text::Text {
                crate::text::Text::new(&msg::$name, vec![$($arg.into()),*])
            }
        )*
    };
}
pub(crate) use catalogue;
