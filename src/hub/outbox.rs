//! The writer's queue of frames not yet written, bounded in bytes, and how
//! consecutive pieces of one answer are merged into one frame when the
//! socket is behind (the protocol allows it; pieces are never reordered).

use std::collections::{HashSet, VecDeque};

use crate::protocol::{write_frame, FrameKind, MessageId};
use crate::time;

/// One frame on its way to the hub.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Sequence number of the request this frame answers (internal): the
    /// outbox merges and drops by it.
    pub request: u64,
    pub message_id: MessageId,
    pub kind: FrameKind,
    pub content: String,
}

/// Merged pieces stop growing at this size, well below any frame limit.
const MAX_MERGED_BYTES: usize = 64 * 1024;

/// Frames not yet written, bounded in bytes. When full, the oldest
/// request's frames go first, all of them, and so do the frames that
/// request produces later: no buyer gets an answer with a hole in it.
#[derive(Default)]
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
            limit,
            ..Outbox::default()
        }
    }

    /// Queues `frame`. A piece that follows a piece of the same request
    /// joins it (up to [`MAX_MERGED_BYTES`]): while the socket is behind,
    /// a long answer waits as a few large strings rather than thousands of
    /// small ones, which the static build's allocator could not give back.
    pub fn push(&mut self, frame: Outgoing) {
        if self.dropped.contains(&frame.request) {
            if is_last_frame(&frame) {
                self.dropped.remove(&frame.request);
            }
            return;
        }
        match self.frames.back_mut() {
            Some(tail) if joins(tail, &frame) => {
                self.bytes -= frame_cost(tail);
                tail.content.push_str(&frame.content);
                self.bytes += frame_cost(tail);
            }
            _ => {
                self.bytes += frame_cost(&frame);
                self.frames.push_back(frame);
            }
        }
        while self.bytes > self.limit && self.frames.len() > 1 {
            self.drop_oldest_request();
        }
    }

    fn drop_oldest_request(&mut self) {
        let Some(front) = self.frames.front() else {
            return;
        };
        let (oldest, id) = (front.request, front.message_id.shown());
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
            "outbox full ({} bytes) while the hub is unreachable or not reading: dropped the \
             answer to request {id} ({} frame(s){})",
            self.limit,
            before - self.frames.len(),
            if finished { "" } else { ", and the rest of it" }
        );
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frames waiting.
    /// The bytes of the frames kept (what `outbox_bytes` bounds).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Renders the next frames to send as JSON text: at most `max_frames`,
    /// and no more once they hold `max_bytes` (at least one).
    pub fn next_batch(&self, max_frames: usize, max_bytes: usize) -> Vec<String> {
        let frames = self.frames.iter().take(max_frames);
        let batch = frames.scan(0, |bytes, frame| {
            let text = (*bytes < max_bytes).then(|| render(frame))?;
            *bytes += text.len();
            Some(text)
        });
        batch.collect()
    }

    pub fn pop(&mut self, count: usize) {
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

/// Whether `next` can join `tail`: consecutive pieces of one answer
/// (the protocol allows merging them; nothing is reordered).
fn joins(tail: &Outgoing, next: &Outgoing) -> bool {
    tail.kind == FrameKind::Piece
        && next.kind == FrameKind::Piece
        && tail.request == next.request
        && tail.content.len() + next.content.len() <= MAX_MERGED_BYTES
}

/// What a queued frame costs: the memory its content holds plus the fixed
/// part of the JSON around it.
pub(super) fn frame_cost(frame: &Outgoing) -> usize {
    frame.content.capacity() + 96
}

/// The frame as the hub reads it, stamped now (0 before 1970).
fn render(frame: &Outgoing) -> String {
    let now = time::now().max(0);
    write_frame(frame.kind, &frame.message_id, &frame.content, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(request: u64, kind: FrameKind, content: &str) -> Outgoing {
        let message_id = MessageId::from_raw("7").unwrap();
        Outgoing {
            request,
            message_id,
            kind,
            content: content.into(),
        }
    }

    fn contents(outbox: &Outbox) -> Vec<&str> {
        outbox.frames.iter().map(|f| f.content.as_str()).collect()
    }

    #[test]
    fn merges_consecutive_pieces_of_one_request_only() {
        let mut outbox = Outbox::new(1 << 20);
        outbox.push(frame(1, FrameKind::Piece, "a"));
        outbox.push(frame(1, FrameKind::Piece, " "));
        outbox.push(frame(2, FrameKind::Piece, "x"));
        outbox.push(frame(1, FrameKind::Piece, "b"));
        outbox.push(frame(1, FrameKind::End, ""));
        outbox.push(frame(1, FrameKind::Piece, "c"));
        assert_eq!(contents(&outbox), ["a ", "x", "b", "", "c"]);
        let batch = outbox.next_batch(10, usize::MAX);
        assert_eq!(batch.len(), 5);
        assert!(batch[0].contains("\"content\":\"a \""), "{}", batch[0]);
        let held: usize = outbox.frames.iter().map(frame_cost).sum();
        assert_eq!(outbox.bytes, held, "a merged piece is counted as it grew");
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

    #[test]
    fn merging_stops_at_64_kib() {
        // Exactly the limit merges...
        let mut outbox = Outbox::new(1 << 30);
        outbox.push(frame(1, FrameKind::Piece, &"a".repeat(40_000)));
        outbox.push(frame(1, FrameKind::Piece, &"b".repeat(25_536)));
        assert_eq!(outbox.len(), 1);
        // ...one byte more does not, and the next piece joins the new one.
        let mut outbox = Outbox::new(1 << 30);
        outbox.push(frame(1, FrameKind::Piece, &"a".repeat(40_000)));
        outbox.push(frame(1, FrameKind::Piece, &"b".repeat(25_537)));
        outbox.push(frame(1, FrameKind::Piece, "c"));
        assert_eq!(outbox.len(), 2);
        assert_eq!(outbox.frames[1].content.len(), 25_538);
    }

    #[test]
    fn the_outbox_holds_exactly_its_limit_and_always_one_frame() {
        let cost = frame_cost(&frame(1, FrameKind::Whole, "x"));
        let mut outbox = Outbox::new(2 * cost);
        outbox.push(frame(1, FrameKind::Whole, "x"));
        outbox.push(frame(2, FrameKind::Whole, "y"));
        assert_eq!(outbox.len(), 2, "exactly full is not over the limit");
        // A single frame larger than the whole outbox still waits to go.
        let mut outbox = Outbox::new(1024);
        outbox.push(frame(1, FrameKind::Whole, &"z".repeat(4096)));
        assert_eq!(outbox.len(), 1);
    }

    #[test]
    fn a_dropped_answer_stays_dropped_though_another_one_has_finished() {
        let mut outbox = Outbox::new(1024);
        outbox.push(frame(1, FrameKind::Piece, &"a".repeat(500)));
        outbox.push(frame(2, FrameKind::Whole, "done"));
        // Full: request 1 goes, unfinished; request 2's last frame must not
        // make it look finished.
        outbox.push(frame(3, FrameKind::Whole, &"c".repeat(500)));
        assert!(outbox.frames.iter().all(|f| f.request != 1));
        outbox.push(frame(1, FrameKind::Piece, "late piece"));
        outbox.push(frame(1, FrameKind::End, ""));
        assert!(outbox.frames.iter().all(|f| f.request != 1), "a hole");
    }

    #[test]
    fn popping_keeps_the_byte_count_of_what_is_left() {
        let mut outbox = Outbox::new(1 << 20);
        outbox.push(frame(1, FrameKind::Whole, &"a".repeat(300)));
        outbox.push(frame(2, FrameKind::Whole, &"b".repeat(10)));
        outbox.push(frame(3, FrameKind::Whole, &"c".repeat(20)));
        outbox.pop(1);
        assert_eq!(outbox.bytes, 10 + 20 + 2 * 96);
        outbox.pop(2);
        assert_eq!(outbox.bytes, 0);
    }

    #[test]
    fn a_batch_holds_at_most_the_frames_asked_for() {
        let mut outbox = Outbox::new(1 << 20);
        for request in 0..3 {
            outbox.push(frame(request, FrameKind::Whole, "x"));
        }
        assert_eq!(outbox.next_batch(2, usize::MAX).len(), 2);
        assert_eq!(outbox.next_batch(64, usize::MAX).len(), 3);
        // A byte limit stops the batch after the text that reaches it.
        let one = outbox.next_batch(1, usize::MAX)[0].len();
        assert_eq!(outbox.next_batch(64, one).len(), 1);
        assert_eq!(outbox.next_batch(64, one + 1).len(), 2);
        assert_eq!(outbox.next_batch(64, 1).len(), 1, "always one");
    }
}
