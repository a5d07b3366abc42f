//! The writer thread: the only sender of answer frames, and the heartbeat.
//!
//! Workers and the dispatcher send [`Outgoing`] frames over a channel; the
//! session sends each new [`Link`]. Frames wait in the [`Outbox`] until a
//! link takes them, so a generation that outlives its connection is
//! delivered, in order, after the reconnect. When the socket is behind,
//! consecutive pieces of one answer are merged into one frame (the protocol
//! allows it); pieces are never reordered.
//!
//! While connected, the thread wakes for a frame or at the next ping time;
//! while disconnected, only for a frame or a new link.

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;

use super::link::Link;
use crate::protocol::{now_millis, write_frame, FrameKind};
use crate::relay::{Finish, Outgoing, ToWriter};

/// Merged pieces stop growing at this size, well below any frame limit.
const MAX_MERGED_BYTES: usize = 64 * 1024;

/// Frames not yet written, bounded in bytes. When full, the oldest
/// request's frames go first, all of them, and so do the frames that
/// request produces later: no buyer gets an answer with a hole in it.
pub struct Outbox {
    frames: VecDeque<Outgoing>,
    bytes: usize,
    limit: usize,
    /// Requests whose frames were dropped and are still producing more.
    dropped: HashSet<u64>,
}

impl Outbox {
    pub fn new(limit: usize) -> Outbox {
        Outbox {
            frames: VecDeque::new(),
            bytes: 0,
            limit,
            dropped: HashSet::new(),
        }
    }

    pub fn push(&mut self, frame: Outgoing) {
        if self.dropped.contains(&frame.request) {
            if is_last_frame(&frame) {
                self.dropped.remove(&frame.request);
            }
            return;
        }
        self.bytes += frame_cost(&frame);
        self.frames.push_back(frame);
        while self.bytes > self.limit && self.frames.len() > 1 {
            self.drop_oldest_request();
        }
    }

    fn drop_oldest_request(&mut self) {
        let Some(front) = self.frames.front() else {
            return;
        };
        let (oldest, id) = (front.request, front.message_id.as_json().to_string());
        let before = self.frames.len();
        let finished = self
            .frames
            .iter()
            .any(|f| f.request == oldest && is_last_frame(f));
        self.frames.retain(|f| f.request != oldest);
        self.bytes = self.frames.iter().map(frame_cost).sum();
        if !finished {
            self.dropped.insert(oldest);
        }
        log::warn!(
            "outbox full ({} bytes) while the hub is unreachable: dropped the answer to \
             request {id} ({} frame(s){})",
            self.limit,
            before - self.frames.len(),
            if finished { "" } else { ", and the rest of it" }
        );
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Renders the next frames to send as JSON text, merging consecutive
    /// pieces of one request; returns the texts and, for each, how many
    /// queued frames it covers.
    fn next_batch(&self, max_frames: usize) -> Vec<(String, usize)> {
        let mut batch = Vec::new();
        let mut index = 0;
        while index < self.frames.len() && batch.len() < max_frames {
            let first = &self.frames[index];
            let mut covered = 1;
            // Built only when there is something to merge; a lone piece is
            // rendered straight from its own content.
            let mut merged: Option<String> = None;
            while let Some(next) = self.frames.get(index + covered) {
                let length = merged.as_ref().map_or(first.content.len(), String::len);
                if first.kind != FrameKind::Piece
                    || next.kind != FrameKind::Piece
                    || next.request != first.request
                    || length + next.content.len() > MAX_MERGED_BYTES
                {
                    break;
                }
                merged
                    .get_or_insert_with(|| first.content.clone())
                    .push_str(&next.content);
                covered += 1;
            }
            let content = merged.as_deref().unwrap_or(&first.content);
            batch.push((render(first, content), covered));
            index += covered;
        }
        batch
    }

    fn pop(&mut self, count: usize) {
        for frame in self.frames.drain(..count) {
            self.bytes -= frame_cost(&frame);
        }
    }
}

/// The frame that ends a request's answer.
fn is_last_frame(frame: &Outgoing) -> bool {
    matches!(
        frame.kind,
        FrameKind::End | FrameKind::Whole | FrameKind::Error { stream: false }
    )
}

fn frame_cost(frame: &Outgoing) -> usize {
    // Content plus the fixed part of the JSON around it.
    frame.content.len() + 96
}

fn render(frame: &Outgoing, content: &str) -> String {
    let mut text = String::with_capacity(content.len() + 128);
    write_frame(
        &mut text,
        frame.kind,
        &frame.message_id,
        content,
        now_millis(),
    );
    text
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
        }
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
                }
                Err(RecvTimeoutError::Timeout) => {
                    if Instant::now() >= self.next_ping {
                        self.ping();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    self.close();
                    return;
                }
            }
            if let Some(finish) = self.finishing.take() {
                if !self.outbox.is_empty() && Instant::now() < finish.deadline {
                    self.finishing = Some(finish);
                    continue;
                }
                finish.stopping.set();
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
            ToWriter::Frame(frame) => self.outbox.push(frame),
            ToWriter::Link(link) => {
                log::debug!("writer: using connection #{}", link.id);
                self.link = Some(link);
                self.next_ping = Instant::now() + self.ping_interval;
            }
            ToWriter::Finish(finish) => self.finishing = Some(finish),
        }
    }

    /// The end: close the connection with 1001 (going away) after the last
    /// frame, and say what could not be delivered.
    fn close(&mut self) {
        if !self.outbox.is_empty() {
            log::warn!(
                "shutting down with {} frame(s) the hub could not take",
                self.outbox.frames.len()
            );
        }
        if let Some(link) = self.link.take() {
            if let Err(e) = link.close(CloseCode::Away, "owner client shutting down") {
                log::debug!("closing the hub connection: {e}");
            }
        }
    }

    /// Sends queued frames while the link takes them.
    fn flush(&mut self) {
        while !self.outbox.is_empty() {
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

    fn ping(&mut self) {
        self.next_ping = Instant::now() + self.ping_interval;
        if let Some(link) = &self.link {
            if let Err(error) = link.ping() {
                self.drop_link(&error);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MessageId;

    fn frame(request: u64, kind: FrameKind, content: &str) -> Outgoing {
        let message_id = MessageId::from_raw("7").unwrap();
        Outgoing {
            request,
            message_id,
            kind,
            content: content.into(),
        }
    }

    #[test]
    fn merges_consecutive_pieces_of_one_request_only() {
        let mut outbox = Outbox::new(1 << 20);
        outbox.push(frame(1, FrameKind::Piece, "a"));
        outbox.push(frame(1, FrameKind::Piece, " "));
        outbox.push(frame(2, FrameKind::Piece, "x"));
        outbox.push(frame(1, FrameKind::Piece, "b"));
        outbox.push(frame(1, FrameKind::End, ""));
        let batch = outbox.next_batch(10);
        let covered: Vec<usize> = batch.iter().map(|(_, n)| *n).collect();
        assert_eq!(covered, [2, 1, 1, 1]);
        assert!(batch[0].0.contains("\"content\":\"a \""));
        outbox.pop(5);
        assert!(outbox.is_empty());
        assert_eq!(outbox.bytes, 0);
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_request_whole() {
        let mut outbox = Outbox::new(400);
        outbox.push(frame(1, FrameKind::Piece, "first"));
        outbox.push(frame(2, FrameKind::Piece, "second"));
        outbox.push(frame(1, FrameKind::End, ""));
        outbox.push(frame(2, FrameKind::End, ""));
        outbox.push(frame(3, FrameKind::Whole, &"x".repeat(100)));
        assert!(outbox.frames.iter().all(|f| f.request != 1));
        assert_eq!(outbox.frames.len(), 3);
    }

    #[test]
    fn later_frames_of_a_dropped_request_are_dropped_too() {
        let mut outbox = Outbox::new(1024);
        outbox.push(frame(1, FrameKind::Piece, &"a".repeat(600)));
        outbox.push(frame(2, FrameKind::Piece, "b"));
        outbox.push(frame(1, FrameKind::Piece, &"a".repeat(600)));
        assert!(outbox.frames.iter().all(|f| f.request == 2));
        outbox.push(frame(1, FrameKind::Piece, "more"));
        outbox.push(frame(1, FrameKind::End, ""));
        outbox.push(frame(2, FrameKind::End, ""));
        assert!(outbox.frames.iter().all(|f| f.request == 2));
        assert!(outbox.dropped.is_empty());
    }
}
