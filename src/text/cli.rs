//! The catalogue's texts for `cli`; see `text` for how entries work.

use super::catalogue;

catalogue! {}
