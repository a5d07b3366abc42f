//! The hub connection through an outbound HTTP proxy, for boxes that reach
//! the internet only that way. tungstenite has no proxy support of its own,
//! so this opens the tunnel itself: `CONNECT host:port` to the proxy named
//! by `HTTPS_PROXY` / `https_proxy` (or `ALL_PROXY` / `all_proxy`), unless
//! the hub's host matches `NO_PROXY` / `no_proxy`. TLS then runs inside the
//! tunnel, end to end with the hub, exactly as without a proxy.
//!
//! Only `wss://` goes through a proxy: plain `ws://` is loopback-only.
//! The proxy's password, if its URL has one, is never logged.

use std::fmt;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;

use super::endpoint::{split_host_port, Endpoint, EndpointError};
use super::wire;
use crate::address::{self, Address, Port};
use crate::deadline;
use crate::text::{errors, Text};

/// Why the tunnel through the proxy could not be opened.
#[derive(Debug)]
pub enum ProxyError {
    /// Resolving the proxy's host, connecting to it, or talking to it
    /// failed: the system's own words.
    Io(io::Error),
    /// The proxy's host name resolved to no address.
    NoAddress,
    /// The proxy answered the CONNECT with another status than 200; `line`
    /// is its status line.
    Refused { proxy: String, line: String },
    /// The proxy's answer head went on past 16 KiB.
    AnswerTooLong,
    /// The proxy closed the connection before its answer ended.
    Closed,
}

impl ProxyError {
    pub fn text(&self) -> Text {
        match self {
            ProxyError::Io(e) => Text::verbatim(e),
            ProxyError::NoAddress => errors::proxy_no_address(),
            ProxyError::Refused { proxy, line } => errors::proxy_refused_tunnel(proxy, line),
            ProxyError::AnswerTooLong => errors::proxy_answer_too_long(),
            ProxyError::Closed => errors::proxy_closed(),
        }
    }
}

crate::text::english_display!(ProxyError);

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ProxyError {
    fn from(error: io::Error) -> ProxyError {
        ProxyError::Io(error)
    }
}

/// An HTTP proxy that tunnels with CONNECT.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    host: String,
    port: u16,
    /// `Proxy-Authorization` value (`Basic ...`), from `user:pass@`.
    authorization: Option<String>,
}

/// Shows where the proxy is, never its credentials.
impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

// not prose: a URL.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

impl Proxy {
    /// The proxy the environment names for `endpoint`, if any.
    pub fn from_env(endpoint: &Endpoint) -> Option<Proxy> {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
        };
        Proxy::choose(
            endpoint,
            var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]).as_deref(),
            var(&["NO_PROXY", "no_proxy"]).as_deref(),
        )
    }

    fn choose(endpoint: &Endpoint, proxy: Option<&str>, no_proxy: Option<&str>) -> Option<Proxy> {
        if !endpoint.tls || no_proxy.is_some_and(|list| bypasses(list, &endpoint.host)) {
            return None;
        }
        Proxy::parse(proxy?)
            .inspect_err(|why| log::warn!("ignoring the proxy from the environment: {why}"))
            .ok()
    }

    /// `http://[user:pass@]host[:port][/]`; a missing scheme means http.
    fn parse(url: &str) -> Result<Proxy, String> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            None => url,
            Some(("http", rest)) => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "only http:// proxies are supported, not {scheme}://"
                ))
            }
        };
        let rest = rest.split(['/', '?']).next().unwrap_or_default();
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        // The hub URL's policy, with port 80 when none is given.
        let (host, port) = split_host_port(hostport.trim(), 80).map_err(|e| match e {
            EndpointError::Address(e) => format!("proxy URL has {e}"),
            EndpointError::NoHost => "proxy URL has no host".into(),
            EndpointError::BadPort(port) => format!("proxy URL has a bad port: {port}"),
            // (The rest are about the hub URL's scheme and user.)
            other => other.to_string(),
        })?;
        Ok(Proxy {
            host,
            port,
            // The user and password as typed in the URL, `%40` for `@`.
            authorization: userinfo.map(|u| {
                let credentials = percent_decode_str(u).decode_utf8_lossy();
                format!("Basic {}", STANDARD.encode(credentials.as_bytes()))
            }),
        })
    }

    /// Connects to the proxy and opens a tunnel to `endpoint` (CONNECT);
    /// the proxy's answer must have come within `timeout` from the
    /// connection.
    pub fn tunnel(&self, endpoint: &Endpoint, timeout: Duration) -> Result<TcpStream, ProxyError> {
        let addrs = (self.host.as_str(), self.port).to_socket_addrs()?;
        let mut socket = wire::connect(addrs, timeout).ok_or(ProxyError::NoAddress)??;
        let until = Instant::now() + timeout;
        socket.set_write_timeout(Some(timeout))?;
        let authority = endpoint.authority();
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(authorization) = &self.authorization {
            request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
        }
        request.push_str("\r\n");
        socket.write_all(request.as_bytes())?;
        let head = read_head(&mut socket, until)?;
        if head.split_whitespace().nth(1) != Some("200") {
            let line = head.lines().next().unwrap_or_default().to_string();
            let proxy = self.to_string();
            return Err(ProxyError::Refused { proxy, line });
        }
        Ok(socket)
    }
}

/// Reads the proxy's answer up to the blank line, by `until` (a proxy
/// that trickles its answer cannot hold the connection loop longer), a
/// byte at a time so that nothing of the tunnel's own traffic is swallowed.
fn read_head(socket: &mut TcpStream, until: Instant) -> Result<String, ProxyError> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(ProxyError::AnswerTooLong);
        }
        match deadline::read_before(socket, &mut byte, until)? {
            Some(0) => return Err(ProxyError::Closed),
            Some(_) => head.push(byte[0]),
            None => return Err(io::Error::from(io::ErrorKind::TimedOut).into()),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Whether `host` is listed in a `NO_PROXY` value: `*`, an exact name or
/// address, or a domain suffix (`example.com` and `.example.com` both
/// cover `hub.example.com`). Ports in entries are ignored.
fn bypasses(no_proxy: &str, host: &str) -> bool {
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.trim_start_matches("*.").trim_start_matches('.');
            let entry = match address::parse(entry) {
                Ok(Address { host, port }) if !matches!(port, Port::Bad(_)) => host,
                // A bare IPv6 address, or a port that is not one: as typed.
                _ => entry,
            };
            let entry = entry.trim_matches(['[', ']']).to_ascii_lowercase();
            host == entry || host.ends_with(&format!(".{entry}"))
        })
}

#[cfg(test)]
mod tests {

    /// The head `read_head` reads within `wait` from a socket whose other
    /// end sends `bytes`, then closes, or keeps the connection open until
    /// the head is read (`hold`).
    fn head_within(bytes: Vec<u8>, wait: Duration, hold: bool) -> Result<String, ProxyError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let sender = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let _ = socket.write_all(&bytes);
            if hold {
                let _ = finished.recv();
            }
        });
        let mut socket = TcpStream::connect(address).unwrap();
        let head = read_head(&mut socket, Instant::now() + wait);
        drop(done);
        sender.join().unwrap();
        head
    }

    /// The head from a socket whose other end sends `bytes` and closes.
    fn head_from(bytes: Vec<u8>) -> Result<String, ProxyError> {
        head_within(bytes, Duration::from_secs(10), false)
    }

    /// An answer head of `len` bytes in all.
    fn head_of(len: usize) -> Vec<u8> {
        let mut head = b"HTTP/1.1 200 OK\r\nX-Padding: ".to_vec();
        head.resize(len - 4, b'a');
        head.extend_from_slice(b"\r\n\r\n");
        head
    }

    #[test]
    fn a_proxy_answer_head_is_read_up_to_16_kib_and_refused_beyond() {
        assert_eq!(
            head_from(head_of(16 * 1024 + 1)).unwrap().len(),
            16 * 1024 + 1
        );
        let too_long = head_from(head_of(16 * 1024 + 2));
        assert!(
            matches!(too_long, Err(ProxyError::AnswerTooLong)),
            "{too_long:?}"
        );
        let cut = head_from(b"HTTP/1.1 200 OK\r\n".to_vec());
        assert!(matches!(cut, Err(ProxyError::Closed)), "{cut:?}");
    }

    #[test]
    fn a_proxy_that_does_not_finish_its_answer_in_time_is_given_up() {
        let half = b"HTTP/1.1 200 OK\r\n".to_vec();
        let half = head_within(half, Duration::from_millis(100), true);
        match half {
            Err(ProxyError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn proxy_errors_read_in_english_and_keep_the_systems_error_as_their_source() {
        use std::error::Error;
        let refused = ProxyError::Io(io::Error::new(io::ErrorKind::ConnectionRefused, "no way"));
        assert_eq!(refused.to_string(), "no way");
        assert_eq!(
            refused.source().map(|e| e.to_string()),
            Some("no way".into())
        );
        assert_eq!(
            ProxyError::Closed.to_string(),
            "the proxy closed the connection"
        );
        assert!(ProxyError::Closed.source().is_none());
        assert_eq!(
            ProxyError::AnswerTooLong.to_string(),
            "the proxy's answer is too long"
        );
    }

    use super::*;

    fn hub() -> Endpoint {
        Endpoint::parse("wss://hub.example.com:5050/auth-proxy").unwrap()
    }

    #[test]
    fn parses_proxy_urls() {
        let p = Proxy::parse("http://user:p%40ss@proxy.lan:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.lan", 3128));
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNlcjpwQHNz"));
        assert!(!format!("{p:?} {p}").contains("p@ss"));
        assert_eq!(Proxy::parse("proxy.lan").unwrap().port, 80);
        assert!(Proxy::parse("socks5://proxy:1080").is_err());
    }

    #[test]
    fn no_proxy_rules() {
        for list in [
            "*",
            "hub.example.com",
            "example.com",
            ".example.com",
            "x, example.com:443",
        ] {
            assert!(bypasses(list, "hub.example.com"), "{list}");
        }
        for list in ["ample.com", "other.com", "", "hub.example.co"] {
            assert!(!bypasses(list, "hub.example.com"), "{list}");
        }
        assert!(bypasses("127.0.0.1,::1", "::1"));
    }

    #[test]
    fn chooses_a_proxy_only_for_wss_outside_no_proxy() {
        let proxy = Some("http://proxy.lan:3128");
        assert!(Proxy::choose(&hub(), proxy, None).is_some());
        assert!(Proxy::choose(&hub(), proxy, Some("example.com")).is_none());
        assert!(Proxy::choose(&hub(), None, None).is_none());
        let plain = Endpoint::parse("ws://127.0.0.1:1/x").unwrap();
        assert!(Proxy::choose(&plain, proxy, None).is_none());
    }

    #[test]
    fn proxy_url_authority_policy() {
        let p = Proxy::parse("http://[::1]:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 3128));
        assert_eq!(Proxy::parse("proxy.lan:443/").unwrap().port, 443);
        assert_eq!(Proxy::parse("http://proxy.lan:3128?x").unwrap().port, 3128);
        for (url, error) in [
            ("proxy.lan:99999", "proxy URL has a bad port: 99999"),
            ("proxy.lan:0", "proxy URL has a bad port: 0"),
            ("http://user@:3128", "proxy URL has no host"),
            ("[::1:3128", "proxy URL has an unclosed [ in its host"),
        ] {
            assert_eq!(Proxy::parse(url).unwrap_err(), error, "{url}");
        }
        // NO_PROXY entries go through the same parser.
        assert!(bypasses("[::1]:3128", "::1"));
        assert!(!bypasses("example.com:x", "example.com"));
    }

    #[test]
    fn basic_credentials_are_standard_base64() {
        let base64 = |userinfo: &str| {
            let proxy = Proxy::parse(&format!("http://{userinfo}@proxy.lan")).unwrap();
            proxy.authorization.unwrap()["Basic ".len()..].to_string()
        };
        assert_eq!(base64(""), "");
        assert_eq!(base64("f"), "Zg==");
        assert_eq!(base64("fo"), "Zm8=");
        assert_eq!(base64("foo"), "Zm9v");
        assert_eq!(base64("foobar"), "Zm9vYmFy");
    }
}
