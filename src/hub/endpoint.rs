//! Where the hub is: `wss://bober.app:<port>/auth-proxy` by default, or the
//! URL given with `--server`. Knows how to print itself without the token
//! and how to build the one URL that carries it.

use std::fmt;
use std::net::IpAddr;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::address::{self, Address, AddressError, Port};
use crate::config::{DEFAULT_HUB_HOST, DEFAULT_HUB_PATH};
use crate::secret::Token;
use crate::text::{cli as text, Text};

/// Why a `--server` URL is refused. None repeats the URL: it may carry
/// the token, or be a token typed in the wrong place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointError {
    /// Neither `wss://` nor `ws://`.
    NotWebSocket,
    /// `user@` or `user:password@` before the host.
    UserInfo,
    Address(AddressError),
    NoHost,
    /// The port as typed.
    BadPort(String),
    /// `ws://` to this host, which is not a loopback one.
    PlainWebSocket(String),
}

impl EndpointError {
    /// The message, for the terminal (a usage error) or the log.
    pub fn text(&self) -> Text {
        match self {
            EndpointError::NotWebSocket => text::hub_url_not_websocket(),
            EndpointError::UserInfo => text::hub_url_user_info(),
            EndpointError::Address(problem) => text::hub_url_address(problem.text()),
            EndpointError::NoHost => text::hub_url_no_host(),
            EndpointError::BadPort(port) => text::hub_url_bad_port(port),
            EndpointError::PlainWebSocket(host) => text::hub_url_plain_ws(host),
        }
    }
}

crate::text::english_display!(EndpointError);

impl std::error::Error for EndpointError {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub tls: bool,
    /// Host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Endpoint {
    pub fn default_for_port(port: u16) -> Endpoint {
        Endpoint {
            tls: true,
            host: DEFAULT_HUB_HOST.into(),
            port,
            path: DEFAULT_HUB_PATH.into(),
        }
    }

    /// Parses a `ws://` or `wss://` URL. `ws://` is refused unless the host
    /// is a loopback address: a plain connection would show the token to
    /// everyone on the path.
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let url = url.trim();
        let (tls, rest) = match url.split_once("://") {
            Some(("wss", rest)) => (true, rest),
            Some(("ws", rest)) => (false, rest),
            _ => return Err(EndpointError::NotWebSocket),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        if authority.contains('@') {
            return Err(EndpointError::UserInfo);
        }
        let (host, port) = split_host_port(authority, if tls { 443 } else { 80 })?;
        let endpoint = Endpoint {
            tls,
            host,
            port,
            path,
        };
        if !tls && !endpoint.is_loopback() {
            return Err(EndpointError::PlainWebSocket(endpoint.host));
        }
        Ok(endpoint)
    }

    /// Takes the `token` parameters out of the URL's query and returns the
    /// last one's value, percent-decoded.
    pub fn take_token(&mut self) -> Option<String> {
        let (path, query) = self.path.split_once('?')?;
        let named_token = |parameter: &&str| parameter.split('=').next() == Some("token");
        let (tokens, kept): (Vec<&str>, Vec<&str>) = query.split('&').partition(named_token);
        let (_, value) = tokens.last()?.split_once('=').unwrap_or_default();
        let token = percent_decode_str(value).decode_utf8_lossy().into_owned();
        self.path = match kept.is_empty() {
            true => path.to_string(),
            false => format!("{path}?{}", kept.join("&")),
        };
        Some(token).filter(|t| !t.trim().is_empty())
    }

    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `host:port` for TCP connect, with brackets for IPv6.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The handshake URL, with the token percent-encoded in the query.
    /// Never log or display the result.
    pub fn url_with_token(&self, token: &Token) -> String {
        let separator = if self.path.contains('?') { '&' } else { '?' };
        let token = utf8_percent_encode(token.expose(), NOT_UNRESERVED);
        format!("{self}{separator}token={token}")
    }
}

/// Everything but RFC 3986's unreserved characters (letters, digits and
/// `-._~`) is escaped, so the token reads back the same on any server.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The URL without the token, safe for logs.
// not prose: a URL.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "wss" } else { "ws" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

/// The hub URL's policy on [`address::parse`], which the proxy URL's
/// follows too: brackets are required around IPv6, and a port that is
/// typed must be a valid one.
pub(super) fn split_host_port(
    authority: &str,
    default_port: u16,
) -> Result<(String, u16), EndpointError> {
    let Address { host, port } = address::parse(authority).map_err(EndpointError::Address)?;
    if host.is_empty() {
        return Err(EndpointError::NoHost);
    }
    let port = match port {
        Port::Absent => default_port,
        Port::Number(port) if port > 0 => port,
        Port::Number(port) => return Err(EndpointError::BadPort(port.to_string())),
        Port::Bad(p) => return Err(EndpointError::BadPort(p.to_string())),
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_in_the_url_is_taken_out() {
        let mut e = Endpoint::parse("wss://hub.example/auth-proxy?token=a%20b%26c").unwrap();
        assert_eq!(e.take_token().as_deref(), Some("a b&c"));
        assert_eq!(e.to_string(), "wss://hub.example:443/auth-proxy");
        let mut e = Endpoint::parse("wss://h/x?a=1&token=t&b=2").unwrap();
        assert_eq!(e.take_token().as_deref(), Some("t"));
        assert_eq!(e.path, "/x?a=1&b=2");
        let mut e = Endpoint::parse("wss://h/x?tokenish=1").unwrap();
        assert_eq!(e.take_token(), None);
        assert_eq!(e.path, "/x?tokenish=1");
        let mut e = Endpoint::parse("wss://h/x?token=").unwrap();
        assert_eq!(e.take_token(), None, "an empty token is no token");
        assert_eq!(e.path, "/x");
    }

    #[test]
    fn default_endpoint() {
        let e = Endpoint::default_for_port(5050);
        assert_eq!(e.to_string(), "wss://bober.app:5050/auth-proxy");
        assert_eq!(
            e.url_with_token(&Token::new("a b&c=d/é")),
            "wss://bober.app:5050/auth-proxy?token=a%20b%26c%3Dd%2F%C3%A9"
        );
    }

    #[test]
    fn parses_urls() {
        let e = Endpoint::parse("ws://127.0.0.1:9000/auth-proxy").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port), (false, "127.0.0.1", 9000));
        let e = Endpoint::parse("wss://hub.example/x?y=1").unwrap();
        assert_eq!((e.port, e.path.as_str()), (443, "/x?y=1"));
        assert_eq!(
            e.url_with_token(&Token::new("t")),
            "wss://hub.example:443/x?y=1&token=t"
        );
        let e = Endpoint::parse("ws://[::1]:81").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("::1", 81, "/"));
        assert_eq!(e.authority(), "[::1]:81");
        assert!(Endpoint::parse("ws://localhost/x").is_ok());
    }

    #[test]
    fn refuses_plain_ws_to_other_hosts_and_bad_urls() {
        assert!(Endpoint::parse("ws://example.com/auth-proxy")
            .unwrap_err()
            .to_string()
            .contains("loopback"));
        assert!(Endpoint::parse("ws://10.0.0.1/").is_err());
        assert!(Endpoint::parse("http://127.0.0.1/").is_err());
        assert!(Endpoint::parse("wss://h:0/").is_err());
        assert!(Endpoint::parse("wss://:80/").is_err());
    }

    #[test]
    fn hub_url_authority_policy() {
        assert_eq!(
            Endpoint::parse("wss://h:99999/").unwrap_err().to_string(),
            "hub URL has a bad port: 99999"
        );
        assert_eq!(
            Endpoint::parse("wss://h:/").unwrap_err().to_string(),
            "hub URL has a bad port: "
        );
        assert_eq!(
            Endpoint::parse("wss://h:0/").unwrap_err().to_string(),
            "hub URL has a bad port: 0"
        );
        assert_eq!(
            Endpoint::parse("wss://[::1/").unwrap_err().to_string(),
            "hub URL has an unclosed [ in its host"
        );
        assert!(Endpoint::parse("wss://::1/")
            .unwrap_err()
            .to_string()
            .contains("brackets"));
        assert_eq!(Endpoint::parse("wss://[::1]/").unwrap().port, 443);
    }

    #[test]
    fn url_errors_are_shown_in_russian_without_the_url() {
        use crate::text::Lang;
        let ru = |url| Endpoint::parse(url).unwrap_err().text().in_lang(Lang::Ru);
        assert_eq!(ru("wss://[::1/"), "URL хаба: незакрытая [ в имени хоста");
        assert_eq!(ru("wss://h:0/"), "в URL хаба неверный порт: 0");
        assert!(ru("ws://example.com/x").contains("а не для example.com;"));
        for url in ["s3cret", "wss://s3cret@h/", "wss:///s3cret"] {
            let error = Endpoint::parse(url).unwrap_err();
            for shown in [error.to_string(), error.text().in_lang(Lang::Ru)] {
                assert!(!shown.contains("s3cret"), "{url}: {shown}");
            }
        }
    }

    /// Every text in an error's chain: each level's Display and Debug.
    fn chain_text(error: &dyn std::error::Error) -> String {
        let mut text = String::new();
        let mut level = Some(error);
        while let Some(e) = level {
            text.push_str(&format!("{e}\n{e:?}\n"));
            level = e.source();
        }
        text
    }

    /// The handshake's errors never quote the URL that carries the token,
    /// in their text, their Debug output or their causes.
    #[test]
    fn handshake_errors_never_show_the_token() {
        use super::super::session::{handshake_error, handshake_request};
        use tungstenite::error::UrlError;
        let token = Token::new("SECRET-42");
        // A space in the path is not a valid request URI.
        let endpoint = Endpoint::parse("wss://hub.example/a b").unwrap();
        let Err(error) = handshake_request(&endpoint, &token) else {
            panic!("a space in a request URI was accepted");
        };
        assert_eq!(
            error.to_string(),
            "handshake failed: the hub URL is not a valid request URI"
        );
        let text = chain_text(&error);
        assert!(text.contains("invalid uri character"), "{text}");
        assert!(!text.contains("SECRET-42"), "{text}");
        // The one tungstenite error that quotes the URI.
        let quoting = UrlError::UnableToConnect(endpoint.url_with_token(&token));
        let error = handshake_error(tungstenite::Error::Url(quoting));
        let text = chain_text(&error);
        assert!(text.contains("Unable to connect to the hub"), "{text}");
        assert!(!text.contains("SECRET-42"), "{text}");
    }

    #[test]
    fn handshake_errors_keep_their_causes() {
        use super::super::session::{handshake_error, ConnectError};
        use std::io;
        use tungstenite::error::ProtocolError;
        let closed = handshake_error(tungstenite::Error::Protocol(
            ProtocolError::HandshakeIncomplete,
        ));
        assert_eq!(
            closed.to_string(),
            "handshake failed: the hub closed the connection during the handshake"
        );
        let cause = std::error::Error::source(&closed);
        assert!(cause.is_some_and(|e| e.is::<tungstenite::Error>()));
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(
            handshake_error(tungstenite::Error::Io(eof)).to_string(),
            closed.to_string()
        );
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        let tls = handshake_error(tungstenite::Error::Io(tls));
        assert!(matches!(
            tls,
            ConnectError::Tls(rustls::Error::DecryptError)
        ));
        assert!(tls.to_string().starts_with("TLS: "), "{tls}");
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        let reset = handshake_error(tungstenite::Error::Io(reset));
        assert!(matches!(reset, ConnectError::Tcp(_)), "{reset:?}");
        let source = std::error::Error::source(&reset);
        assert!(source.is_some_and(|e| e.is::<io::Error>()));
    }
}
