//! The catalogue's texts for errors that several parts of the program show
//! (the hub's, Ollama's, an address's), and for buyers; see `text` for how
//! entries work.

use super::catalogue;

catalogue! {
    /// A text that reads the same in every language: a path, an address, or
    /// the operating system's own words.
    verbatim(text) {
        en: "{text}",
        ru: "{text}",
    }
}
