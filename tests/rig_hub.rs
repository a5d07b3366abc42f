//! Self-test of the hub emulator in `support::hub`: a tungstenite client
//! (plain and over rustls) drives every feature the client tests rely on.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error, HandshakeError, Message, WebSocket};

use support::hub::{frame_text, Hub};
use support::tls::TestCa;

/// Upper bound for anything that should happen.
const WAIT: Duration = Duration::from_secs(5);
/// How long to watch for something that should not happen.
const QUIET: Duration = Duration::from_millis(200);

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A client transport whose TCP socket we can reach to set read timeouts.
trait Socket: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Socket for TlsStream {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

fn tcp_to(hub: &Hub) -> TcpStream {
    let tcp = TcpStream::connect(("127.0.0.1", hub.port())).expect("connect to hub");
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp
}

fn handshake<S: Read + Write>(url: String, stream: S) -> Result<WebSocket<S>, Error> {
    match tungstenite::client(url, stream) {
        Ok((ws, _response)) => Ok(ws),
        Err(HandshakeError::Failure(e)) => Err(e),
        Err(HandshakeError::Interrupted(_)) => panic!("client handshake timed out"),
    }
}

/// Opens a plain client with `query` appended to the hub URL.
fn try_connect(hub: &Hub, query: &str) -> Result<WebSocket<TcpStream>, Error> {
    handshake(format!("{}{query}", hub.url()), tcp_to(hub))
}

fn connect(hub: &Hub, token: &str) -> WebSocket<TcpStream> {
    let before = hub.connections();
    let ws = try_connect(hub, &format!("?token={token}")).expect("handshake");
    assert!(
        hub.wait_connected(before + 1, WAIT),
        "hub did not register the connection"
    );
    ws
}

fn try_connect_tls(
    hub: &Hub,
    trusted: &TestCa,
    token: &str,
) -> Result<WebSocket<TlsStream>, Error> {
    let name = ServerName::try_from("localhost").unwrap();
    let tls = ClientConnection::new(trusted.client_config(), name).unwrap();
    let stream = StreamOwned::new(tls, tcp_to(hub));
    handshake(format!("{}?token={token}", hub.url()), stream)
}

/// The next message within `timeout`: `Ok(None)` if none came, `Err` if the connection ended.
fn next<S: Socket>(ws: &mut WebSocket<S>, timeout: Duration) -> Result<Option<Message>, Error> {
    ws.get_ref().tcp().set_read_timeout(Some(timeout)).unwrap();
    match ws.read() {
        Ok(message) => Ok(Some(message)),
        Err(Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn expect_message<S: Socket>(ws: &mut WebSocket<S>) -> Message {
    next(ws, WAIT)
        .expect("connection ended")
        .expect("no message within the timeout")
}

fn expect_text<S: Socket>(ws: &mut WebSocket<S>) -> String {
    match expect_message(ws) {
        Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The HTTP status a refused handshake was answered with.
fn refusal_status<S>(attempt: Result<WebSocket<S>, Error>) -> u16 {
    match attempt {
        Err(Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP error response, got {other}"),
        Ok(_) => panic!("handshake succeeded"),
    }
}

#[test]
fn accepts_the_right_token() {
    let hub = Hub::start("s3cret");
    assert!(hub.url().starts_with("ws://127.0.0.1:"));
    assert!(hub.url().ends_with(&format!(":{}/auth-proxy", hub.port())));

    let _ws = connect(&hub, "s3cret");
    assert_eq!(hub.connections(), 1);
    assert_eq!(hub.open_connections(), 1);
    assert_eq!(hub.rejected(), 0);
    assert_eq!(hub.request_uris(), ["/auth-proxy?token=s3cret"]);
}

#[test]
fn rejects_wrong_or_missing_token_with_401() {
    let hub = Hub::start("s3cret");
    for query in ["?token=wrong", "", "?other=s3cret", "?token="] {
        let status = refusal_status(try_connect(&hub, query));
        assert_eq!(status, 401, "query {query:?}");
    }
    assert!(hub.wait_rejected(4, WAIT));

    // Another path is a 404, not a token rejection.
    let url = format!("ws://127.0.0.1:{}/elsewhere?token=s3cret", hub.port());
    assert_eq!(refusal_status(handshake(url, tcp_to(&hub))), 404);

    assert_eq!(hub.rejected(), 4);
    assert_eq!(hub.connections(), 0);
    assert_eq!(hub.request_uris().len(), 5);
    assert!(!hub.wait_connected(1, QUIET));
}

#[test]
fn set_token_switches_the_accepted_token() {
    let hub = Hub::start("old");
    hub.set_token("new");
    assert_eq!(refusal_status(try_connect(&hub, "?token=old")), 401);
    let _ws = connect(&hub, "new");
    assert_eq!((hub.connections(), hub.rejected()), (1, 1));
}

#[test]
fn token_is_percent_decoded() {
    let hub = Hub::start("p@ss w+rd/é%");
    let _ws = connect(&hub, "p%40ss%20w%2Brd%2F%C3%A9%25");
    // `+` means space (form encoding), so an unencoded `+` is caught.
    let attempt = try_connect(&hub, "?token=p%40ss+w+rd/%C3%A9%25");
    assert_eq!(refusal_status(attempt), 401);
    hub.set_token("a b");
    let _ws = connect(&hub, "a+b");
    assert_eq!(
        hub.request_uris(),
        [
            "/auth-proxy?token=p%40ss%20w%2Brd%2F%C3%A9%25",
            "/auth-proxy?token=p%40ss+w+rd/%C3%A9%25",
            "/auth-proxy?token=a+b",
        ]
    );
}

#[test]
fn tls_client_trusting_the_ca_connects() {
    let ca = TestCa::new("hub");
    let hub = Hub::start_tls("tok", &ca);
    assert_eq!(
        hub.url(),
        format!("wss://localhost:{}/auth-proxy", hub.port())
    );

    let mut ws = try_connect_tls(&hub, &ca, "tok").expect("TLS handshake");
    assert!(hub.wait_connected(1, WAIT));
    ws.send(Message::text(r#"{"type":"from_owner","messageId":1}"#))
        .unwrap();
    hub.send_json(&json!({"type": "buyer_message", "messageId": 1}));
    assert_eq!(
        expect_text(&mut ws),
        r#"{"messageId":1,"type":"buyer_message"}"#
    );
    let got = hub.wait_for(WAIT, |r| !r.is_empty());
    assert_eq!(got[0].json["type"], "from_owner");

    // Pings and raw frames go through TLS as well.
    hub.send_raw(&frame_text(b"raw over tls"));
    assert_eq!(expect_text(&mut ws), "raw over tls");
    ws.send(Message::Ping("p".into())).unwrap();
    assert!(matches!(expect_message(&mut ws), Message::Pong(_)));
    assert!(hub.wait_pings(1, WAIT));

    // Wrong token over TLS is still a 401.
    assert_eq!(refusal_status(try_connect_tls(&hub, &ca, "bad")), 401);

    // A hub-side close ends TLS cleanly (close_notify), not with a bare EOF.
    hub.close_connection();
    assert!(matches!(expect_message(&mut ws), Message::Close(Some(_))));
    assert!(matches!(next(&mut ws, WAIT), Err(Error::ConnectionClosed)));
}

#[test]
fn tls_client_trusting_another_ca_is_refused() {
    let ca = TestCa::new("hub");
    let other = TestCa::new("other");
    assert_ne!(ca.cert_pem(), other.cert_pem());
    let hub = Hub::start_tls("tok", &ca);

    match try_connect_tls(&hub, &other, "tok") {
        Err(Error::Io(e)) => assert!(e.to_string().contains("UnknownIssuer"), "{e}"),
        Err(e) => panic!("expected a certificate error, got {e}"),
        Ok(_) => panic!("handshake with an untrusted CA succeeded"),
    }
    assert_eq!(hub.connections(), 0);
    assert!(hub.request_uris().is_empty());
}

#[test]
fn write_pem_names_the_file_after_the_ca() {
    let ca = TestCa::new("rig-selftest");
    let dir = std::env::temp_dir().join(format!("rig-hub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = ca.write_pem(&dir);
    assert_eq!(path, dir.join("rig-selftest-ca.pem"));
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(pem, ca.cert_pem());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn records_client_text_frames_in_order() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    let before = Instant::now();
    for text in [r#"{"type":"a","n":1}"#, "not json", r#"{"type":"b"}"#] {
        ws.send(Message::text(text)).unwrap();
    }
    ws.send(Message::binary(vec![1, 2, 3])).unwrap();
    ws.send(Message::text("last")).unwrap();

    let got = hub.wait_for(WAIT, |r| r.len() == 4);
    let texts: Vec<&str> = got.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            r#"{"type":"a","n":1}"#,
            "not json",
            r#"{"type":"b"}"#,
            "last"
        ]
    );
    assert_eq!(got[0].json, json!({"type": "a", "n": 1}));
    assert_eq!(got[1].json, Value::Null);
    assert!(got.iter().all(|r| r.conn == 0 && r.at >= before));
    assert!(got.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(hub.binaries(), 1);
}

#[test]
fn accepts_a_frame_bigger_than_tungstenite_default_limits() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    let big = "x".repeat(17 << 20);
    ws.send(Message::text(big.as_str())).unwrap();
    let got = hub.wait_for(WAIT, |r| !r.is_empty());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text.len(), big.len());
}

#[test]
fn sends_text_json_binary_and_raw_frames() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");

    hub.send_text("hello");
    hub.send_json(&json!({"type": "system"}));
    hub.send_binary(&[0xde, 0xad]);
    assert_eq!(expect_text(&mut ws), "hello");
    assert_eq!(expect_text(&mut ws), r#"{"type":"system"}"#);
    assert_eq!(expect_message(&mut ws), Message::binary(vec![0xde, 0xad]));

    // 7-bit, 16-bit and 64-bit length encodings.
    for len in [5, 200, 70_000] {
        let payload = "y".repeat(len);
        hub.send_raw(&frame_text(payload.as_bytes()));
        assert_eq!(expect_text(&mut ws), payload);
    }
}

#[test]
fn frame_text_uses_the_shortest_length_encoding() {
    let header = |len: usize| {
        let frame = frame_text(&vec![b'z'; len]);
        assert!(frame[frame.len() - len..].iter().all(|&b| b == b'z'));
        frame[..frame.len() - len].to_vec()
    };
    assert_eq!(header(0), [0x81, 0]);
    assert_eq!(header(125), [0x81, 125]);
    assert_eq!(header(126), [0x81, 126, 0, 126]);
    assert_eq!(header(65_535), [0x81, 126, 0xff, 0xff]);
    assert_eq!(header(65_536), [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
}

#[test]
fn counts_pings_and_pongs() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");

    hub.send_ping(b"hub ping");
    assert_eq!(expect_message(&mut ws), Message::Ping("hub ping".into()));
    ws.flush().unwrap(); // sends tungstenite's queued pong
    assert!(hub.wait_pongs(1, WAIT));

    ws.send(Message::Ping("client ping".into())).unwrap();
    assert_eq!(expect_message(&mut ws), Message::Pong("client ping".into()));
    assert!(hub.wait_pings(1, WAIT));
    assert_eq!((hub.pings(), hub.pongs()), (1, 1));
}

#[test]
fn close_connection_sends_close_1000() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    hub.close_connection();
    match expect_message(&mut ws) {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected Close(1000), got {other:?}"),
    }
    // Reading on sends our Close reply; the hub then ends the TCP connection.
    assert!(matches!(next(&mut ws, WAIT), Err(Error::ConnectionClosed)));
    assert_eq!(hub.close_frames(), [Some(1000)]);
    assert_eq!(hub.open_connections(), 0);
}

#[test]
fn records_close_codes_from_the_client() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    ws.close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "shutting down".into(),
    }))
    .unwrap();
    assert!(hub.wait_close_frames(1, WAIT));
    assert_eq!(hub.close_frames(), [Some(1001)]);
    assert!(matches!(expect_message(&mut ws), Message::Close(Some(_))));
}

#[test]
#[should_panic(expected = "no live connection")]
fn sending_without_a_live_connection_panics() {
    let hub = Hub::start("t");
    hub.send_text("nobody is listening");
}

#[test]
fn drop_connection_ends_tcp_without_close_frame() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    hub.drop_connection();
    assert_eq!(hub.open_connections(), 0);
    match next(&mut ws, WAIT) {
        Err(Error::Protocol(_) | Error::Io(_)) => {}
        other => panic!("expected an abrupt end, got {other:?}"),
    }
    assert!(hub.close_frames().is_empty());
}

#[test]
fn sends_go_to_the_latest_connection_after_a_reconnect() {
    let hub = Hub::start("t");
    let mut first = connect(&hub, "t");
    first.send(Message::text("one")).unwrap();
    hub.wait_for(WAIT, |r| r.len() == 1);
    hub.drop_connection();
    assert!(next(&mut first, WAIT).is_err());

    let mut second = connect(&hub, "t");
    assert!(hub.wait_connected(2, WAIT));
    second.send(Message::text("two")).unwrap();
    hub.send_text("for the second");
    assert_eq!(expect_text(&mut second), "for the second");
    let got = hub.wait_for(WAIT, |r| r.len() == 2);
    let conns: Vec<usize> = got.iter().map(|r| r.conn).collect();
    assert_eq!(conns, [0, 1]);
}

#[test]
fn stall_goes_silent_until_resumed() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    hub.stall(true);

    ws.send(Message::Ping("anyone?".into())).unwrap();
    ws.send(Message::text("during stall")).unwrap();
    hub.send_text("queued during stall");
    assert!(
        next(&mut ws, QUIET).unwrap().is_none(),
        "hub wrote while stalled"
    );
    assert_eq!(hub.pings(), 0);
    assert!(hub.received().is_empty());
    assert_eq!(hub.open_connections(), 1);

    hub.stall(false);
    let mut got = vec![expect_message(&mut ws), expect_message(&mut ws)];
    got.sort_by_key(|m| matches!(m, Message::Pong(_)));
    assert_eq!(
        got,
        [
            Message::text("queued during stall"),
            Message::Pong("anyone?".into())
        ]
    );
    assert_eq!(
        hub.wait_for(WAIT, |r| !r.is_empty())[0].text,
        "during stall"
    );
    assert_eq!(hub.pings(), 1);
}

#[test]
fn deaf_sends_but_reads_nothing_and_keeps_a_closed_connection() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    hub.deaf(true);
    ws.send(Message::text("unheard")).unwrap();
    hub.send_text("still talking");
    assert_eq!(expect_text(&mut ws), "still talking");
    assert!(hub.wait_for(QUIET, |r| !r.is_empty()).is_empty());
    hub.deaf(false);
    assert_eq!(hub.wait_for(WAIT, |r| !r.is_empty())[0].text, "unheard");
    hub.deaf(true);
    hub.close_connection();
    assert!(matches!(expect_message(&mut ws), Message::Close(_)));
    // The Close's grace passes; the socket stays open, unread.
    assert!(next(&mut ws, Duration::from_millis(1500)).is_ok_and(|m| m.is_none()));
    assert_eq!(hub.open_connections(), 1);
    assert!(hub.close_frames().is_empty());
}

#[test]
fn wait_for_returns_the_snapshot_at_timeout() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    ws.send(Message::text("only one")).unwrap();
    hub.wait_for(WAIT, |r| r.len() == 1);

    let started = Instant::now();
    let got = hub.wait_for(QUIET, |r| r.len() >= 2);
    let waited = started.elapsed();
    assert!(waited >= QUIET && waited < WAIT, "waited {waited:?}");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "only one");
}

#[test]
fn drop_stops_everything_promptly_even_while_stalled() {
    let hub = Hub::start("t");
    let mut ws = connect(&hub, "t");
    let port = hub.port();
    hub.stall(true);

    let started = Instant::now();
    drop(hub);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(
        next(&mut ws, WAIT).is_err(),
        "connection still open after drop"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening"
    );
}
