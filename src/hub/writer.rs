//! The writer thread: the only sender of answer frames, and the heartbeat.
//!
//! Workers and the dispatcher send [`Outgoing`] frames over a channel; the
//! connection loop sends each new [`Link`]. These message types live here,
//! with their only reader. Frames wait in the [`Outbox`] until a
//! link takes them, so a generation that outlives its connection is
//! delivered, in order, after the reconnect. When the socket is behind,
//! consecutive pieces of one answer are merged into one frame (the protocol
//! allows it); pieces are never reordered.
//!
//! While connected, the thread wakes for a frame or at the next ping time;
//! while disconnected, only for a frame or a new link.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;

use super::link::Link;
use super::loop_state::LoopState;
use super::outbox::Outbox;
pub use super::outbox::Outgoing;
use crate::metrics::{Metrics, Summary};

/// What the writer thread is told.
pub enum ToWriter {
    /// From the workers and the dispatcher.
    Frame(Outgoing),
    /// From the connection loop: the connection to write to from now on.
    Link(Arc<Link>),
    /// From the relay's door when the box steps back (paused, Ollama
    /// down): send what is queued, then close the connection with 1000 and
    /// this reason; frames that come later wait for the next connection.
    Close(&'static str),
    /// From shutdown: send what is queued, close the connection with 1001,
    /// then report on the channel and stop.
    Finish(Finish),
}

/// A request to the writer to deliver what it holds and stop.
pub struct Finish {
    /// Answered once the writer has stopped.
    pub done: Sender<()>,
    /// Frames still undelivered then (hub unreachable) are given up.
    pub deadline: Instant,
    /// Set just before the Close goes out, so that the connection loop does
    /// not reconnect after it; until then it does, to deliver the rest.
    pub state: LoopState,
    /// Whether undelivered frames may wait for a reconnect until the
    /// deadline. Test mode waits only for an attempt already under way: a
    /// person waits at the terminal, and a hub that failed is backing off.
    pub wait_for_reconnect: bool,
}

pub struct Writer {
    inbox: Receiver<ToWriter>,
    outbox: Outbox,
    link: Option<Arc<Link>>,
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
    pub fn new(inbox: Receiver<ToWriter>, outbox_bytes: usize, ping_interval: Duration) -> Writer {
        Writer {
            inbox,
            outbox: Outbox::new(outbox_bytes),
            link: None,
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
                    while let Ok(event) = self.inbox.try_recv() {
                        self.take(event);
                    }
                    self.flush();
                    self.report_outbox();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    self.close();
                    return;
                }
            }
            self.ping_if_due();
            if let Some(finish) = self.finishing.take() {
                // A link handed over just now counts as connected.
                while let Ok(event) = self.inbox.try_recv() {
                    self.take(event);
                }
                // After a flush, frames are left only when there is no link.
                self.flush();
                let worth_waiting = finish.wait_for_reconnect || finish.state.is_connecting();
                if !self.outbox.is_empty() && worth_waiting && Instant::now() < finish.deadline {
                    self.finishing = Some(finish);
                    continue;
                }
                finish.state.stop();
                self.close();
                let _ = finish.done.send(());
                return;
            }
        }
    }

    /// Waits for the next event: without a timeout while idle and
    /// disconnected, else until the next ping or the finish deadline.
    fn next_event(&self) -> Result<ToWriter, RecvTimeoutError> {
        let ping = self.link.as_ref().map(|_| self.next_ping);
        let deadline = self.finishing.as_ref().map(|f| f.deadline);
        match ping.into_iter().chain(deadline).min() {
            Some(at) => self
                .inbox
                .recv_timeout(at.saturating_duration_since(Instant::now())),
            None => self
                .inbox
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        }
    }

    fn take(&mut self, event: ToWriter) {
        match event {
            ToWriter::Frame(frame) if self.keep_frames => self.outbox.push(frame),
            ToWriter::Frame(_) => {}
            ToWriter::Link(link) => {
                log::debug!("writer: using connection #{}", link.id);
                self.link = Some(link);
                self.next_ping = Instant::now() + self.ping_interval;
            }
            ToWriter::Close(reason) => self.step_back(reason),
            ToWriter::Finish(finish) => self.finishing = Some(finish),
        }
    }

    /// Stepping back: the frames already queued go first, then a Close
    /// 1000. The hub answers the Close and the connection loop sees the
    /// connection end; no ping goes out meanwhile.
    fn step_back(&mut self, reason: &'static str) {
        self.flush();
        if let Some(link) = self.link.take() {
            log::debug!("writer: closing connection #{} ({reason})", link.id);
            if let Err(e) = link.close(CloseCode::Normal, reason) {
                log::debug!("closing the hub connection: {e}");
            }
        }
    }

    /// The end: close the connection with 1001 (going away) after the last
    /// frame, and say what could not be delivered.
    fn close(&mut self) {
        if !self.outbox.is_empty() {
            let why = match self.link {
                Some(_) => "the hub did not take them in time",
                None => "the hub is not connected",
            };
            log::warn!("{} answer frame(s) not delivered: {why}", self.outbox.len());
        }
        if let Some(link) = self.link.take() {
            if let Err(e) = link.close(CloseCode::Away, "owner client shutting down") {
                log::debug!("closing the hub connection: {e}");
            }
        }
    }

    /// Sends queued frames while the link takes them, with the pings that
    /// fall due meanwhile.
    fn flush(&mut self) {
        while !self.outbox.is_empty() {
            self.ping_if_due();
            let Some(link) = &self.link else { return };
            let (texts, counts): (Vec<String>, Vec<usize>) =
                self.outbox.next_batch(64).into_iter().unzip();
            let (sent, error) = link.send_texts(texts);
            let covered: usize = counts[..sent].iter().sum();
            self.outbox.pop(covered);
            if let Some(error) = error {
                self.drop_link(&error);
                return;
            }
        }
    }

    /// Pings go out on time whatever the traffic: a writer that is never
    /// idle (a steady stream, a backlog for a slow hub) must still ping, or
    /// the hub sends no pong and a live connection is declared dead.
    fn ping_if_due(&mut self) {
        if self.link.is_some() && Instant::now() >= self.next_ping {
            self.ping();
        }
    }

    fn ping(&mut self) {
        self.next_ping = Instant::now() + self.ping_interval;
        if let Some((metrics, summary)) = &self.counting {
            summary.log_if_due(metrics);
        }
        if let Some(link) = &self.link {
            if let Err(error) = link.ping() {
                self.drop_link(&error);
            }
        }
    }

    fn report_outbox(&self) {
        if let Some((metrics, _)) = &self.counting {
            metrics.set_outbox_bytes(self.outbox.bytes() as u64);
        }
    }

    /// A failed write ends the connection; the session notices, reconnects
    /// and hands over a new link. Unsent frames stay in the outbox.
    fn drop_link(&mut self, error: &tungstenite::Error) {
        if let Some(link) = self.link.take() {
            log::warn!(
                "writing to the hub failed on connection #{}: {error}",
                link.id
            );
            link.shut();
        }
    }
}

/// The Close reasons an inbox got so far, in order (for the tests of
/// those who step back through the writer).
#[cfg(test)]
pub fn closes_sent(inbox: &std::sync::mpsc::Receiver<ToWriter>) -> Vec<&'static str> {
    let closes = inbox.try_iter().filter_map(|message| match message {
        ToWriter::Close(reason) => Some(reason),
        _ => None,
    });
    closes.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;

    use tungstenite::protocol::Role;
    use tungstenite::{Message, WebSocket};

    use crate::hub::wire::Wire;
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
        let wire = Wire::new(socket.try_clone().unwrap(), None);
        let ws = WebSocket::from_raw_socket(wire, Role::Client, None);
        let keep_open = socket.try_clone().unwrap();
        let link = Arc::new(Link::new(1, ws, socket));
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
        let (to_writer, inbox) = mpsc::channel();
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
        let (_to_writer, inbox) = mpsc::channel();
        let mut writer = Writer::new(inbox, 1 << 20, Duration::from_secs(3600));
        writer.take(ToWriter::Link(link));
        writer
    }

    #[test]
    fn the_outbox_size_is_reported_while_the_hub_is_away_and_after_delivery() {
        let (_to_writer, inbox) = mpsc::channel();
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

    #[test]
    fn the_next_ping_is_a_full_interval_away() {
        let (link, _hub, _keep_open) = loopback_link();
        let mut writer = writer_on(link);
        let soon = Instant::now() + Duration::from_secs(3000);
        assert!(
            writer.next_ping > soon,
            "a new connection is not pinged at once"
        );
        writer.ping();
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
    ) -> (mpsc::Sender<ToWriter>, mpsc::Receiver<()>) {
        let (to_writer, inbox) = mpsc::channel();
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
        to_writer: &mpsc::Sender<ToWriter>,
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
    fn no_ping_goes_out_before_it_is_due() {
        let (link, hub, _keep_open) = loopback_link();
        let (to_writer, inbox) = mpsc::channel();
        to_writer.send(ToWriter::Link(link)).unwrap();
        for request in 0..100 {
            to_writer.send(whole(request)).unwrap();
        }
        drop(to_writer);
        Writer::new(inbox, 1 << 20, Duration::from_secs(3600)).run();
        assert_eq!(hub.join().unwrap(), "t".repeat(100));
    }
}
