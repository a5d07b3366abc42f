//! Every command the owner's documents show is run, so that the documents
//! cannot drift from the program (issue 23).
//!
//! Where commands are shown ([`SOURCES`]): the ```` ```sh ```` blocks, the
//! ```` ```cron ```` blocks and the inline code spans of the README, the
//! docs pages and CONTRIBUTING.md, and the `.EX`/`.EE` examples of the man
//! pages. What happens to each:
//!
//! - **A command of the client** (its program, once `sudo`, `runuser`,
//!   `sh -c`, `nohup`, `flock` and `VAR=value` are taken off, is
//!   `ollama-proxy-client`; or an inline span that starts with one of its
//!   modes, such as `--pause 2h`) runs for real, as `sh -c` runs what an
//!   owner types, against the hub and Ollama emulators on 127.0.0.1, with
//!   the few changes of [`SUBSTITUTIONS`]. Its mode says how ([`Run`]):
//!   a serving command must connect to the hub and stop with exit 0 on
//!   SIGTERM; `--status`, `--pause`, `--resume` ask a client the test
//!   started in the same HOME; the others run on their own. Each must end
//!   with the exit status the docs promise.
//! - **A cron block** runs line by line in one HOME, as cron starts them:
//!   the first serving line serves, a second one finds the first there.
//! - **Any other command** (packages, services, the repository's scripts)
//!   must be in [`OTHER_COMMANDS`]: the CI script that runs it, which must
//!   really hold it, or why nothing here can run it.
//!
//! A command that is new, or changed, and fits none of this fails the test
//! with its file, line and text.

mod support;

#[path = "support/shell.rs"]
mod shell;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use shell::Shell;
use support::answers::WAIT;
use support::client::{test_config, write_config, Client, Launch, TempDir, TOKEN};
use support::hub::Hub;
use support::ollama::Ollama;

/// The program the documents name.
const CLIENT: &str = "ollama-proxy-client";

// ================================================================ sources

/// Where commands are shown, and how each kind of file shows them. A glob
/// is `dir/*.ext`. A file that does not exist is skipped (the man pages
/// are new); the README must be there ([`every_source_shows_commands`]).
const SOURCES: &[(&str, Extract)] = &[
    ("README.md", markdown_commands),
    ("README.ru.md", markdown_commands),
    ("CONTRIBUTING.md", markdown_commands),
    ("docs/*.md", markdown_commands),
    ("docs/ru/*.md", markdown_commands),
    ("docs/man/ollama-proxy-client.1", man_commands),
    ("docs/man/ru/ollama-proxy-client.1", man_commands),
];

/// Reads a file's text into the commands it shows, with their lines.
type Extract = fn(&str) -> Vec<Found>;

/// A command as one file shows it.
#[derive(Clone, Debug, PartialEq)]
struct Found {
    /// 1-based line where it starts.
    line: usize,
    /// One line: continuations joined, comments dropped.
    text: String,
    form: Form,
}

#[derive(Clone, Debug, PartialEq)]
enum Form {
    /// A line of a shell block (or a man page's example).
    Shell,
    /// An inline code span.
    Inline,
    /// A line of the cron block starting at `block` (a line number), with
    /// the `NAME=value` lines above it in that block.
    Cron {
        block: usize,
        env: Vec<(String, String)>,
    },
}

/// A command with the file and line that show it.
#[derive(Clone, Debug)]
struct Shown {
    place: String,
    text: String,
    form: Form,
}

/// Every command of every source, in file order.
fn shown_commands() -> Vec<Shown> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut shown = Vec::new();
    for (pattern, extract) in SOURCES {
        for file in source_files(root, pattern) {
            let text =
                std::fs::read_to_string(root.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            shown.extend(extract(&text).into_iter().map(|found| Shown {
                place: format!("{file}:{}", found.line),
                text: found.text,
                form: found.form,
            }));
        }
    }
    shown
}

/// The files `pattern` names under `root`, sorted, relative to it.
fn source_files(root: &Path, pattern: &str) -> Vec<String> {
    let Some((dir, ext)) = pattern.split_once("/*.") else {
        let exists = root.join(pattern).is_file();
        return exists.then(|| pattern.to_string()).into_iter().collect();
    };
    let mut files: Vec<String> = std::fs::read_dir(root.join(dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.ends_with(&format!(".{ext}")))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    files.sort();
    files
}

/// Markdown: the lines of ```` ```sh ```` blocks, the commands of
/// ```` ```cron ```` blocks, and the inline spans that are the client's
/// commands (see [`is_client_span`]).
fn markdown_commands(text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut block: Option<CodeBlock> = None;
    let mut paragraph: Lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let fence = line.trim_start().strip_prefix("```");
        match (&mut block, fence) {
            (Some(open), Some(_)) => {
                found.extend(code_block(open.start, open.lang, &open.lines));
                block = None;
            }
            (Some(open), None) => open.lines.push((number, line)),
            (None, Some(lang)) => {
                found.extend(inline_commands(&paragraph));
                paragraph.clear();
                block = Some(CodeBlock {
                    start: number,
                    lang: lang.trim(),
                    lines: Vec::new(),
                });
            }
            (None, None) if line.trim().is_empty() => {
                found.extend(inline_commands(&paragraph));
                paragraph.clear();
            }
            (None, None) => paragraph.push((number, line)),
        }
    }
    found.extend(inline_commands(&paragraph));
    found
}

/// Lines of a file with their numbers.
type Lines<'a> = Vec<(usize, &'a str)>;

/// A fenced block being read: its fence's line, its language, its lines.
struct CodeBlock<'a> {
    start: usize,
    lang: &'a str,
    lines: Lines<'a>,
}

fn code_block(start: usize, lang: &str, lines: &[(usize, &str)]) -> Vec<Found> {
    match lang {
        "sh" => shell_lines(lines),
        "cron" => cron_lines(start, lines),
        _ => Vec::new(),
    }
}

/// A shell block's commands: a line ending in `\` continues on the next,
/// comment lines and trailing comments are dropped, except a comment line
/// that quotes a command of the client (an alternative to the lines above).
fn shell_lines(lines: &[(usize, &str)]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (number, line) in lines {
        let (start, mut joined) = pending.take().unwrap_or((*number, String::new()));
        if let Some(continued) = line.trim_end().strip_suffix('\\') {
            joined.push_str(continued);
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(line);
        if let Some(quoted) = joined.trim_start().strip_prefix('#') {
            // A comment that quotes a command of the client, as an
            // alternative to the lines above it, shows that command too.
            let quoted = collapse(quoted);
            if is_client_span(&quoted) {
                found.push(Found {
                    line: start,
                    text: quoted,
                    form: Form::Shell,
                });
            }
            continue;
        }
        let text = collapse(strip_comment(&joined));
        if !text.is_empty() {
            found.push(Found {
                line: start,
                text,
                form: Form::Shell,
            });
        }
    }
    found
}

/// A cron block's commands: after `@reboot` (any `@` word) or the five
/// time fields; `NAME=value` lines set the environment of the lines below.
fn cron_lines(block: usize, lines: &[(usize, &str)]) -> Vec<Found> {
    let mut env = Vec::new();
    let mut found = Vec::new();
    for (number, line) in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(assignment) = assignment(line) {
            env.push(assignment);
            continue;
        }
        let fields = if line.starts_with('@') { 1 } else { 5 };
        let command = line.split_whitespace().skip(fields).collect::<Vec<_>>();
        found.push(Found {
            line: *number,
            text: command.join(" "),
            form: Form::Cron {
                block,
                env: env.clone(),
            },
        });
    }
    found
}

/// `NAME=value` (a whole word, the name in capitals) as a pair.
fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let is_name = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        && !value.contains(char::is_whitespace);
    is_name.then(|| (name.to_string(), value.to_string()))
}

/// The inline spans of one paragraph (its lines) that are commands of the
/// client. A span may run over a line break, which counts as a space.
fn inline_commands(paragraph: &[(usize, &str)]) -> Vec<Found> {
    let Some((first, _)) = paragraph.first() else {
        return Vec::new();
    };
    let text = paragraph
        .iter()
        .map(|(_, line)| *line)
        .collect::<Vec<_>>()
        .join("\n");
    code_spans(&text)
        .into_iter()
        .filter_map(|(offset, span)| {
            let command = collapse(&span);
            let command = if starts_with_mode(&command) {
                format!("{CLIENT} {command}")
            } else if is_client_span(&command) {
                command
            } else {
                return None;
            };
            Some(Found {
                line: first + text[..offset].matches('\n').count(),
                text: command,
                form: Form::Inline,
            })
        })
        .collect()
}

/// The code spans of a paragraph with their byte offsets: a run of
/// backticks opens one, the next run of the same length closes it.
fn code_spans(text: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(open) = text[at..].find('`').map(|i| at + i) {
        let ticks = text[open..].chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(ticks);
        let inside = open + ticks;
        let close = text[inside..]
            .match_indices(&fence)
            .map(|(i, _)| inside + i)
            .find(|i| !text[i + ticks..].starts_with('`') && !text[..*i].ends_with('`'));
        let Some(close) = close else { break };
        spans.push((open, text[inside..close].to_string()));
        at = close + ticks;
    }
    spans
}

/// The client's modes: a span that starts with one (`--pause 2h`,
/// `--status --json`) is that command of the client. Other flags
/// (`--config PATH`) are parts of commands, not commands.
const MODES: &[&str] = &[
    "--status",
    "--pause",
    "--resume",
    "--check",
    "--stats",
    "--show-config",
    "--reset-config",
    "--test",
    "--help",
    "-h",
    "--version",
    "-V",
];

fn starts_with_mode(span: &str) -> bool {
    span.split_whitespace()
        .next()
        .is_some_and(|first| MODES.contains(&first))
}

/// An inline span that is a whole command whose program is the client
/// (after `VAR=value`, `sudo ...`, `nohup`; the last stage of a pipe).
fn is_client_span(span: &str) -> bool {
    let first_form = synopsis_forms(span).into_iter().next();
    first_form.is_some_and(|form| client_args(&form).is_some())
}

/// A man page's examples: the lines between `.EX` and `.EE`, with roff's
/// escapes read, as a shell block.
fn man_commands(text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut example: Option<Vec<(usize, String)>> = None;
    for (index, line) in text.lines().enumerate() {
        match (line.trim_end(), &mut example) {
            (".EX", None) => example = Some(Vec::new()),
            (".EE", Some(lines)) => {
                let lines: Vec<(usize, &str)> =
                    lines.iter().map(|(n, l)| (*n, l.as_str())).collect();
                found.extend(shell_lines(&lines));
                example = None;
            }
            (request, Some(_)) if request.starts_with('.') || request.starts_with("'") => {}
            (text, Some(lines)) => lines.push((index + 1, unroff(text))),
            _ => {}
        }
    }
    found
}

/// roff's escapes as the page shows them.
fn unroff(line: &str) -> String {
    line.replace("\\-", "-")
        .replace("\\(aq", "'")
        .replace("\\(dq", "\"")
        .replace("\\(ga", "`")
        .replace("\\&", "")
        .replace("\\e", "\\")
        .replace("\\\\", "\\")
}

/// `line` without a shell comment: a `#` that starts a word outside quotes
/// starts one.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '#') if previous.is_whitespace() => return &line[..at],
            _ => {}
        }
        previous = c;
    }
    line
}

/// Runs of whitespace (line breaks too) as one space, trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ================================================================ words

/// A command's words as `sh` splits them (quotes removed), with the
/// operators `|`, `||`, `&&`, `;` and `&` as words of their own. Enough
/// for the documents' commands; the command itself runs in a real `sh`.
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut chars = command.chars().peekable();
    let end = |word: &mut String, started: &mut bool, words: &mut Vec<String>| {
        if *started {
            words.push(std::mem::take(word));
            *started = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                started = true;
                word.extend(chars.by_ref().take_while(|c| *c != '\''));
            }
            '"' => {
                started = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                started = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => end(&mut word, &mut started, &mut words),
            '&' if word.ends_with('>') || word.ends_with('<') => word.push(c),
            '|' | '&' | ';' => {
                end(&mut word, &mut started, &mut words);
                let double = c != ';' && chars.next_if_eq(&c).is_some();
                words.push(if double {
                    format!("{c}{c}")
                } else {
                    c.to_string()
                });
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    end(&mut word, &mut started, &mut words);
    words
}

/// The client's arguments if `command` runs the client: the last stage of
/// its last pipeline, once the wrappers the documents use are taken off
/// (`VAR=value`, `sudo [-u USER] [-H]`, `runuser -u USER --`, `nohup`,
/// `exec`, `flock [-n] FILE`, `sh -c 'SCRIPT'`), without redirections and
/// a trailing `&`.
fn client_args(command: &str) -> Option<Vec<String>> {
    let words = shell_words(command);
    let last = words
        .rsplit(|word| ["|", "||", "&&", ";"].contains(&word.as_str()))
        .find(|stage| stage.iter().any(|word| word != "&"))?;
    let mut words: &[String] = last;
    loop {
        let first = words.first()?.as_str();
        words = match first {
            _ if assignment(first).is_some() => &words[1..],
            "nohup" | "exec" => &words[1..],
            "sudo" => skip_options(&words[1..], &["-u", "-g"]),
            "flock" => skip_options(&words[1..], &["-w", "-E"]).get(1..)?,
            "runuser" => {
                let dashes = words.iter().position(|word| word == "--")?;
                &words[dashes + 1..]
            }
            "sh" if words.get(1).is_some_and(|w| w == "-c") => {
                return client_args(words.get(2)?);
            }
            CLIENT => {
                let args = words[1..]
                    .iter()
                    .filter(|word| !is_redirection(word) && *word != "&");
                return Some(args.cloned().collect());
            }
            _ => return None,
        };
    }
}

/// `words` after the options at their start (and the values of the
/// options in `with_value`).
fn skip_options<'a>(mut words: &'a [String], with_value: &[&str]) -> &'a [String] {
    while let Some(first) = words.first().filter(|word| word.starts_with('-')) {
        let skip = if with_value.contains(&first.as_str()) {
            2
        } else {
            1
        };
        words = words.get(skip..).unwrap_or_default();
    }
    words
}

fn is_redirection(word: &str) -> bool {
    let word = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
    word.starts_with('>') || word.starts_with('<')
}

// ================================================================ how the client's commands run

/// Changes made to a client command before it runs, in this order, each
/// with why. `{home}`, `{bin}`, `{env_file}` and `{token_file}` are the
/// test's temporary HOME, the folder of the client on its PATH, an env file
/// holding `OLLAMA_PROXY_TOKEN=<the test's token>`, and a file whose first
/// line is that token. Besides these: the `ollama-proxy-client` on PATH is
/// a small script that runs the client under test with
/// `--server ws://127.0.0.1:PORT/auth-proxy` first (the hub's address is a
/// flag, not a setting, and a test must not reach the real hub); `$T` is the
/// token (the docs' reader has put it there); a command sent to the
/// background (`&`) runs in the foreground, since the test waits for it; a
/// synopsis runs in every form it allows (`[--json]`: with and without,
/// `1h|24h`: each).
const SUBSTITUTIONS: &[(&str, &str, &str)] = &[
    (
        "sudo -u ollama-proxy -H ",
        "",
        "the service user: the test's own user, whose HOME is the temporary one",
    ),
    ("runuser -u ollama-proxy -- ", "", "the same, from root"),
    ("sudo ", "", "root: the test's own user"),
    (
        "/etc/ollama-proxy-client.env",
        "{env_file}",
        "the package's env file, with the token in it",
    ),
    (
        "/var/lib/ollama-proxy",
        "{home}",
        "the service user's home (a cron block's HOME)",
    ),
    (
        "/usr/local/bin",
        "{bin}",
        "where the client is installed (a cron block's PATH)",
    ),
    (
        "--token-file PATH",
        "--token-file {token_file}",
        "a file holding the token",
    ),
    ("[DURATION]", "[2h]", "a duration, one the docs list"),
];

/// How a command of the client runs, from its mode.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Run {
    /// Serves: must connect to the hub, and exit 0 on SIGTERM.
    Serve,
    /// Asks the client that serves on the same config: a client must be
    /// running. The exit status the docs promise.
    AsksTheClient(i32),
    /// Runs on its own, to its end, with this exit status.
    OnItsOwn(i32),
}

/// The client's flags besides the modes: a command with any other is one
/// the test does not know how to run.
const OTHER_FLAGS: &[&str] = &[
    "--json",
    "--since",
    "--config",
    "--force-token",
    "--token-file",
    "--force-model",
    "--ollama-host",
    "--ollama-port",
    "--stream",
    "--no-stream",
    "--debug",
    "--ca-file",
];

/// How the client runs with `args`, and the exit status the docs promise:
/// 0 for all but `--reset-config`, which without a terminal changes nothing
/// and exits 78 (docs/configuration.md).
fn how_to_run(args: &[String]) -> Result<Run, String> {
    if let Some(unknown) = args.iter().find(|arg| {
        let flag = arg.split('=').next().unwrap_or(arg);
        arg.starts_with('-')
            && *arg != "-"
            && !MODES.contains(&flag)
            && !OTHER_FLAGS.contains(&flag)
    }) {
        return Err(format!("the flag {unknown} is new to this test: add it (tests/doc_commands.rs, OTHER_FLAGS or MODES)"));
    }
    let mode = args.iter().find(|arg| MODES.contains(&arg.as_str()));
    Ok(match mode.map(String::as_str) {
        None => Run::Serve,
        Some("--status" | "--pause" | "--resume") => Run::AsksTheClient(0),
        Some("--reset-config") => Run::OnItsOwn(78),
        Some(_) => Run::OnItsOwn(0),
    })
}

/// A client command as it runs: the shown text with [`SUBSTITUTIONS`],
/// each form of its synopsis.
fn runnable_forms(text: &str) -> Vec<String> {
    let substituted = substituted(text);
    let foreground = substituted
        .strip_suffix(" &")
        .unwrap_or(&substituted)
        .to_string();
    synopsis_forms(&foreground)
}

/// `text` with [`SUBSTITUTIONS`] made.
fn substituted(text: &str) -> String {
    SUBSTITUTIONS
        .iter()
        .fold(text.to_string(), |text, (from, to, _)| {
            text.replace(from, to)
        })
}

/// Every command a synopsis stands for: `[x]` is with and without `x`,
/// a word `a|b` inside brackets is `a` or `b`.
fn synopsis_forms(text: &str) -> Vec<String> {
    let Some(open) = text.find('[') else {
        return vec![text.to_string()];
    };
    let Some(close) = text[open..].find(']').map(|at| open + at) else {
        return vec![text.to_string()];
    };
    let (before, group, after) = (&text[..open], &text[open + 1..close], &text[close + 1..]);
    let mut forms = vec![collapse(&format!("{before} {after}"))];
    for choice in group_choices(group) {
        forms.push(format!("{before}{choice}{after}"));
    }
    forms.iter().flat_map(|form| synopsis_forms(form)).collect()
}

/// The bracket's content in each of its alternatives (the first word with
/// `|` in it chooses).
fn group_choices(group: &str) -> Vec<String> {
    let words: Vec<&str> = group.split(' ').collect();
    let Some(at) = words.iter().position(|word| word.contains('|')) else {
        return vec![group.to_string()];
    };
    words[at]
        .split('|')
        .map(|choice| {
            let mut chosen = words.clone();
            chosen[at] = choice;
            chosen.join(" ")
        })
        .collect()
}

/// The client's commands, each form once, with every place that shows it,
/// in the order first shown; and the places of the commands the test does
/// not know how to run.
struct ClientCommands {
    commands: Vec<ClientCommand>,
    unknown: Vec<String>,
}

struct ClientCommand {
    /// As it runs (after the substitutions, before the paths are filled).
    run_text: String,
    args: Vec<String>,
    run: Run,
    places: Vec<String>,
}

impl ClientCommand {
    fn describe(&self) -> String {
        format!("{} (shown at {})", self.run_text, self.places.join(", "))
    }
}

/// The client's commands outside cron blocks.
fn client_commands() -> ClientCommands {
    let mut commands: Vec<ClientCommand> = Vec::new();
    let mut unknown = Vec::new();
    let shown = shown_commands();
    let outside_cron = shown
        .iter()
        .filter(|s| !matches!(s.form, Form::Cron { .. }));
    for shown in outside_cron.filter(|s| is_client_span(&s.text)) {
        for run_text in runnable_forms(&shown.text) {
            let args = client_args(&run_text).unwrap_or_default();
            let run = match how_to_run(&args) {
                Ok(run) => run,
                Err(why) => {
                    unknown.push(format!("{}: `{}`: {why}", shown.place, shown.text));
                    continue;
                }
            };
            match commands.iter_mut().find(|c| c.run_text == run_text) {
                Some(known) => known.places.push(shown.place.clone()),
                None => commands.push(ClientCommand {
                    run_text,
                    args,
                    run,
                    places: vec![shown.place.clone()],
                }),
            }
        }
    }
    ClientCommands { commands, unknown }
}

// ================================================================ the owner's machine, emulated

/// A hub emulator, an Ollama emulator, and a temporary folder holding the
/// HOME the commands run in (the config pointing at the emulated Ollama),
/// the env file and the token file of [`SUBSTITUTIONS`], and `bin/` with
/// the client as the commands find it on PATH.
struct Machine {
    hub: Hub,
    ollama: Ollama,
    dir: TempDir,
    homes: usize,
}

impl Machine {
    fn new() -> Machine {
        let machine = Machine {
            hub: Hub::start(TOKEN),
            ollama: Ollama::start(),
            dir: TempDir::new(),
            homes: 0,
        };
        write_config(&machine.home(), &test_config(machine.ollama.port()));
        std::fs::write(machine.env_file(), format!("OLLAMA_PROXY_TOKEN={TOKEN}\n")).unwrap();
        std::fs::write(machine.token_file(), format!("{TOKEN}\n")).unwrap();
        machine.install_client();
        machine
    }

    /// The HOME the commands share.
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn env_file(&self) -> PathBuf {
        self.dir.path().join("ollama-proxy-client.env")
    }

    fn token_file(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    /// `bin/ollama-proxy-client`: the client under test (under the
    /// emulator `OPC_TEST_RUNNER` names, if any), on this hub.
    fn install_client(&self) {
        let client =
            std::env::var("OPC_TEST_CLIENT").unwrap_or_else(|_| support::client::BIN.to_string());
        let runner = std::env::var("OPC_TEST_RUNNER").unwrap_or_default();
        let script = format!(
            "#!/bin/sh\n# The client under test, on the test's hub.\nexec {runner} {} --server {} \"$@\"\n",
            quoted(&client),
            quoted(&self.hub.url()),
        );
        std::fs::create_dir_all(self.bin()).unwrap();
        let path = self.bin().join(CLIENT);
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A HOME for `command`: one of its own, whose config has no token,
    /// when the command brings the token itself (so that it is the one
    /// used); else the shared one.
    fn home_for(&mut self, run_text: &str) -> PathBuf {
        let brings_token = ["--force-token", "--token-file", "{env_file}"]
            .iter()
            .any(|source| run_text.contains(source));
        if !brings_token {
            return self.home();
        }
        self.homes += 1;
        let home = self.dir.path().join(format!("home-{}", self.homes));
        let mut config = test_config(self.ollama.port());
        config.as_object_mut().unwrap().remove("token");
        write_config(&home, &config);
        home
    }

    /// `text` with the paths of [`SUBSTITUTIONS`] filled in for `home`.
    fn fill(&self, text: &str, home: &Path) -> String {
        let path = |p: PathBuf| p.display().to_string();
        text.replace("{home}", &path(home.to_path_buf()))
            .replace("{bin}", &path(self.bin()))
            .replace("{env_file}", &path(self.env_file()))
            .replace("{token_file}", &path(self.token_file()))
    }

    /// The environment of a command in `home`: HOME, PATH with the client
    /// first, `$T`; then `extra` (a cron block's), filled in.
    fn env(&self, home: &Path, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("HOME".to_string(), home.display().to_string()),
            (
                "PATH".to_string(),
                format!("{}:/usr/bin:/bin", self.bin().display()),
            ),
            ("T".to_string(), TOKEN.to_string()),
        ];
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), self.fill(&substituted(value), home)));
        }
        env
    }

    /// Starts `command` (filled in) in `home`, which is also its working
    /// directory; the token on standard input if it reads one there.
    fn start(&self, command: &str, home: &Path, extra_env: &[(String, String)]) -> Shell {
        let command = self.fill(command, home);
        let reads_token = command.contains("--force-token -") && !command.contains('|');
        let stdin = reads_token.then(|| format!("{TOKEN}\n"));
        Shell::start(&command, home, &self.env(home, extra_env), stdin.as_deref())
    }

    /// A client serving in `home` (on `config` there, if given), started
    /// by the test as a service would be, once the hub has it.
    fn serving_client(&self, home: &Path, config: Option<&str>) -> Client {
        let before = self.hub.connections();
        let mut launch = Launch::in_home(home).in_home_dir();
        if let Some(config) = config {
            launch = launch.args(&["--config", config]);
        }
        let client = launch.args(&["--server", &self.hub.url()]).start();
        assert!(
            self.hub.wait_connected(before + 1, WAIT),
            "the client the test started did not connect:\n{}",
            client.output()
        );
        client
    }
}

/// `text` in single quotes for `sh`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The failures of one test, reported together at its end.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn add(&mut self, what: String) {
        self.0.push(what);
    }

    fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{} of the documents' {what} failed:\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// An exit as the failure messages say it.
fn exit_text(status: Option<ExitStatus>) -> String {
    match status {
        None => format!("still running after {WAIT:?} (killed)"),
        Some(status) => match status.code() {
            Some(code) => format!("exit status {code}"),
            None => format!("ended by {status}"),
        },
    }
}

/// Runs `command` to its end and checks its exit status.
fn expect_exit(
    machine: &Machine,
    command: &ClientCommand,
    home: &Path,
    code: i32,
    failures: &mut Failures,
) {
    let mut shell = machine.start(&command.run_text, home, &[]);
    let status = shell.wait(WAIT);
    if status.and_then(|s| s.code()) != Some(code) {
        failures.add(format!(
            "{}\n  {}; the docs promise {code}\n  output:\n{}",
            command.describe(),
            exit_text(status),
            shell.output()
        ));
    }
}

/// Starts a serving command, waits for the hub to have it, stops it with
/// SIGTERM, and checks it exits 0.
fn expect_serves(machine: &Machine, command: &ClientCommand, home: &Path, failures: &mut Failures) {
    let before = machine.hub.connections();
    let mut shell = machine.start(&command.run_text, home, &[]);
    if !machine.hub.wait_connected(before + 1, WAIT) {
        shell.wait(Duration::ZERO);
        return failures.add(format!(
            "{}\n  did not connect to the hub\n  output:\n{}",
            command.describe(),
            shell.output()
        ));
    }
    shell.terminate_innermost();
    let status = shell.wait(WAIT);
    if status.and_then(|s| s.code()) != Some(0) {
        failures.add(format!(
            "{}\n  served, then on SIGTERM: {}, not 0\n  output:\n{}",
            command.describe(),
            exit_text(status),
            shell.output()
        ));
    }
}

// ================================================================ the client's commands

#[test]
fn every_source_shows_commands() {
    let shown = shown_commands();
    for file in [
        "README.md",
        "README.ru.md",
        "docs/install.md",
        "docs/ru/install.md",
    ] {
        assert!(
            shown
                .iter()
                .any(|s| s.place.starts_with(&format!("{file}:"))),
            "no command found in {file}: is the extraction broken?"
        );
    }
}

#[test]
fn every_client_command_is_one_the_test_can_run() {
    let commands = client_commands();
    assert!(
        commands.unknown.is_empty(),
        "commands of the client this test does not know how to run:\n{}",
        commands.unknown.join("\n")
    );
}

/// The serving commands (the first run) connect and stop cleanly; then the
/// others that need no running client, in the HOME the first ones left a
/// ledger in.
#[test]
fn client_commands_on_their_own_exit_as_documented() {
    let mut machine = Machine::new();
    let mut failures = Failures::default();
    let commands = client_commands().commands;
    let serving = commands.iter().filter(|c| c.run == Run::Serve);
    for command in serving {
        let home = machine.home_for(&command.run_text);
        expect_serves(&machine, command, &home, &mut failures);
    }
    for command in &commands {
        if let Run::OnItsOwn(code) = command.run {
            let home = machine.home_for(&command.run_text);
            expect_exit(&machine, command, &home, code, &mut failures);
        }
    }
    failures.assert_none("commands of the client");
}

/// `--status`, `--pause`, `--resume` while clients serve, one on each
/// config the commands name: first every `--status` (serving: 0), then
/// every `--pause`, then every `--resume`.
#[test]
fn client_commands_that_ask_the_running_client_exit_as_documented() {
    let machine = Machine::new();
    let mut failures = Failures::default();
    let mut commands: Vec<ClientCommand> = client_commands()
        .commands
        .into_iter()
        .filter(|c| matches!(c.run, Run::AsksTheClient(_)))
        .collect();
    commands.sort_by_key(|c| {
        ["--status", "--pause", "--resume"]
            .iter()
            .position(|m| c.args.iter().any(|a| a == m))
    });
    let home = machine.home();
    let configs: BTreeSet<&str> = commands
        .iter()
        .filter_map(|c| config_named(&c.args))
        .collect();
    for config in &configs {
        let config_text = serde_json::to_string(&test_config(machine.ollama.port())).unwrap();
        std::fs::write(home.join(config), config_text).unwrap();
    }
    let mut clients = vec![machine.serving_client(&home, None)];
    clients.extend(
        configs
            .iter()
            .map(|config| machine.serving_client(&home, Some(config))),
    );
    for command in &commands {
        if let Run::AsksTheClient(code) = command.run {
            expect_exit(&machine, command, &home, code, &mut failures);
        }
    }
    for mut client in clients {
        client.terminate();
        let status = client.wait_exit(WAIT);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "{}",
            client.output()
        );
    }
    failures.assert_none("commands that ask the running client");
}

/// The value of `--config` (or `--config=`), if given.
fn config_named(args: &[String]) -> Option<&str> {
    let at = args
        .iter()
        .position(|a| a == "--config" || a.starts_with("--config="))?;
    match args[at].strip_prefix("--config=") {
        Some(value) => Some(value),
        None => args.get(at + 1).map(String::as_str),
    }
}

// ================================================================ cron blocks

/// A cron block runs as cron starts its lines, in order, in one HOME and
/// with the block's `NAME=value` environment: the first serving line serves
/// (it must connect); a later one finds it there and exits at once (1 from
/// `flock -n`, else 75, the client's own lock) while the first serves on;
/// `--pause` and `--resume` lines ask the client serving then (one the test
/// starts, as the service, when the block has no serving line). At the end
/// the serving client stops on SIGTERM with exit 0.
#[test]
fn cron_blocks_run_as_cron_starts_them() {
    let mut blocks: Vec<(String, Vec<Shown>)> = Vec::new();
    for shown in shown_commands() {
        let Form::Cron { block, .. } = &shown.form else {
            continue;
        };
        let file = shown.place.split(':').next().unwrap().to_string();
        let key = format!("{file}:{block}");
        match blocks.iter_mut().find(|(k, _)| *k == key) {
            Some((_, lines)) => lines.push(shown),
            None => blocks.push((key, vec![shown])),
        }
    }
    assert!(!blocks.is_empty(), "no cron block found");
    let mut failures = Failures::default();
    for (block, lines) in &blocks {
        if let Err(why) = run_cron_block(lines) {
            failures.add(format!("the cron block at {block}: {why}"));
        }
    }
    failures.assert_none("cron blocks");
}

/// What serves during a cron block.
enum Serving {
    /// A line of the block.
    Line(Shell),
    /// The service, started by the test.
    Service(Client),
}

fn run_cron_block(lines: &[Shown]) -> Result<(), String> {
    let machine = Machine::new();
    let home = machine.home();
    let mut serving: Option<Serving> = None;
    for shown in lines {
        let Form::Cron { env, .. } = &shown.form else {
            unreachable!()
        };
        let at = format!("{} `{}`", shown.place, shown.text);
        let [command] = runnable_forms(&shown.text)
            .try_into()
            .map_err(|_| format!("{at}: a cron line is one command"))?;
        let args = client_args(&command).ok_or_else(|| {
            format!("{at}: not a command of the client; this test runs only those in cron blocks")
        })?;
        let run = how_to_run(&args).map_err(|why| format!("{at}: {why}"))?;
        match (run, &mut serving) {
            (Run::Serve, None) => {
                let before = machine.hub.connections();
                let mut shell = machine.start(&command, &home, env);
                if !machine.hub.wait_connected(before + 1, WAIT) {
                    shell.wait(Duration::ZERO);
                    return Err(format!(
                        "{at}: did not connect to the hub\n{}",
                        shell.output()
                    ));
                }
                serving = Some(Serving::Line(shell));
            }
            (Run::Serve, Some(_)) => {
                let code = if command.starts_with("flock -n ") {
                    1
                } else {
                    75
                };
                let mut shell = machine.start(&command, &home, env);
                let status = shell.wait(WAIT);
                if status.and_then(|s| s.code()) != Some(code) {
                    return Err(format!(
                        "{at}: with a client serving: {}, not {code}\n{}",
                        exit_text(status),
                        shell.output()
                    ));
                }
                if let Some(Serving::Line(first)) = &mut serving {
                    if !first.running() || machine.hub.open_connections() == 0 {
                        return Err(format!(
                            "{at}: the first client stopped serving\n{}",
                            first.output()
                        ));
                    }
                }
            }
            (Run::AsksTheClient(code) | Run::OnItsOwn(code), _) => {
                if serving.is_none() {
                    serving = Some(Serving::Service(machine.serving_client(&home, None)));
                }
                let mut shell = machine.start(&command, &home, env);
                let status = shell.wait(WAIT);
                if status.and_then(|s| s.code()) != Some(code) {
                    return Err(format!(
                        "{at}: {}, not {code}\n{}",
                        exit_text(status),
                        shell.output()
                    ));
                }
            }
        }
    }
    match serving {
        Some(Serving::Line(mut shell)) => {
            shell.terminate_innermost();
            let status = shell.wait(WAIT);
            if status.and_then(|s| s.code()) != Some(0) {
                return Err(format!(
                    "the serving line, on SIGTERM: {}, not 0\n{}",
                    exit_text(status),
                    shell.output()
                ));
            }
        }
        Some(Serving::Service(mut client)) => {
            client.terminate();
            client.wait_exit(WAIT);
        }
        None => {}
    }
    Ok(())
}

// ================================================================ every other command

/// Who runs a command that is not the client's.
enum Where {
    /// This CI script (one `.ci/run` runs, or `.ci/run` itself) holds the
    /// command as shown (compared by [`normalize`]).
    Script(&'static str),
    /// An `a && b` command: the script that holds each part.
    Scripts(&'static [&'static str]),
    /// This CI script holds it in this form (also [`normalize`]d), for the
    /// reason given.
    ScriptAs(&'static str, &'static str, &'static str),
    /// Nothing here can run it, for this reason.
    NotRun(&'static str),
}

/// Every command shown that is not the client's, by its [`normalize`]d
/// text (`{version}` is the crate's version).
const OTHER_COMMANDS: &[(&str, Where)] = &[
    // The Debian package (README, docs/install.md).
    (
        "apt install ./ollama-proxy-client_{version}_arm64.deb",
        Where::ScriptAs(
            "scripts/test-deb.sh",
            "apt install ./ollama-proxy-client_{version}_amd64.deb",
            "the CI machine's architecture is amd64",
        ),
    ),
    ("sudoedit /etc/ollama-proxy-client.env", Where::Script("scripts/test-deb.sh")),
    (
        "systemctl enable --now ollama-proxy-client",
        Where::NotRun("needs a booted systemd, which CI's container has not (scripts/check-service.sh --boot starts the unit under one, by hand)"),
    ),
    (
        "systemctl disable --now ollama-proxy-client",
        Where::NotRun("needs a booted systemd, which CI's container has not"),
    ),
    (
        "rm /etc/systemd/system/ollama-proxy-client.service /usr/local/bin/ollama-proxy-client",
        Where::NotRun("removes a by-hand install, which no CI machine has (scripts/test-deb.sh refuses one)"),
    ),
    // A release's binary.
    ("scripts/build-release.sh", Where::Script(".ci/run")),
    (
        "scripts/build-release.sh && scripts/build-deb.sh",
        Where::Scripts(&[".ci/run", "scripts/test-deb.sh"]),
    ),
    (
        "cd dist && sha256sum -c SHA256SUMS --ignore-missing",
        Where::Script("scripts/test-deb.sh"),
    ),
    (
        "install -m 0755 ollama-proxy-client-{version}-aarch64-unknown-linux-musl /usr/local/bin/ollama-proxy-client",
        Where::Script("scripts/test-deb.sh"),
    ),
    // By hand under systemd (docs/install.md).
    (
        "useradd --system --create-home --home-dir /var/lib/ollama-proxy --shell /usr/sbin/nologin ollama-proxy",
        Where::NotRun("would add a user to the CI machine for good; the package adds the same system user (adduser in its postinst), which scripts/test-deb.sh checks"),
    ),
    (
        "install -m 0755 target/release/ollama-proxy-client /usr/local/bin/",
        Where::NotRun("needs `cargo build --release`, which CI does not run (it ships the static builds of dist/, installed the same way by scripts/test-deb.sh)"),
    ),
    (
        "install -m 0600 scripts/ollama-proxy-client.env.example /etc/ollama-proxy-client.env",
        Where::Script("scripts/test-deb.sh"),
    ),
    (
        "install -d -m 0700 -o ollama-proxy -g ollama-proxy /var/lib/ollama-proxy/.config /var/lib/ollama-proxy/.config/ollama_proxy",
        Where::Script("scripts/test-deb.sh"),
    ),
    (
        "install -m 0644 scripts/ollama-proxy-client.service /etc/systemd/system/",
        Where::Script("scripts/test-deb.sh"),
    ),
    (
        "systemctl daemon-reload",
        Where::NotRun("needs a booted systemd, which CI's container has not (scripts/check-service.sh --boot runs it under one, by hand)"),
    ),
    (
        "systemctl status ollama-proxy-client",
        Where::NotRun("needs a booted systemd, which CI's container has not"),
    ),
    (
        "journalctl -u ollama-proxy-client -f",
        Where::NotRun("follows the journal until Ctrl+C, and needs a booted systemd"),
    ),
    // Under supervisor (docs/install.md).
    (
        "supervisorctl reread && supervisorctl update",
        Where::NotRun("needs a running supervisord, which CI does not install"),
    ),
    (
        "supervisorctl status ollama-proxy-client",
        Where::NotRun("needs a running supervisord, which CI does not install"),
    ),
    (
        "supervisorctl tail -f ollama-proxy-client",
        Where::NotRun("follows the log until Ctrl+C, and needs a running supervisord"),
    ),
    // Windows and macOS (README, docs/install.md). The Windows commands are
    // in ```bat blocks, which this test does not read.
    (
        "scripts/build-release.sh x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin",
        Where::ScriptAs(
            ".ci/run",
            "scripts/build-release.sh",
            "with no target named it builds every target, these three among them",
        ),
    ),
    (
        "grep aarch64-apple-darwin.tar.gz SHA256SUMS | shasum -a 256 -c",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    (
        "tar -xzf ollama-proxy-client-{version}-aarch64-apple-darwin.tar.gz",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    (
        "cd ollama-proxy-client-{version}-aarch64-apple-darwin",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    (
        "xattr -d com.apple.quarantine ollama-proxy-client",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    ("mkdir -p /usr/local/bin", Where::NotRun("macOS only: nothing here runs macOS")),
    (
        "install -m 0755 ollama-proxy-client /usr/local/bin/",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    ("mkdir -p ~/Library/LaunchAgents", Where::NotRun("macOS only: nothing here runs macOS")),
    (
        "sed \"s|/Users/USERNAME|$HOME|g\" local.ollama-proxy-client.plist > ~/Library/LaunchAgents/local.ollama-proxy-client.plist",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    (
        "launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/local.ollama-proxy-client.plist",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    (
        "launchctl print gui/$(id -u)/local.ollama-proxy-client",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    (
        "launchctl kickstart -k gui/$(id -u)/local.ollama-proxy-client",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    (
        "launchctl bootout gui/$(id -u)/local.ollama-proxy-client",
        Where::NotRun("macOS only: nothing here runs macOS"),
    ),
    // The repository (README, CONTRIBUTING.md).
    (
        "cargo run --release",
        Where::NotRun("serves on the real hub until Ctrl+C; the same client, run bare, is this test's first-run command"),
    ),
    ("cargo test", Where::Script(".ci/run")),
    (
        "scripts/demo.sh",
        Where::NotRun("a release build and a show for a person; CI builds its example (`cargo test` builds examples) but does not run it"),
    ),
];

/// A command as a script and the table compare it: comments dropped, a
/// plain `sudo ` (no options) dropped, whitespace collapsed, the crate's
/// version as `{version}`.
fn normalize(command: &str) -> String {
    let command = collapse(strip_comment(command));
    let command = command
        .strip_prefix("sudo ")
        .filter(|rest| !rest.starts_with('-'))
        .unwrap_or(&command);
    let command = command.replace(" && sudo ", " && ");
    command.replace(env!("CARGO_PKG_VERSION"), "{version}")
}

/// A script's commands, one a line: continuations joined, comment lines
/// and trailing comments dropped, normalized like the documents' commands.
fn script_lines(path: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<(usize, &str)> = text.lines().enumerate().collect();
    let lines: Vec<(usize, &str)> = lines
        .into_iter()
        .filter(|(_, line)| !line.trim_start().starts_with('#'))
        .collect();
    shell_lines(&lines)
        .into_iter()
        .map(|found| normalize(&found.text))
        .collect()
}

/// Whether the script at `path` holds `command` (as a whole, within one of
/// its lines), and CI runs that script.
fn script_holds(path: &str, command: &str) -> Result<(), String> {
    if path != ".ci/run"
        && !script_lines(".ci/run")
            .iter()
            .any(|line| line.contains(path))
    {
        return Err(format!("{path} is not run by .ci/run"));
    }
    let command = normalize(command).replace("{version}", "${version}");
    let holds = script_lines(path)
        .iter()
        .any(|line| contains_words(line, &command));
    match holds {
        true => Ok(()),
        false => Err(format!("{path} does not run `{command}`")),
    }
}

/// `needle` in `line`, starting and ending at word boundaries.
fn contains_words(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + needle.len()..].chars().next();
        let boundary =
            |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "\"'();&|".contains(c));
        boundary(before) && boundary(after)
    })
}

#[test]
fn every_other_command_is_run_by_a_ci_script_or_says_why_not() {
    let mut failures = Failures::default();
    let mut used = BTreeSet::new();
    for shown in shown_commands() {
        if is_client_span(&shown.text) {
            continue;
        }
        let command = normalize(&shown.text);
        let Some((key, place)) = OTHER_COMMANDS.iter().find(|(key, _)| *key == command) else {
            failures.add(format!(
                "{}: `{}` is shown, but neither run by this test nor listed in OTHER_COMMANDS (tests/doc_commands.rs) as `{command}`: say which CI script runs it, or why none can",
                shown.place, shown.text
            ));
            continue;
        };
        used.insert(*key);
        let checked = match place {
            Where::Script(script) => script_holds(script, key),
            Where::ScriptAs(script, form, reason) => script_holds(script, form)
                .map_err(|why| format!("{why} (the form it runs, since {reason})")),
            Where::Scripts(scripts) => {
                let parts: Vec<&str> = key.split(" && ").collect();
                assert_eq!(parts.len(), scripts.len(), "{key}: one script a part");
                parts
                    .iter()
                    .zip(*scripts)
                    .try_for_each(|(part, script)| script_holds(script, part))
            }
            Where::NotRun(reason) if reason.trim().is_empty() => {
                Err("listed as not run, without a reason".to_string())
            }
            Where::NotRun(_) => Ok(()),
        };
        if let Err(why) = checked {
            failures.add(format!("{}: `{}`: {why}", shown.place, shown.text));
        }
    }
    for (key, _) in OTHER_COMMANDS {
        if !used.contains(key) {
            failures.add(format!(
                "OTHER_COMMANDS lists `{key}`, which no document shows any more: remove it"
            ));
        }
    }
    failures.assert_none("other commands");
}

// ================================================================ the extraction itself

const SAMPLE: &str = r#"# Title

Run `ollama-proxy-client --check`, or `--pause
2h`; `--config PATH` alone is a flag, `man ollama-proxy-client` another program.
A pipe: `printf 'hi\n' | ollama-proxy-client --test`.

```sh
# a comment line
sudo install -m 0755 a \
    /usr/local/bin/b        # a trailing comment
sudo sh -c 'set -a; . /etc/x.env; exec runuser -u u -- ollama-proxy-client --check'
echo '# not a comment'
#   sudo -u u -H ollama-proxy-client --force-token - --check
```

```cron
HOME=/var/lib/x
@reboot     flock -n "$HOME/l" ollama-proxy-client >>"$HOME/log" 2>&1
0 8  * * * ollama-proxy-client --pause
```

```text
ollama-proxy-client --not-a-command
```
"#;

#[test]
fn the_extraction_reads_blocks_spans_and_cron_lines() {
    let found: Vec<(usize, String)> = markdown_commands(SAMPLE)
        .into_iter()
        .map(|found| (found.line, found.text))
        .collect();
    let expected = [
        (3, "ollama-proxy-client --check"),
        (3, "ollama-proxy-client --pause 2h"),
        (5, "printf 'hi\\n' | ollama-proxy-client --test"),
        (9, "sudo install -m 0755 a /usr/local/bin/b"),
        (
            11,
            "sudo sh -c 'set -a; . /etc/x.env; exec runuser -u u -- ollama-proxy-client --check'",
        ),
        (12, "echo '# not a comment'"),
        (
            13,
            "sudo -u u -H ollama-proxy-client --force-token - --check",
        ),
        (
            18,
            "flock -n \"$HOME/l\" ollama-proxy-client >>\"$HOME/log\" 2>&1",
        ),
        (19, "ollama-proxy-client --pause"),
    ];
    let expected: Vec<(usize, String)> =
        expected.iter().map(|(n, t)| (*n, t.to_string())).collect();
    assert_eq!(found, expected);
    let cron = markdown_commands(SAMPLE).pop().unwrap();
    let env = vec![("HOME".to_string(), "/var/lib/x".to_string())];
    assert_eq!(cron.form, Form::Cron { block: 16, env });
}

#[test]
fn the_client_is_found_behind_its_wrappers() {
    let args = |command: &str| client_args(command).map(|args| args.join(" "));
    let cases = [
        ("ollama-proxy-client", Some("")),
        ("sudo -u u -H ollama-proxy-client --check", Some("--check")),
        (
            "sudo sh -c 'set -a; . /e; exec runuser -u u -- ollama-proxy-client --check'",
            Some("--check"),
        ),
        (
            "LANG=ru_RU.UTF-8 ollama-proxy-client --check",
            Some("--check"),
        ),
        (
            "printf '%s\\n' \"$T\" | ollama-proxy-client --force-token - --check",
            Some("--force-token - --check"),
        ),
        (
            "flock -n \"$HOME/l\" ollama-proxy-client >>\"$HOME/log\" 2>&1",
            Some(""),
        ),
        ("nohup ollama-proxy-client &", Some("")),
        ("sudo apt remove ollama-proxy-client", None),
        ("man ollama-proxy-client", None),
        ("journalctl -u ollama-proxy-client -f", None),
    ];
    for (command, expected) in cases {
        assert_eq!(args(command).as_deref(), expected, "{command}");
    }
}

#[test]
fn a_synopsis_runs_in_every_form() {
    let forms = runnable_forms("ollama-proxy-client --stats [--since 1h|7d] [--json]");
    let expected = [
        "ollama-proxy-client --stats",
        "ollama-proxy-client --stats --json",
        "ollama-proxy-client --stats --since 1h",
        "ollama-proxy-client --stats --since 1h --json",
        "ollama-proxy-client --stats --since 7d",
        "ollama-proxy-client --stats --since 7d --json",
    ];
    assert_eq!(forms, expected);
    let pause = runnable_forms("ollama-proxy-client --pause [DURATION]");
    assert_eq!(
        pause,
        [
            "ollama-proxy-client --pause",
            "ollama-proxy-client --pause 2h"
        ]
    );
}

const MAN_SAMPLE: &str = r#".TH OLLAMA-PROXY-CLIENT 1
.SH EXAMPLES
Check everything:
.PP
.RS
.EX
ollama\-proxy\-client \-\-check
printf \(aq%s\en\(aq "$T" | ollama\-proxy\-client \-\-force\-token \- \-\-check
.EE
.RE
"#;

#[test]
fn the_man_pages_examples_are_read_as_shell_lines() {
    let found: Vec<(usize, String)> = man_commands(MAN_SAMPLE)
        .into_iter()
        .map(|found| (found.line, found.text))
        .collect();
    let expected = [
        (7, "ollama-proxy-client --check".to_string()),
        (
            8,
            "printf '%s\\n' \"$T\" | ollama-proxy-client --force-token - --check".to_string(),
        ),
    ];
    assert_eq!(found, expected);
}
