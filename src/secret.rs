//! The hub token and a backend's bearer key (`api_key_file`), kept in a
//! type that cannot leak by accident.
//!
//! `Token` has no `Display`, and its `Debug` prints only the mask used by
//! `--show-config` (`********` plus at most the last four characters), so a
//! stray `{:?}` in a log line, an error or a panic message shows the mask.
//! The only way to the real value is [`Token::expose`], called in exactly two
//! places: where the hub URL is built for the handshake request, and where
//! an OpenAI-compatible backend's request gets its `Authorization` header.

use std::fmt;

/// The secret that authenticates this box to the hub.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Token {
        Token(value.into())
    }

    /// The real value. Only for putting it on the wire; never for messages.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `********` plus the last four characters, or fewer when the token is
    /// short, so that a token of eight characters or less keeps at least half
    /// of itself hidden.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let shown = (chars.len() / 2).min(4);
        let tail: String = chars[chars.len() - shown..].iter().collect();
        format!("********{tail}")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_the_mask() {
        let token = Token::new("s3cr3t-token-abcd");
        assert_eq!(format!("{token:?}"), "********abcd");
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }

    #[test]
    fn short_tokens_keep_at_least_half_hidden() {
        assert_eq!(Token::new("abc").masked(), "********c");
        assert_eq!(Token::new("").masked(), "********");
        assert_eq!(Token::new("12345678").masked(), "********5678");
        assert_eq!(Token::new("жжжжщщщщ").masked(), "********щщщщ");
    }
}
