//! Host and port from the text forms owners type: the authority of the hub
//! URL (`--server`), of a proxy URL (`HTTPS_PROXY`, `NO_PROXY` entries), and
//! the one reading of an Ollama address ([`OllamaUrl`]: `ollama_host` with
//! `ollama_port`, every entry of `ollama_hosts`, and `OLLAMA_HOST`), with
//! the form of it that may be shown ([`masked`]: a password never is).
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
use std::net::IpAddr;

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

crate::text::english_display!(AddressError);

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

// ------------------------------------------------------ an Ollama address

/// An Ollama base URL, read once: `scheme://[user:password@]host:port[/path]`.
///
/// Like `secret::Token` it has no `Display`: the form with the password is
/// [`OllamaUrl::expose`], only for sending requests (ureq turns the user
/// and password into Basic auth), and everything shown or recorded (logs,
/// metrics, the ledger, `--status`, `--check`, errors) takes
/// [`OllamaUrl::shown`] (the password masked) or [`OllamaUrl::name`]
/// (no user at all). Its `Debug` is the shown form.
#[derive(Clone, PartialEq, Eq)]
pub struct OllamaUrl {
    full: String,
    shown: String,
    /// Where the name starts in `full`: after `scheme://` and the user.
    name_at: usize,
    port: u16,
}

impl OllamaUrl {
    /// Reads an Ollama address the way Ollama reads `OLLAMA_HOST` (its
    /// envconfig.Host): quotes and spaces around it are dropped; no scheme
    /// is http on `default_port` (`ollama.com` alone is https on 443),
    /// `http://` defaults to 80 and `https://` to 443; a path is kept
    /// without its trailing `/`; a missing or bad port is the default one,
    /// text that does not split into host and port is the host as a whole
    /// (an IP address without its brackets), and no host is 127.0.0.1.
    /// Beyond Ollama: a user and password before an `@`. Refused: another
    /// scheme, a query or fragment, a character a URL may not hold, and a
    /// user part with characters that must be percent-encoded.
    pub fn parse(written: &str, default_port: u16) -> Result<OllamaUrl, UrlError> {
        let value = written.trim().trim_matches(['"', '\'']).trim();
        if !value.chars().all(is_url_char) {
            return Err(UrlError::Characters);
        }
        if value.contains(['?', '#']) {
            return Err(UrlError::QueryOrFragment);
        }
        let (scheme, rest, default_port) = match value.split_once("://") {
            None if value == "ollama.com" => ("https", "ollama.com:443", 443),
            None => ("http", value, default_port),
            Some(("http", rest)) => ("http", rest, 80),
            Some(("https", rest)) => ("https", rest, 443),
            Some(_) => return Err(UrlError::Scheme),
        };
        let (user, rest) = match rest.rsplit_once('@') {
            Some((user, _)) if user.is_empty() || !user.chars().all(is_user_char) => {
                return Err(UrlError::User)
            }
            Some((user, rest)) => (Some(user), rest),
            None => (None, rest),
        };
        let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = path.trim_end_matches('/');
        let (host, port) = ollama_host_port(hostport, default_port);
        let host = match host.is_empty() {
            true => "127.0.0.1".to_string(),
            false if host.contains(':') => format!("[{host}]"),
            false => host,
        };
        let user = user.map_or(String::new(), |user| format!("{user}@"));
        let full = format!("{scheme}://{user}{host}:{port}{path}");
        Ok(OllamaUrl {
            shown: masked(&full),
            name_at: scheme.len() + 3 + user.len(),
            full,
            port,
        })
    }

    /// `http://localhost:port`, the default address.
    pub fn localhost(port: u16) -> OllamaUrl {
        let full = format!("http://localhost:{port}");
        OllamaUrl {
            shown: full.clone(),
            name_at: "http://".len(),
            full,
            port,
        }
    }

    /// The URL with its password, for requests only: never for messages.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The URL to show or record: a password masked (`user:***@host:port`).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `host:port` and the path, without scheme or user: a backend's
    /// default name.
    pub fn name(&self) -> &str {
        &self.full[self.name_at..]
    }

    /// The host alone (IPv6 without brackets) when the address is plain
    /// http with neither user nor path, the form `ollama_host` takes next
    /// to `ollama_port`; `None` for a base URL that must stay whole.
    pub fn plain_host(&self) -> Option<&str> {
        let plain = self.name_at == "http://".len() && !self.name().contains('/');
        let host = self.name().rsplit_once(':').map(|(host, _)| host)?;
        plain.then(|| host.trim_start_matches('[').trim_end_matches(']'))
    }

    /// The port requests go to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether requests go over TLS (an Ollama behind a reverse proxy).
    pub fn uses_tls(&self) -> bool {
        self.full.starts_with("https://")
    }
}

/// The shown form, so that a stray `{:?}` cannot leak the password.
impl fmt::Debug for OllamaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// An Ollama address that [`OllamaUrl::parse`] refuses. Its text is a
/// phrase for the caller's message, in parentheses after what the key
/// takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// A space, a quote, a control character, one beyond ASCII...
    Characters,
    /// `?` or `#`: Ollama's API takes neither.
    QueryOrFragment,
    /// A scheme other than `http` and `https`.
    Scheme,
    /// An empty user, or one with a character that must be
    /// percent-encoded (`/`, `@`...).
    User,
}

impl UrlError {
    /// The phrase, for a message in any language.
    pub fn text(&self) -> Text {
        match self {
            UrlError::Characters => text::ollama_url_characters(),
            UrlError::QueryOrFragment => text::ollama_url_query(),
            UrlError::Scheme => text::ollama_url_scheme(),
            UrlError::User => text::ollama_url_user(),
        }
    }
}

/// An address as written, to show: the user part (everything between the
/// scheme and the last `@`) becomes `user:***`, or `***` when it has no
/// `:`, so that neither a password nor a token used as a user name is
/// shown. Text without an `@` is returned as it is.
pub fn masked(written: &str) -> String {
    let start = written.find("://").map_or(0, |at| at + 3);
    let Some(at) = written[start..].rfind('@').map(|at| start + at) else {
        return written.to_string();
    };
    let user = &written[start..at];
    let mask = match user.split_once(':') {
        Some((name, _)) => format!("{name}:***"),
        None => "***".to_string(),
    };
    format!("{}{mask}{}", &written[..start], &written[at..])
}

/// Ollama's policy on [`parse`] (Go's net.SplitHostPort): a missing or bad
/// port is the default one, and text that does not split (a bare IPv6
/// address, say) is the host as a whole, an IP address without brackets.
fn ollama_host_port(hostport: &str, default_port: u16) -> (String, u16) {
    let Ok(Address { host, port }) = parse(hostport) else {
        let trimmed = hostport.trim_matches(['[', ']']);
        let host = trimmed.parse::<IpAddr>().map_or(hostport, |_| trimmed);
        return (host.to_string(), default_port);
    };
    match port {
        Port::Number(port) => (host.to_string(), port),
        Port::Absent | Port::Bad(_) => (host.to_string(), default_port),
    }
}

/// RFC 3986's characters: unreserved, reserved, and `%` for escapes. No
/// space, quote, backslash or control character, none beyond ASCII.
fn is_url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// RFC 3986's userinfo: unreserved, sub-delimiters, `:` and `%` escapes.
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:%".contains(c)
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

    fn read(written: &str) -> String {
        OllamaUrl::parse(written, 11434)
            .unwrap()
            .expose()
            .to_string()
    }

    /// Ollama's reading of `OLLAMA_HOST` (envconfig.Host), which
    /// `ollama_host` and every entry of `ollama_hosts` share.
    #[test]
    fn ollama_addresses_read_as_ollama_reads_them() {
        let cases = [
            ("", "http://127.0.0.1:11434"),
            ("0.0.0.0", "http://0.0.0.0:11434"),
            ("gpu-box", "http://gpu-box:11434"),
            ("gpu-box:8080", "http://gpu-box:8080"),
            (" \"gpu:1\" ", "http://gpu:1"),
            ("'gpu'", "http://gpu:11434"),
            ("http://gpu", "http://gpu:80"),
            ("http://gpu:11434", "http://gpu:11434"),
            ("https://gpu", "https://gpu:443"),
            (
                "https://example.com/ollama",
                "https://example.com:443/ollama",
            ),
            ("http://example.com/ollama/", "http://example.com:80/ollama"),
            ("ollama.com", "https://ollama.com:443"),
            ("gpu:99999", "http://gpu:11434"),
            ("gpu:x", "http://gpu:11434"),
            (":1234", "http://127.0.0.1:1234"),
            ("::1", "http://[::1]:11434"),
            ("[::1]:5000", "http://[::1]:5000"),
            // What Go's SplitHostPort refuses is the host, on the default port.
            ("[::1", "http://[::1]:11434"),
            ("a:b:c", "http://[a:b:c]:11434"),
            (":", "http://127.0.0.1:11434"),
            ("[::1]", "http://[::1]:11434"),
        ];
        for (written, full) in cases {
            assert_eq!(read(written), full, "{written:?}");
        }
        // Without a scheme the caller's port is the default (`ollama_port`).
        let own = OllamaUrl::parse("gpu", 8080).unwrap();
        assert_eq!(own.expose(), "http://gpu:8080");
        assert_eq!(
            OllamaUrl::parse("http://gpu", 8080).unwrap().expose(),
            "http://gpu:80"
        );
    }

    #[test]
    fn a_user_and_password_are_sent_but_never_shown() {
        let url = OllamaUrl::parse("http://admin:s3cretpw@127.0.0.1:4321", 11434).unwrap();
        assert_eq!(url.expose(), "http://admin:s3cretpw@127.0.0.1:4321");
        assert_eq!(url.shown(), "http://admin:***@127.0.0.1:4321");
        assert_eq!(url.name(), "127.0.0.1:4321");
        assert_eq!(url.port(), 4321);
        assert_eq!(url.plain_host(), None);
        let plain = |written| {
            OllamaUrl::parse(written, 11434)
                .unwrap()
                .plain_host()
                .map(str::to_string)
        };
        assert_eq!(plain("gpu:1").as_deref(), Some("gpu"));
        assert_eq!(plain("http://gpu").as_deref(), Some("gpu"));
        assert_eq!(plain("[::1]:5").as_deref(), Some("::1"));
        assert_eq!(plain("https://gpu"), None);
        assert_eq!(plain("gpu/ollama"), None);
        assert_eq!(format!("{url:?}"), "http://admin:***@127.0.0.1:4321");
        let url = OllamaUrl::parse("https://t0ken@gpu/ollama/", 11434).unwrap();
        assert_eq!(url.expose(), "https://t0ken@gpu:443/ollama");
        assert_eq!(url.shown(), "https://***@gpu:443/ollama");
        assert_eq!(url.name(), "gpu:443/ollama");
        assert!(url.uses_tls());
        let url = OllamaUrl::parse("u:p%40ss@[::1]:9", 11434).unwrap();
        assert_eq!(url.expose(), "http://u:p%40ss@[::1]:9");
        assert_eq!(url.name(), "[::1]:9");
        assert!(!url.uses_tls());
        let plain = OllamaUrl::parse("gpu", 1).unwrap();
        assert_eq!((plain.shown(), plain.name()), ("http://gpu:1", "gpu:1"));
        assert_eq!(
            OllamaUrl::localhost(7),
            OllamaUrl::parse("localhost", 7).unwrap()
        );
    }

    #[test]
    fn what_the_parser_cannot_take_is_refused() {
        let cases = [
            ("http://127.0.0.1:80?x=1#frag", UrlError::QueryOrFragment),
            ("http://127.0.0.1:80/?x=1", UrlError::QueryOrFragment),
            ("gpu#1", UrlError::QueryOrFragment),
            ("ftp://gpu", UrlError::Scheme),
            ("HTTP://gpu", UrlError::Scheme),
            ("unix:///run/ollama.sock", UrlError::Scheme),
            ("gpu 1", UrlError::Characters),
            ("gpu\n1", UrlError::Characters),
            ("gpu\"1", UrlError::Characters),
            ("gpu\\1", UrlError::Characters),
            ("gpü", UrlError::Characters),
            ("http://@gpu", UrlError::User),
            ("http://a/b@gpu", UrlError::User),
            ("http://a@b@gpu", UrlError::User),
            ("http://a[b]@gpu", UrlError::User),
        ];
        for (written, error) in cases {
            assert_eq!(OllamaUrl::parse(written, 11434), Err(error), "{written:?}");
        }
    }

    #[test]
    fn refusals_are_said_in_either_language() {
        use crate::text::Lang;
        let all = [
            UrlError::Characters,
            UrlError::QueryOrFragment,
            UrlError::Scheme,
            UrlError::User,
        ];
        for error in all {
            let (en, ru) = (error.text().english(), error.text().in_lang(Lang::Ru));
            assert!(!en.is_empty() && !ru.is_empty() && en != ru, "{en}");
        }
    }

    #[test]
    fn masked_hides_whatever_precedes_the_last_at() {
        let cases = [
            (
                "http://admin:s3cretpw@127.0.0.1:9",
                "http://admin:***@127.0.0.1:9",
            ),
            ("admin:s3cretpw@gpu", "admin:***@gpu"),
            ("https://t0ken@gpu", "https://***@gpu"),
            ("http://a:pa/ss@gpu/x", "http://a:***@gpu/x"),
            ("http://a:b@c@gpu", "http://a:***@gpu"),
            ("http://gpu:11434/x", "http://gpu:11434/x"),
            ("gpu", "gpu"),
        ];
        for (written, shown) in cases {
            assert_eq!(masked(written), shown, "{written}");
        }
    }
}
