//! The catalogue's texts for `config`; see `text` for how entries work.

use super::catalogue;

catalogue! {}
