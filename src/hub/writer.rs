//! The writer thread: the only sender of answer frames, and the heartbeat.
//!
//! Workers and the dispatcher send [`Outgoing`] frames over its inbox (see
//! `inbox`, which owns the message types and the inbox's budget); the
//! connection loop sends each new [`Link`]. Frames wait in the [`Outbox`] until a
//! link takes them, so a generation that outlives its connection is
//! delivered, in order, after the reconnect. When the socket is behind,
//! consecutive pieces of one answer are merged into one frame (the protocol
//! allows it); pieces are never reordered.
//!
//! No write waits for the hub: what the socket does not take waits in the
//! link (see `link`), and the writer then waits for room in the socket
//! while it keeps moving its inbox into the outbox every [`INBOX_STEP`].
//! So nothing piles up behind a slow hub: `outbox_bytes` bounds what waits
//! for the hub (when it is full, the oldest answer is dropped whole, as
//! while the hub is away), the inbox's byte budget (see `inbox`) what
//! waits for the writer, and a socket that takes nothing for the link's
//! write timeout (`dead_after`) ends the connection. The link's lock is
//! never held while waiting, so the reader still answers the hub's pings
//! and sees its Close.
//!
//! While connected, the thread wakes for a frame or at the next ping time;
//! while disconnected, only for a frame or a new link; while the socket is
//! full, also every [`INBOX_STEP`].

use std::fmt::Display;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;

use super::inbox::Inbox;
pub use super::inbox::{Finish, ToWriter};
use super::link::{Flushed, Link, Outcome};
use super::outbox::Outbox;
pub use super::outbox::Outgoing;
use crate::metrics::{Metrics, Summary};

/// While the socket is full, how often the inbox is moved into the
/// outbox: what a generation produces meanwhile waits in the inbox, up to
/// its budget.
const INBOX_STEP: Duration = Duration::from_millis(50);

/// At most this many frames, and about this many bytes, are rendered for
/// one turn of the link's lock: a socket's worth, so that a full socket
/// wastes little rendering.
const BATCH_FRAMES: usize = 64;
const BATCH_BYTES: usize = 64 * 1024;

/// How long the Close 1001 at shutdown gets at least, when the deadline
/// for the last frames has passed.
const CLOSE_MOMENT: Duration = Duration::from_millis(250);

pub struct Writer {
    inbox: Inbox,
    outbox: Outbox,
    link: Option<Arc<Link>>,
    /// While the link holds bytes the socket has not taken: since when
    /// the socket has had no room.
    full_since: Option<Instant>,
    ping_interval: Duration,
    next_ping: Instant,
    /// Set by a finish request: the writer ends once the outbox is empty
    /// or the request's deadline has passed.
    finishing: Option<Finish>,
    /// False when there is no hub to send frames to.
    keep_frames: bool,
    /// The outbox's size for the metrics, and the periodic summary, which
    /// rides on the heartbeat (no timer of its own).
    counting: Option<(Arc<Metrics>, Summary)>,
}

impl Writer {
    pub fn new(inbox: Inbox, outbox_bytes: usize, ping_interval: Duration) -> Writer {
        Writer {
            inbox,
            outbox: Outbox::new(outbox_bytes),
            link: None,
            full_since: None,
            ping_interval,
            next_ping: Instant::now() + ping_interval,
            finishing: None,
            keep_frames: true,
            counting: None,
        }
    }

    /// Reports the outbox's size to `metrics` and, with each ping, logs
    /// the `summary` when one is due.
    pub fn counting(mut self, metrics: Arc<Metrics>, summary: Summary) -> Writer {
        self.counting = Some((metrics, summary));
        self
    }

    /// A writer for a client with no hub (test mode without a token): it
    /// drops frames at once, and has nothing to report about a hub.
    pub fn without_hub(mut self) -> Writer {
        self.keep_frames = false;
        self
    }

    /// Runs until a finish request is done (or every sender is gone).
    pub fn run(mut self) {
        loop {
            match self.next_event() {
                Ok(event) => {
                    self.take(event);
                    // Everything already queued joins this batch, so that a
                    // socket that fell behind catches up with merged frames.
                    self.take_queued();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.deliver(None, true);
                    self.close(Instant::now());
                    return;
                }
            }
            // Also sends the ping when it is due.
            self.flush();
            self.report_outbox();
            if let Some(finish) = self.finishing.take() {
                // A link handed over just now counts as connected.
                self.take_queued();
                self.flush();
                let worth_waiting = self.link.is_some()
                    || finish.wait_for_reconnect
                    || finish.state.is_connecting();
                if !self.outbox.is_empty() && worth_waiting && Instant::now() < finish.deadline {
                    self.finishing = Some(finish);
                    continue;
                }
                finish.state.stop();
                self.close(finish.deadline);
                let _ = finish.done.send(());
                return;
            }
        }
    }

    /// Waits for the next event: without a timeout while idle and
    /// disconnected, else until the next ping or the finish deadline.
    /// While the socket is full, waits for room instead, looking at the
    /// inbox every [`INBOX_STEP`] (no ping is due then: it would wait
    /// behind the rest).
    fn next_event(&mut self) -> Result<ToWriter, RecvTimeoutError> {
        let deadline = self.finishing.as_ref().map(|f| f.deadline);
        if let (Some(link), Some(since)) = (&self.link, self.full_since) {
            let now = Instant::now();
            let step = [since + link.write_timeout, now + INBOX_STEP];
            let until = step.into_iter().chain(deadline).min().unwrap_or(now);
            if link.wait_writable(until.saturating_duration_since(now)) {
                self.full_since = None;
            }
            // (Every sender gone: the flush goes on until the link is done.)
            return self.inbox.try_recv().map_err(|_| RecvTimeoutError::Timeout);
        }
        let ping = self.link.as_ref().map(|_| self.next_ping);
        self.inbox
            .recv_until(ping.into_iter().chain(deadline).min())
    }

    fn take_queued(&mut self) {
        while let Ok(event) = self.inbox.try_recv() {
            self.take(event);
        }
    }

    fn take(&mut self, event: ToWriter) {
        match event {
            ToWriter::Frame(frame) if self.keep_frames => self.outbox.push(frame),
            ToWriter::Frame(_) => {}
            ToWriter::Link(link) => {
                log::debug!("writer: using connection #{}", link.id);
                self.link = Some(link);
                self.full_since = None;
                self.next_ping = Instant::now() + self.ping_interval;
            }
            // The flush that follows every event sends them; the finish
            // check that follows it looks at the loop's state again.
            ToWriter::Unsent | ToWriter::AttemptFailed => {}
            ToWriter::Close(reason) => self.step_back(reason),
            ToWriter::Finish(finish) => self.finishing = Some(finish),
        }
    }

    /// Stepping back: the frames already queued go first, then a Close
    /// 1000. The hub answers the Close and the connection loop sees the
    /// connection end; no ping goes out meanwhile. Frames that come
    /// meanwhile wait in the inbox: the admission is closed, so they are few.
    fn step_back(&mut self, reason: &'static str) {
        self.deliver(None, true);
        if let Some(link) = self.link.clone() {
            log::debug!("writer: closing connection #{} ({reason})", link.id);
            let closed = link.close(CloseCode::Normal, reason);
            if !self.after_write(closed) {
                self.deliver(None, false);
            }
        }
        self.link = None;
        self.full_since = None;
    }

    /// The end: close the connection with 1001 (going away) after the last
    /// frame, and say what could not be delivered. The Close gets until
    /// `until` (at least [`CLOSE_MOMENT`]) to leave.
    fn close(&mut self, until: Instant) {
        if !self.outbox.is_empty() {
            let why = match self.link {
                Some(_) => "the hub did not take them in time",
                None => "the hub is not connected",
            };
            log::warn!("{} answer frame(s) not delivered: {why}", self.outbox.len());
        }
        if let Some(link) = self.link.clone() {
            log::info!(
                "closing hub connection #{} (code 1001: owner client shutting down)",
                link.id
            );
            let closed = link.close(CloseCode::Away, "owner client shutting down");
            if !self.after_write(closed) {
                self.deliver(Some(until.max(Instant::now() + CLOSE_MOMENT)), false);
            }
        }
        self.link = None;
    }

    /// Waits (without reading the inbox) until the link has written what
    /// it holds, and with `outbox` the outbox too; until `until`, or until
    /// the socket has had no room for the link's write timeout.
    fn deliver(&mut self, until: Option<Instant>, outbox: bool) {
        loop {
            match outbox {
                true => self.flush(),
                false => drop(self.flush_link()),
            }
            let (Some(link), Some(since)) = (self.link.clone(), self.full_since) else {
                return;
            };
            let give_up = since + link.write_timeout;
            let stop = until.map_or(give_up, |until| until.min(give_up));
            let now = Instant::now();
            if until.is_some_and(|until| now >= until) {
                return;
            }
            if link.wait_writable(stop.saturating_duration_since(now)) {
                self.full_since = None;
            }
        }
    }

    /// Writes what the link holds from before; true if it all went.
    fn flush_link(&mut self) -> bool {
        let flushed = self.link.as_ref().map(|link| link.flush());
        flushed.is_some_and(|flushed| self.after_write(flushed))
    }

    /// Sends what the link holds, then queued frames and the ping when it
    /// is due, until all are out or the socket is full (then the rest
    /// waits: see `next_event`).
    fn flush(&mut self) {
        if !self.flush_link() {
            return;
        }
        while let Some(link) = self.link.clone() {
            let written = if Instant::now() >= self.next_ping {
                self.ping(&link)
            } else if self.outbox.is_empty() {
                return;
            } else {
                let batch = self.outbox.next_batch(BATCH_FRAMES, BATCH_BYTES);
                let (taken, written) = link.send_texts(batch);
                self.outbox.pop(taken);
                written
            };
            if !self.after_write(written) {
                return;
            }
        }
    }

    /// Pings go out on time whatever the traffic: a writer that is never
    /// idle (a steady stream, a backlog for a slow hub) must still ping, or
    /// the hub sends no pong and a live connection is declared dead.
    fn ping(&mut self, link: &Link) -> Outcome {
        self.next_ping = Instant::now() + self.ping_interval;
        if let Some((metrics, summary)) = &self.counting {
            summary.log_if_due(metrics);
        }
        link.ping()
    }

    /// Acts on how a write ended; true if everything went out.
    fn after_write(&mut self, written: Outcome) -> bool {
        match written {
            Ok(Flushed::All) => {
                self.full_since = None;
                true
            }
            Ok(Flushed::Waiting) => {
                self.socket_full();
                false
            }
            Err(error) => {
                self.drop_link(&error);
                false
            }
        }
    }

    /// The socket took no more: the rest waits, unless the socket has
    /// had no room for the link's write timeout.
    fn socket_full(&mut self) {
        let since = *self.full_since.get_or_insert_with(Instant::now);
        let Some(link) = &self.link else { return };
        let limit = link.write_timeout;
        if since.elapsed() >= limit {
            let why = format!("the hub took nothing for {:.1} s", limit.as_secs_f64());
            self.drop_link(&why);
        }
    }

    fn report_outbox(&self) {
        if let Some((metrics, _)) = &self.counting {
            metrics.set_outbox_bytes(self.outbox.bytes() as u64);
        }
    }

    /// A failed write ends the connection; the session notices, reconnects
    /// and hands over a new link. Unsent frames stay in the outbox.
    fn drop_link(&mut self, error: &dyn Display) {
        self.full_since = None;
        if let Some(link) = self.link.take() {
            log::warn!(
                "writing to the hub failed on connection #{}: {error}",
                link.id
            );
            link.shut();
        }
    }
}

#[cfg(test)]
pub fn closes_sent(inbox: &Inbox) -> Vec<&'static str> {
    let closes = inbox.try_iter().filter_map(|message| match message {
        ToWriter::Close(reason) => Some(reason),
        _ => None,
    });
    closes.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::LoopState;
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;

    use tungstenite::protocol::Role;
    use tungstenite::{Message, WebSocket};

    use crate::hub::link::Flushed;
    use crate::hub::wire::{Socket, Wire};
    use crate::protocol::{FrameKind, MessageId};

    /// A `ws://` link over loopback TCP, and a thread on the other end that
    /// reads until the Close and returns the order of what came: `'t'` for
    /// a text frame, `'p'` for a ping. Also a handle that keeps the client's
    /// socket open: nothing reads the hub's pongs here, and closing a socket
    /// with unread data resets the connection before the hub has read all.
    fn loopback_link() -> (Arc<Link>, thread::JoinHandle<String>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_socket, _) = listener.accept().unwrap();
        let mut wire = Wire::new(Socket::new(socket.try_clone().unwrap()), None);
        wire.never_wait().unwrap();
        let ws = WebSocket::from_raw_socket(wire, Role::Client, None);
        let keep_open = socket.try_clone().unwrap();
        let link = Arc::new(Link::new(1, ws, socket, Duration::from_secs(60)));
        let hub = thread::spawn(move || {
            let mut hub = WebSocket::from_raw_socket(server_socket, Role::Server, None);
            let mut seen = String::new();
            // (The hub's pongs are not read back: in the program that is
            // the session's part.)
            loop {
                match hub.read() {
                    Ok(Message::Text(_)) => seen.push('t'),
                    Ok(Message::Ping(_)) => seen.push('p'),
                    Ok(Message::Close(_)) => return seen,
                    Err(_) => return seen,
                    Ok(_) => {}
                }
            }
        });
        (link, hub, keep_open)
    }

    fn whole(request: u64) -> ToWriter {
        ToWriter::Frame(Outgoing {
            request,
            message_id: MessageId::from_raw("7").unwrap(),
            kind: FrameKind::Whole,
            content: "an answer".into(),
        })
    }

    #[test]
    fn pings_go_out_while_a_backlog_is_written() {
        let (link, hub, _keep_open) = loopback_link();
        // Queued before the writer runs: no budget (its senders would wait).
        let (to_writer, inbox) = crate::hub::inbox::with_budget(usize::MAX);
        // A backlog that takes far longer to write than the ping interval,
        // all queued before the writer starts: it is never idle.
        to_writer.send(ToWriter::Link(link)).unwrap();
        for request in 0..20_000 {
            to_writer.send(whole(request)).unwrap();
        }
        drop(to_writer);
        Writer::new(inbox, 1 << 30, Duration::from_millis(1)).run();
        let seen = hub.join().unwrap();
        assert_eq!(seen.matches('t').count(), 20_000);
        let last_text = seen.rfind('t').unwrap();
        let pings_among_texts = seen[..last_text].matches('p').count();
        assert!(
            pings_among_texts >= 3,
            "{pings_among_texts} ping(s) during the backlog"
        );
    }

    /// A writer that pings once an hour, with `link` in use.
    fn writer_on(link: Arc<Link>) -> Writer {
        writer_with_outbox(link, 1 << 20)
    }

    fn writer_with_outbox(link: Arc<Link>, outbox_bytes: usize) -> Writer {
        let (_to_writer, inbox) = crate::hub::writer_channel();
        let mut writer = Writer::new(inbox, outbox_bytes, Duration::from_secs(3600));
        writer.take(ToWriter::Link(link));
        writer
    }

    #[test]
    fn the_outbox_size_is_reported_while_the_hub_is_away_and_after_delivery() {
        let (_to_writer, inbox) = crate::hub::writer_channel();
        let metrics = crate::metrics::Metrics::new();
        let summary = crate::metrics::Summary::new(Duration::from_secs(3600));
        let mut writer = Writer::new(inbox, 1 << 20, Duration::from_secs(3600))
            .counting(metrics.clone(), summary);
        writer.take(whole(1));
        writer.flush();
        writer.report_outbox();
        assert_eq!(metrics.outbox_bytes(), writer.outbox.bytes() as u64);
        assert!(metrics.outbox_bytes() > 0, "kept while there is no link");
        let (link, _hub, _keep_open) = loopback_link();
        writer.take(ToWriter::Link(link));
        writer.flush();
        writer.report_outbox();
        assert_eq!(metrics.outbox_bytes(), 0, "delivered");
    }

    /// A link to a hub that never reads, and the hub's end of it.
    fn link_to_a_deaf_hub(write_timeout: Duration) -> (Arc<Link>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (hub_end, _) = listener.accept().unwrap();
        let mut wire = Wire::new(Socket::new(socket.try_clone().unwrap()), None);
        wire.never_wait().unwrap();
        let ws = WebSocket::from_raw_socket(wire, Role::Client, None);
        (Arc::new(Link::new(1, ws, socket, write_timeout)), hub_end)
    }

    fn piece(request: u64, bytes: usize) -> ToWriter {
        ToWriter::Frame(Outgoing {
            request,
            message_id: MessageId::from_raw("7").unwrap(),
            kind: FrameKind::Piece,
            content: "x".repeat(bytes),
        })
    }

    /// A hub that falls behind and then catches up: the writer waits for
    /// room (within its deadline) and delivers everything.
    #[test]
    fn delivering_waits_for_a_hub_that_catches_up() {
        let (link, hub_end) = link_to_a_deaf_hub(Duration::from_secs(60));
        let mut writer = writer_with_outbox(link, 1 << 30);
        for _ in 0..200 {
            writer.take(piece(1, 60_000));
        }
        writer.flush();
        assert!(writer.full_since.is_some(), "more than the socket holds");
        // The hub starts reading only once the writer waits, and counts
        // the frames: the one the socket took only in part must not come
        // again.
        let hub = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            hub_end
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut ws = WebSocket::from_raw_socket(hub_end, Role::Server, None);
            let mut frames = 0;
            while let Ok(Message::Text(_)) = ws.read() {
                frames += 1;
                if frames == 200 {
                    // Anything more would be a frame sent twice.
                    ws.get_mut()
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                }
            }
            frames
        });
        writer.deliver(Some(Instant::now() + Duration::from_secs(30)), true);
        assert!(writer.outbox.is_empty(), "everything went out");
        assert!(writer.full_since.is_none());
        assert!(writer.link.is_some(), "the link lives on");
        assert_eq!(hub.join().unwrap(), 200, "each frame once");
    }

    /// Room on the socket is seen at once; none, only after the wait.
    #[test]
    fn a_link_waits_for_room_only_while_there_is_none() {
        let (link, _hub_end) = link_to_a_deaf_hub(Duration::from_secs(60));
        assert!(
            link.wait_writable(Duration::from_secs(10)),
            "an empty socket"
        );
        let mut writer = writer_with_outbox(Arc::clone(&link), 1 << 30);
        while writer.full_since.is_none() {
            writer.take(piece(1, 60_000));
            writer.flush();
        }
        assert!(!link.wait_writable(Duration::from_millis(50)), "a full one");
    }

    /// At the end, past the deadline for the last frames, the Close 1001
    /// still gets its moment to leave a socket that was full.
    #[test]
    fn the_last_close_gets_its_moment_after_the_deadline() {
        let (link, mut hub_end) = link_to_a_deaf_hub(Duration::from_secs(60));
        let mut writer = writer_with_outbox(link, 1 << 30);
        while writer.full_since.is_none() {
            writer.take(piece(1, 60_000));
            writer.flush();
        }
        let hub = thread::spawn(move || {
            // Catches up once the writer is at its end.
            thread::sleep(Duration::from_millis(50));
            let mut received = Vec::new();
            let _ = std::io::Read::read_to_end(&mut hub_end, &mut received);
            received
        });
        writer.close(Instant::now());
        drop(writer);
        let received = hub.join().unwrap();
        // The last frame: a masked Close with code 1001 and the reason.
        let reason = b"owner client shutting down";
        let frame = 2 + 4 + 2 + reason.len();
        let last = &received[received.len() - frame..];
        assert_eq!(last[..2], [0x88, 0x80 | (2 + reason.len() as u8)]);
        let mask = &last[2..6];
        let payload: Vec<u8> = last[6..]
            .iter()
            .zip(mask.iter().cycle())
            .map(|(b, m)| b ^ m)
            .collect();
        assert_eq!(payload[..2], 1001u16.to_be_bytes());
        assert_eq!(&payload[2..], reason);
    }

    #[test]
    fn a_hub_that_reads_nothing_holds_up_neither_the_writer_nor_the_link() {
        let (link, _hub_end) = link_to_a_deaf_hub(Duration::from_secs(60));
        let mut writer = writer_with_outbox(Arc::clone(&link), 1 << 30);
        // Far more than the socket buffers hold on loopback.
        for _ in 0..1000 {
            writer.take(piece(1, 60_000));
        }
        let (done, flushed) = mpsc::channel();
        thread::spawn(move || {
            writer.flush();
            let _ = done.send(writer);
        });
        let writer = flushed
            .recv_timeout(Duration::from_secs(10))
            .expect("the flush waits for the hub");
        assert!(writer.full_since.is_some());
        assert!(!writer.outbox.is_empty(), "the rest waits in the outbox");
        // The lock is free: the reader can feed it, answer a ping, see a Close.
        let (locked, took) = mpsc::channel();
        let reader_side = Arc::clone(&link);
        thread::spawn(move || {
            drop(reader_side.lock());
            let _ = locked.send(());
        });
        assert!(took.recv_timeout(Duration::from_secs(10)).is_ok());
        assert_eq!(
            link.close(CloseCode::Away, "bye").unwrap(),
            Flushed::Waiting
        );
    }

    #[test]
    fn a_socket_that_takes_nothing_for_the_write_timeout_ends_the_link() {
        let (link, _hub_end) = link_to_a_deaf_hub(Duration::from_millis(300));
        let mut writer = writer_with_outbox(Arc::clone(&link), 1 << 30);
        for _ in 0..1000 {
            writer.take(piece(1, 60_000));
        }
        let started = Instant::now();
        writer.deliver(None, true);
        assert!(writer.link.is_none(), "given up");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(!writer.outbox.is_empty(), "kept for the next connection");
    }

    #[test]
    fn the_next_ping_is_a_full_interval_away() {
        let (link, _hub, _keep_open) = loopback_link();
        let mut writer = writer_on(Arc::clone(&link));
        let soon = Instant::now() + Duration::from_secs(3000);
        assert!(
            writer.next_ping > soon,
            "a new connection is not pinged at once"
        );
        writer.ping(&link).unwrap();
        assert!(writer.next_ping > soon, "nor right after a ping");
    }

    #[test]
    fn a_failed_write_drops_the_link_and_keeps_the_frames() {
        let (link, _hub, _keep_open) = loopback_link();
        let mut writer = writer_on(Arc::clone(&link));
        link.shut();
        for request in 0..3 {
            writer.take(whole(request));
        }
        writer.flush();
        assert!(writer.link.is_none(), "the dead link is still in use");
        assert_eq!(writer.outbox.len(), 3);
    }

    /// Starts a writer holding one undelivered answer and already asked to
    /// finish; returns its inbox and the channel that says it is done.
    fn finishing_with_one_frame(
        wait_for_reconnect: bool,
        state: &LoopState,
    ) -> (crate::hub::WriterSender, mpsc::Receiver<()>) {
        let (to_writer, inbox) = crate::hub::writer_channel();
        let (done, finished) = mpsc::channel();
        to_writer.send(whole(1)).unwrap();
        to_writer
            .send(ToWriter::Finish(Finish {
                done,
                deadline: Instant::now() + Duration::from_secs(60),
                state: state.clone(),
                wait_for_reconnect,
            }))
            .unwrap();
        let writer = Writer::new(inbox, 1 << 20, Duration::from_secs(3600));
        thread::spawn(move || writer.run());
        (to_writer, finished)
    }

    fn assert_delivered_after_the_reconnect(
        to_writer: &crate::hub::WriterSender,
        finished: &mpsc::Receiver<()>,
    ) {
        // Still waiting for the hub (its deadline is a minute away)...
        assert!(finished.recv_timeout(Duration::from_millis(200)).is_err());
        // ...which comes back: the answer goes out, then the writer ends.
        let (link, hub, _keep_open) = loopback_link();
        to_writer.send(ToWriter::Link(link)).unwrap();
        assert!(finished.recv_timeout(Duration::from_secs(10)).is_ok());
        assert_eq!(hub.join().unwrap(), "t");
    }

    #[test]
    fn at_shutdown_undelivered_answers_wait_for_the_reconnect() {
        let state = LoopState::default();
        let (to_writer, finished) = finishing_with_one_frame(true, &state);
        assert_delivered_after_the_reconnect(&to_writer, &finished);
        assert!(state.is_stopping());
    }

    #[test]
    fn test_mode_waits_only_for_a_connection_under_way() {
        let connecting = LoopState::default();
        connecting.set_connecting(true);
        let (to_writer, finished) = finishing_with_one_frame(false, &connecting);
        assert_delivered_after_the_reconnect(&to_writer, &finished);
        // Backing off after a failure: nothing to wait for.
        let (_to_writer, finished) = finishing_with_one_frame(false, &LoopState::default());
        assert!(finished.recv_timeout(Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn test_mode_stops_waiting_when_the_attempt_under_way_fails() {
        let connecting = LoopState::default();
        connecting.set_connecting(true);
        let (to_writer, finished) = finishing_with_one_frame(false, &connecting);
        assert!(finished.recv_timeout(Duration::from_millis(200)).is_err());
        // The attempt fails: the connection loop says so, and the writer
        // gives up at once instead of at its deadline a minute away.
        connecting.set_connecting(false);
        to_writer.send(ToWriter::AttemptFailed).unwrap();
        assert!(finished.recv_timeout(Duration::from_secs(10)).is_ok());
        assert!(connecting.is_stopping());
    }

    #[test]
    fn no_ping_goes_out_before_it_is_due() {
        let (link, hub, _keep_open) = loopback_link();
        let (to_writer, inbox) = crate::hub::writer_channel();
        to_writer.send(ToWriter::Link(link)).unwrap();
        for request in 0..100 {
            to_writer.send(whole(request)).unwrap();
        }
        drop(to_writer);
        Writer::new(inbox, 1 << 20, Duration::from_secs(3600)).run();
        assert_eq!(hub.join().unwrap(), "t".repeat(100));
    }
}
