//! The owner's hold on a running client: `--status`, `--pause [DURATION]`
//! and `--resume` reach it through a Unix domain socket, `control.sock`,
//! beside the config file (`gpu1.control.sock` beside `gpu1.json`, and so
//! the lock: see `config::beside`, so that two configs share a folder).
//!
//! - [`server`]: the running client's side. At start it takes an exclusive
//!   lock on `control.lock` (held until the process ends), so that a
//!   second client on the same config file stops with exit 75 instead
//!   of fighting the first for the hub; the holder then replaces whatever
//!   `control.sock` a crash left and binds it (mode 0600; the client makes
//!   the directory 0700, and warns when others can write in an existing
//!   one). One thread, `control`, blocks in `accept` (no timer while
//!   idle) and serves each connection on a short-lived thread (`accept`:
//!   at most 8 at once, a new one closes the oldest): the peer must be this
//!   process's user (`SO_PEERCRED`), sends one request line of at most
//!   [`protocol::MAX_REQUEST`] bytes within [`TIMEOUT`], gets one JSON
//!   answer line, and the connection closes (another user's request is
//!   read too, so that the refusal arrives instead of a reset). A clean
//!   stop removes the socket. The state it reports and changes is
//!   `availability`'s.
//! - [`client`]: the other process, the owner's command. It asks and
//!   prints in the owner's language, and adds today's figures to
//!   `--status` from the ledger (`ledger::stats`) itself, so that the
//!   running client never reads files for it. With no client running (or
//!   one that stopped before answering), `--pause` and `--resume` change
//!   `paused.json` (`pause`) for the next start, so that a crontab line
//!   meeting a restart is not lost.
//! - [`protocol`]: the two sides' one-line JSON requests and answers.
//! - `socket`: where the socket and the lock are, the lock itself, which
//!   both sides look at, and how each side reads the other's one line
//!   (bounded in size and time).

pub mod client;
pub mod protocol;
pub mod server;
mod socket;

pub use socket::{lock_is_held, lock_path, socket_path, TIMEOUT};
