//! The catalogue's texts for `check`; see `text` for how entries work.

use super::catalogue;

catalogue! {}
