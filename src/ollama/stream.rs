//! What a backend's streamed answer says, line by line: Ollama's NDJSON
//! ([`NdJson`]) or an OpenAI-compatible server's Server-Sent Events
//! ([`Sse`]). `client` reads the lines (bounded, under the watchdog) and
//! hands each to the stream's [`Decoder`], which passes the buyer's
//! pieces on and says when the answer is over; at the end it gives the
//! answer's figures ([`Stats`]).
//!
//! The Server-Sent Events are read as local servers really send them
//! (`shared/openai-api.md`): `data:` with or without a space; comment
//! lines (`:`, keep-alives during a long prompt) and other fields skipped;
//! a first chunk with only a `role`; chunks with no `choices` (the usage
//! chunk); an error object inside the 200 stream. The answer is whole at
//! `data: [DONE]`, or at a `finish_reason` when `[DONE]` never comes: the
//! client then reads on for a moment only, for a usage chunk (see
//! [`Progress::Finished`]). Each `delta.content` is one piece, byte for
//! byte; reasoning text (`reasoning_content`, `reasoning`) only when the
//! owner asks for it. The figures come from the usage chunk, else
//! llama.cpp's `timings`, else the pieces counted here (the ledger's
//! `tokens_source`); a usage of all zeros (LocalAI) is not trusted.

use serde::Deserialize;
use serde_json::Value;

/// Where an OpenAI-compatible answer's token counts came from (the
/// ledger's `tokens_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokensSource {
    /// The server's usage chunk.
    Usage,
    /// llama.cpp's `timings`.
    Timings,
    /// This client's count of the pieces.
    Counted,
}

impl TokensSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokensSource::Usage => "usage",
            TokensSource::Timings => "timings",
            TokensSource::Counted => "counted",
        }
    }
}

/// A backend's figures for a finished answer (Ollama's, read from its final
/// line, or an OpenAI-compatible server's, see `stream`); a missing one is
/// `None`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub eval_count: Option<u64>,
    #[serde(rename = "eval_duration")]
    pub eval_duration_ns: Option<u64>,
    /// Tokens of the prompt Ollama read.
    pub prompt_eval_count: Option<u64>,
    /// Time Ollama spent loading the model.
    #[serde(rename = "load_duration")]
    pub load_duration_ns: Option<u64>,
    /// An OpenAI-compatible answer's: where its counts came from.
    #[serde(skip)]
    pub tokens_source: Option<TokensSource>,
}

impl Stats {
    /// Ollama's time generating, in milliseconds to the microsecond.
    pub fn eval_ms(&self) -> Option<f64> {
        self.eval_duration_ns.map(|ns| (ns / 1000) as f64 / 1000.0)
    }

    /// Ollama's time loading the model, in whole milliseconds.
    pub fn load_ms(&self) -> Option<u64> {
        self.load_duration_ns.map(|ns| ns / 1_000_000)
    }

    pub fn tokens_per_second(&self) -> Option<f64> {
        match (self.eval_count, self.eval_duration_ns) {
            (Some(count), Some(ns)) if ns > 0 => Some(count as f64 * 1e9 / ns as f64),
            _ => None,
        }
    }
}

/// What is wrong with a line (the client makes it an `OllamaError`).
#[derive(Debug)]
pub enum StreamError {
    /// Not the JSON the server always sends.
    BadLine(serde_json::Error),
    /// An error the server reported inside its 200 stream, in its words.
    InStream(String),
}

/// How far an answer has come after a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More is coming.
    Going,
    /// The model has finished (an OpenAI `finish_reason`): the buyer's
    /// answer is whole, though a usage chunk and `[DONE]` may follow.
    Finished,
    /// The stream's own end (Ollama's `done` line, `[DONE]`): nothing of
    /// this answer follows.
    Done,
}

/// One kind of stream.
pub trait Decoder {
    /// Reads one line (its newline included, if any), giving each piece
    /// for the buyer to `on_piece`.
    fn line(
        &mut self,
        raw: &[u8],
        on_piece: &mut dyn FnMut(String),
    ) -> Result<Progress, StreamError>;

    /// The answer's figures, once it is over.
    fn stats(&mut self) -> Stats;
}

// ------------------------------------------------------------ Ollama

/// Ollama's `/api/generate`: one JSON object a line, the last with `done`.
#[derive(Default)]
pub struct NdJson {
    stats: Stats,
}

/// One NDJSON line; fields this client does not use (`context`,
/// `thinking`) are skipped by serde, and a missing one is `None` (`done`:
/// false). The figures of the last line are read from it again as
/// [`Stats`], once per answer.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Line {
    response: Option<String>,
    done: bool,
    error: Option<String>,
}

impl Decoder for NdJson {
    fn line(
        &mut self,
        raw: &[u8],
        on_piece: &mut dyn FnMut(String),
    ) -> Result<Progress, StreamError> {
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(Progress::Going);
        }
        let line: Line = serde_json::from_slice(raw).map_err(StreamError::BadLine)?;
        if let Some(message) = line.error {
            return Err(StreamError::InStream(message));
        }
        if let Some(piece) = line.response.filter(|p| !p.is_empty()) {
            on_piece(piece);
        }
        if !line.done {
            return Ok(Progress::Going);
        }
        self.stats = serde_json::from_slice(raw).map_err(StreamError::BadLine)?;
        Ok(Progress::Done)
    }

    fn stats(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }
}

// ------------------------------------------------- OpenAI-compatible

/// `/v1/chat/completions` with `stream: true`.
#[derive(Default)]
pub struct Sse {
    /// Relay `reasoning_content` / `reasoning` too.
    pub send_reasoning: bool,
    /// Content pieces passed on: the figure of last resort.
    pieces: u64,
    usage: Option<Usage>,
    timings: Option<Timings>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Chunk {
    choices: Vec<Choice>,
    usage: Option<Usage>,
    timings: Option<Timings>,
    error: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Choice {
    /// Which answer, when an owner's `n` asks for several: the first is
    /// the buyer's.
    index: u64,
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Delta {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// llama.cpp's figures on its last chunk. The prompt's tokens are those
/// it read (`prompt_n`) and those it found in its cache (`cache_n`).
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default)]
struct Timings {
    cache_n: Option<u64>,
    prompt_n: Option<u64>,
    predicted_n: Option<u64>,
    predicted_ms: Option<f64>,
}

impl Sse {
    pub fn new(send_reasoning: bool) -> Sse {
        Sse {
            send_reasoning,
            ..Sse::default()
        }
    }

    fn chunk(
        &mut self,
        chunk: Chunk,
        on_piece: &mut dyn FnMut(String),
    ) -> Result<Progress, StreamError> {
        if let Some(error) = chunk.error {
            return Err(StreamError::InStream(error_message(&error)));
        }
        // A server that reports all zeros did not count (LocalAI).
        let counted = |u: &Usage| u.prompt_tokens.unwrap_or(0) + u.completion_tokens.unwrap_or(0);
        if let Some(usage) = chunk.usage.filter(|u| counted(u) > 0) {
            self.usage = Some(usage);
        }
        if let Some(timings) = chunk.timings {
            self.timings = Some(timings);
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return Ok(Progress::Going);
        };
        let delta = choice.delta;
        if self.send_reasoning {
            let reasoning = delta.reasoning_content.or(delta.reasoning);
            if let Some(piece) = reasoning.filter(|p| !p.is_empty()) {
                on_piece(piece);
            }
        }
        if let Some(piece) = delta.content.filter(|p| !p.is_empty()) {
            self.pieces += 1;
            on_piece(piece);
        }
        Ok(match choice.finish_reason {
            Some(_) => Progress::Finished,
            None => Progress::Going,
        })
    }
}

impl Decoder for Sse {
    fn line(
        &mut self,
        raw: &[u8],
        on_piece: &mut dyn FnMut(String),
    ) -> Result<Progress, StreamError> {
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Blank lines end events, comments keep the connection alive, and
        // `event:`, `id:` and `retry:` say nothing this client uses.
        let Some(data) = line.strip_prefix(b"data:") else {
            return Ok(Progress::Going);
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if data == b"[DONE]" {
            return Ok(Progress::Done);
        }
        let chunk: Chunk = serde_json::from_slice(data).map_err(StreamError::BadLine)?;
        self.chunk(chunk, on_piece)
    }

    fn stats(&mut self) -> Stats {
        let usage = self.usage.unwrap_or_default();
        let timings = self.timings.unwrap_or_default();
        let (tokens, source) = match (usage.completion_tokens, timings.predicted_n) {
            (Some(tokens), _) => (tokens, TokensSource::Usage),
            (None, Some(tokens)) => (tokens, TokensSource::Timings),
            (None, None) => (self.pieces, TokensSource::Counted),
        };
        Stats {
            eval_count: Some(tokens),
            // The speed is llama.cpp's, for the tokens it counted.
            eval_duration_ns: timings
                .predicted_ms
                .filter(|_| timings.predicted_n == Some(tokens))
                .map(|ms| (ms * 1e6) as u64),
            prompt_eval_count: usage.prompt_tokens.or(timings
                .prompt_n
                .map(|read| read + timings.cache_n.unwrap_or(0))),
            load_duration_ns: None,
            tokens_source: Some(source),
        }
    }
}

/// An error object's words: `{"message": ...}` (OpenAI, vLLM, LM Studio),
/// or a bare string.
pub fn error_message(error: &Value) -> String {
    match error {
        Value::String(message) => message.clone(),
        Value::Object(object) => match object.get("message") {
            Some(Value::String(message)) => message.clone(),
            _ => error.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `text` through `decoder`: the pieces, and the
    /// progress after each line.
    fn decode(decoder: &mut dyn Decoder, text: &str) -> (Vec<String>, Vec<Progress>) {
        let mut pieces = Vec::new();
        let mut progress = Vec::new();
        for line in text.split_inclusive('\n') {
            let said = decoder.line(line.as_bytes(), &mut |p| pieces.push(p));
            progress.push(said.unwrap_or_else(|e| panic!("{line:?}: {e:?}")));
        }
        (pieces, progress)
    }

    #[test]
    fn llama_server_stream_with_usage_and_timings() {
        let text = concat!(
            "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}],\"object\":\"chat.completion.chunk\"}\n",
            "\n",
            ": keep-alive\n",
            "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data:{\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{\"content\":\"lo \\u003c\\n\"}}]}\r\n",
            "\r\n",
            "data: {\"choices\":[{\"finish_reason\":\"length\",\"index\":0,\"delta\":{}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"completion_tokens\":2,\"prompt_tokens\":9,\"total_tokens\":11},\"timings\":{\"prompt_n\":9,\"predicted_n\":2,\"predicted_ms\":4.0}}\n\n",
            "data: [DONE]\n",
        );
        let mut sse = Sse::new(false);
        let (pieces, progress) = decode(&mut sse, text);
        assert_eq!(pieces, ["Hel", "lo <\n"]);
        use Progress::*;
        let ends: Vec<&Progress> = progress.iter().filter(|p| **p != Going).collect();
        assert_eq!(ends, [&Finished, &Done]);
        let stats = sse.stats();
        assert_eq!(stats.eval_count, Some(2));
        assert_eq!(stats.prompt_eval_count, Some(9));
        assert_eq!(stats.tokens_per_second(), Some(500.0));
        assert_eq!(stats.tokens_source, Some(TokensSource::Usage));
    }

    #[test]
    fn figures_come_from_usage_else_timings_else_the_count() {
        let chunk = |content: &str| {
            format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}}}}]}}\n")
        };
        let pieces = chunk("a") + &chunk("b") + &chunk("c");
        let stats_of = |tail: &str| {
            let mut sse = Sse::new(false);
            decode(&mut sse, &format!("{pieces}{tail}"));
            let stats = sse.stats();
            (
                stats.eval_count,
                stats.prompt_eval_count,
                stats.tokens_source,
            )
        };
        use TokensSource::*;
        assert_eq!(stats_of(""), (Some(3), None, Some(Counted)));
        let timings = "data: {\"choices\":[],\"timings\":{\"prompt_n\":4,\"predicted_n\":5,\"predicted_ms\":10}}\n";
        assert_eq!(stats_of(timings), (Some(5), Some(4), Some(Timings)));
        // The prompt's tokens found in llama.cpp's cache count too.
        let cached =
            "data: {\"choices\":[],\"timings\":{\"cache_n\":3,\"prompt_n\":1,\"predicted_n\":5}}\n";
        assert_eq!(stats_of(cached), (Some(5), Some(4), Some(Timings)));
        // All zeros (LocalAI): not trusted.
        let zeros =
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0}}\n";
        assert_eq!(stats_of(zeros), (Some(3), None, Some(Counted)));
        let usage =
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":6}}\n";
        assert_eq!(stats_of(usage), (Some(6), Some(7), Some(Usage)));
        // One count of zero is a count: only all zeros are not trusted.
        let read_nothing =
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":6}}\n";
        assert_eq!(stats_of(read_nothing), (Some(6), Some(0), Some(Usage)));
        let said_nothing =
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":0}}\n";
        assert_eq!(stats_of(said_nothing), (Some(0), Some(7), Some(Usage)));
        // Usage with other timings: the counts are the usage's, and the
        // speed is not made up from two different counts.
        let mut sse = Sse::new(false);
        decode(&mut sse, &format!("{pieces}{timings}{usage}"));
        let stats = sse.stats();
        assert_eq!(
            (stats.eval_count, stats.tokens_per_second()),
            (Some(6), None)
        );
    }

    #[test]
    fn only_the_first_answer_goes_to_the_buyer() {
        let text = concat!(
            "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other\"}}]}\n",
            "data: {\"choices\":[{\"index\":1,\"delta\":{},\"finish_reason\":\"stop\"},{\"index\":0,\"delta\":{\"content\":\"mine\"}}]}\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\" too\"}}]}\n",
        );
        let (pieces, progress) = decode(&mut Sse::new(false), text);
        assert_eq!(pieces, ["mine", " too"]);
        assert!(
            progress.iter().all(|p| *p == Progress::Going),
            "{progress:?}"
        );
    }

    #[test]
    fn reasoning_goes_to_the_buyer_only_when_the_owner_says() {
        let text = concat!(
            "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"think\"}}]}\n",
            "data: {\"choices\":[{\"delta\":{\"reasoning\":\"more\"}}]}\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"answer\"}}]}\n",
        );
        let (pieces, _) = decode(&mut Sse::new(false), text);
        assert_eq!(pieces, ["answer"]);
        let (pieces, _) = decode(&mut Sse::new(true), text);
        assert_eq!(pieces, ["think", "more", "answer"]);
    }

    #[test]
    fn an_error_inside_the_stream_is_an_error_line() {
        for (error, message) in [
            (
                r#"{"message":"template failed","type":"x","code":400}"#,
                "template failed",
            ),
            (r#""out of memory""#, "out of memory"),
            (r#"{"code":500}"#, r#"{"code":500}"#),
        ] {
            let line = format!("data: {{\"error\": {error}}}\n");
            let said = Sse::new(false).line(line.as_bytes(), &mut |_| {});
            match said {
                Err(StreamError::InStream(got)) => assert_eq!(got, message),
                other => panic!("{other:?}"),
            }
        }
        let said = Sse::new(false).line(b"data: {not json\n", &mut |_| {});
        assert!(matches!(said, Err(StreamError::BadLine(_))), "{said:?}");
    }

    #[test]
    fn other_fields_and_odd_chunks_say_nothing() {
        let text = concat!(
            "event: message\n",
            "id: 7\n",
            "retry: 1000\n",
            ":\n",
            "data: {}\n",
            "data: {\"choices\":[]}\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n",
            "data: {\"choices\":[{\"delta\":{\"content\":null},\"finish_reason\":null}],\"usage\":null}\n",
        );
        let (pieces, progress) = decode(&mut Sse::new(false), text);
        assert!(pieces.is_empty());
        assert!(progress.iter().all(|p| *p == Progress::Going));
    }

    #[test]
    fn ollama_lines() {
        let text = concat!(
            "{\"response\":\"A\",\"done\":false}\n",
            "\n",
            "{\"response\":\"\",\"done\":true,\"eval_count\":1,\"eval_duration\":1000}\n",
        );
        let mut ndjson = NdJson::default();
        let (pieces, progress) = decode(&mut ndjson, text);
        assert_eq!(pieces, ["A"]);
        assert_eq!(progress.last(), Some(&Progress::Done));
        let stats = ndjson.stats();
        assert_eq!((stats.eval_count, stats.tokens_source), (Some(1), None));
    }
}
