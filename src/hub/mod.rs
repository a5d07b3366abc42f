//! The hub side: one WebSocket to the marketplace hub, kept up forever.
//!
//! Data flow: `supervisor` keeps connecting (`session::connect`: TCP, or a
//! tunnel through `proxy`; TLS from `tls`; the WebSocket upgrade to the
//! `endpoint`) and runs each connection's reader loop on its own thread,
//! which hands every buyer request to a [`Requests`] (the relay implements
//! it; the hub knows nothing of how answers are made). The `writer` thread
//! sends every answer frame and the heartbeat over the same connection
//! (`link`), which `wire` makes safe to share between the two threads; its
//! `outbox` keeps frames while the hub is away. This module depends on
//! `protocol` for the frames, never on the relay.

mod endpoint;
mod gate;
mod inbox;
mod link;
mod loop_state;
mod outbox;
mod proxy;
mod session;
mod supervisor;
mod wire;
mod writer;

pub use endpoint::Endpoint;
pub use gate::{Connection, Gate};
#[cfg(test)]
pub use inbox::Inbox;
pub use inbox::{channel as writer_channel, WriterSender};
pub use loop_state::LoopState;
pub use session::{connect, ConnectError, Requests, SessionConfig};
pub use supervisor::{Backoff, Supervisor};
#[cfg(test)]
pub use writer::closes_sent;
pub use writer::{Finish, Outgoing, ToWriter, Writer};
