//! Host and port from the text forms owners type: the authority of the hub
//! URL (`--server`), of a proxy URL (`HTTPS_PROXY`, `NO_PROXY` entries) and
//! `OLLAMA_HOST`.
//!
//! Data flow: the caller cuts the scheme and the path off, [`parse`] splits
//! what is left into an [`Address`] (host without brackets, and the port as
//! typed: absent, a number or bad), and the caller applies its own policy:
//! the hub URL refuses a bad port, `OLLAMA_HOST` falls back to its default
//! one as Ollama does. The grammar is Go's `net.SplitHostPort` (which
//! Ollama uses) plus a missing port: `[v6]:port`, `[v6]`, `host:port`,
//! `host`. A bare IPv6 address (more than one colon, no brackets) is an
//! error here, because `fe80::1:443` could be either; callers that accept
//! it do so on the error. This module uses no other module but `text`, for
//! the words of its errors.

use std::fmt;

use crate::text::{cli as text, Text};

/// A host and the port typed after it, borrowed from the parsed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address<'a> {
    /// Without brackets; empty when only a port was typed (`:1234`).
    pub host: &'a str,
    pub port: Port<'a>,
}

/// The port as typed; what a missing or bad one means is the caller's
/// policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port<'a> {
    /// No `:` after the host.
    Absent,
    /// Decimal digits that fit in a port (0 included).
    Number(u16),
    /// Anything else after the `:`, including nothing.
    Bad(&'a str),
}

/// Text that is not a host and port in any of the accepted forms. Its
/// text is a phrase for the caller's message: in English it reads after
/// "... has" ("hub URL has an unclosed [ in its host").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// `[` without its `]`.
    UnclosedBracket,
    /// Something other than `:port` after the `]`.
    AfterBracket,
    /// A `[` or `]` inside a host that does not start with `[`.
    StrayBracket,
    /// More than one `:` without brackets: a bare IPv6 address, or garbage.
    TooManyColons,
}

impl AddressError {
    /// The phrase, for a message in any language.
    pub fn text(&self) -> Text {
        match self {
            AddressError::UnclosedBracket => text::address_unclosed_bracket(),
            AddressError::AfterBracket => text::address_after_bracket(),
            AddressError::StrayBracket => text::address_stray_bracket(),
            AddressError::TooManyColons => text::address_too_many_colons(),
        }
    }
}

/// In English.
impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text().english())
    }
}

impl std::error::Error for AddressError {}

/// Splits `host:port`, `host`, `[v6]:port` or `[v6]`.
pub fn parse(text: &str) -> Result<Address<'_>, AddressError> {
    match text.strip_prefix('[') {
        Some(rest) => bracketed(rest),
        None => plain(text),
    }
}

/// What follows a leading `[`: the host up to `]`, then nothing or `:port`.
fn bracketed(rest: &str) -> Result<Address<'_>, AddressError> {
    let (host, after) = rest.split_once(']').ok_or(AddressError::UnclosedBracket)?;
    if host.contains('[') {
        return Err(AddressError::StrayBracket);
    }
    let port = match after {
        "" => Port::Absent,
        _ => port(after.strip_prefix(':').ok_or(AddressError::AfterBracket)?),
    };
    Ok(Address { host, port })
}

fn plain(text: &str) -> Result<Address<'_>, AddressError> {
    let (host, port) = match text.split_once(':') {
        None => (text, Port::Absent),
        Some((_, after)) if after.contains(':') => return Err(AddressError::TooManyColons),
        Some((host, after)) => (host, port(after)),
    };
    if host.contains(['[', ']']) {
        return Err(AddressError::StrayBracket);
    }
    Ok(Address { host, port })
}

/// Digits only: `u16::from_str` would also take a sign (`+80`).
fn port(text: &str) -> Port<'_> {
    match text.parse::<u16>() {
        Ok(number) if text.bytes().all(|b| b.is_ascii_digit()) => Port::Number(number),
        _ => Port::Bad(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(host: &'static str, port: Port<'static>) -> Result<Address<'static>, AddressError> {
        Ok(Address { host, port })
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(parse("gpu-box:8080"), ok("gpu-box", Port::Number(8080)));
        assert_eq!(parse("gpu-box"), ok("gpu-box", Port::Absent));
        assert_eq!(parse("10.0.0.1:0"), ok("10.0.0.1", Port::Number(0)));
        assert_eq!(parse("[::1]:81"), ok("::1", Port::Number(81)));
        assert_eq!(parse("[fe80::1%eth0]"), ok("fe80::1%eth0", Port::Absent));
        assert_eq!(parse(":1234"), ok("", Port::Number(1234)));
        assert_eq!(parse("h:65535"), ok("h", Port::Number(65535)));
    }

    #[test]
    fn bad_ports_are_reported_as_typed() {
        assert_eq!(parse("host:99999"), ok("host", Port::Bad("99999")));
        assert_eq!(parse("host:65536"), ok("host", Port::Bad("65536")));
        assert_eq!(parse("host:x"), ok("host", Port::Bad("x")));
        assert_eq!(parse("host:+80"), ok("host", Port::Bad("+80")));
        assert_eq!(parse("host:"), ok("host", Port::Bad("")));
        assert_eq!(parse("[::1]:"), ok("::1", Port::Bad("")));
        assert_eq!(parse("[::1]:-1"), ok("::1", Port::Bad("-1")));
    }

    #[test]
    fn garbage() {
        assert_eq!(parse(""), ok("", Port::Absent));
        assert_eq!(parse(":"), ok("", Port::Bad("")));
        assert_eq!(parse("[]"), ok("", Port::Absent));
        assert_eq!(parse("[::1"), Err(AddressError::UnclosedBracket));
        assert_eq!(parse("["), Err(AddressError::UnclosedBracket));
        assert_eq!(parse("[::1]x"), Err(AddressError::AfterBracket));
        assert_eq!(parse("[::1]]:80"), Err(AddressError::AfterBracket));
        assert_eq!(parse("[a[b]"), Err(AddressError::StrayBracket));
        assert_eq!(parse("a]b:80"), Err(AddressError::StrayBracket));
        assert_eq!(parse("a:b:c"), Err(AddressError::TooManyColons));
        assert_eq!(parse("::1"), Err(AddressError::TooManyColons));
        assert_eq!(parse("fe80::1:443"), Err(AddressError::TooManyColons));
    }

    #[test]
    fn errors_read_after_has() {
        assert_eq!(
            format!("hub URL has {}", AddressError::UnclosedBracket),
            "hub URL has an unclosed [ in its host"
        );
    }

    #[test]
    fn errors_have_russian_words() {
        use crate::text::Lang;
        let all = [
            AddressError::UnclosedBracket,
            AddressError::AfterBracket,
            AddressError::StrayBracket,
            AddressError::TooManyColons,
        ];
        for error in all {
            let (en, ru) = (error.to_string(), error.text().in_lang(Lang::Ru));
            assert_eq!(en, error.text().english());
            assert!(ru.contains("имени хоста"), "{ru}");
        }
    }
}
