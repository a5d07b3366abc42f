//! Reading the client's metrics port as Prometheus would: one `GET`, and
//! the value of one sample of `/metrics`.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::answers::WAIT;

/// `GET path` on the metrics port: the status line and the body.
pub fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    (status, body.to_string())
}

/// The value of one sample (`name{labels} value`) of a `/metrics` body,
/// `None` when it has none.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    let value = metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{series}: {e}")),
    )
}
