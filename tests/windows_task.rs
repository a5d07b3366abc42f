//! The Task Scheduler file shipped in the Windows zip
//! (`scripts/windows/ollama-proxy-client-task.xml`, issue 25): nothing here
//! can run `schtasks`, so this reads the file as Windows will and checks
//! what registering it depends on.
//!
//! - The encoding: UTF-16 little-endian with its byte order mark, and a
//!   declaration that says UTF-16, as the files Task Scheduler exports.
//!   Owners report schtasks refusing UTF-8: "unable to switch the
//!   encoding" for a file that declares UTF-8, "incorrect document syntax"
//!   for one with a UTF-8 byte order mark. The lines end in CRLF, so that
//!   any Notepad shows them as lines.
//! - The form: well-formed XML, one `Task` root in Microsoft's task
//!   namespace, every element one Microsoft's Task Scheduler schema allows
//!   where it stands (the tables below are the schema's, for the parents
//!   this file uses), the trigger's children in the schema's order.
//! - What the task must do (docs/install.md, "Start at boot on Windows"):
//!   start at boot, as the owner without a stored password (S4U; the user
//!   comes from `schtasks /ru`), never be stopped for running long
//!   (`ExecutionTimeLimit` PT0S: the default, 72 hours, would end the
//!   client after three days), not stop on battery, start once, retry a
//!   failed start every minute, run the program from the owner's profile.
//! - The documented changes (at logon: two words replaced in Notepad; a
//!   stored password: one) give files that pass the same form checks.
//! - The command the file's comment gives is the one both install pages give.
//!
//! To change the file, write it as UTF-8 and convert it, e.g.
//! `python3 -c "import sys; t=open(sys.argv[1],encoding='utf-8').read().replace('\n','\r\n'); open(sys.argv[2],'wb').write(b'\xff\xfe'+t.encode('utf-16-le'))" task.xml scripts/windows/ollama-proxy-client-task.xml`.

use std::collections::BTreeMap;
use std::path::Path;

const TASK_FILE: &str = "scripts/windows/ollama-proxy-client-task.xml";

/// The command that registers the task, as the file's comment and the
/// install pages give it.
const REGISTER: &str = r#"schtasks /create /tn "ollama-proxy-client" /xml ollama-proxy-client-task.xml /ru "%USERDOMAIN%\%USERNAME%" /np"#;

/// Where the zip's README tells the owner to unpack the program.
const COMMAND: &str = r#""%USERPROFILE%\ollama-proxy-client\ollama-proxy-client.exe""#;

const NAMESPACE: &str = "http://schemas.microsoft.com/windows/2004/02/mit/task";

fn read(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The file's text: UTF-16LE after a byte order mark, or why not.
fn decode(bytes: &[u8]) -> Result<String, String> {
    let body = bytes
        .strip_prefix(&[0xFF, 0xFE])
        .ok_or("no UTF-16LE byte order mark (FF FE) at the start")?;
    if body.len() % 2 != 0 {
        return Err("an odd number of bytes after the mark".into());
    }
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    String::from_utf16(&units).map_err(|e| format!("not UTF-16: {e}"))
}

// ================================================================ a small XML reader

/// An element: its name, attributes, child elements and text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn child(&self, name: &str) -> &Element {
        let found: Vec<&Element> = self.children.iter().filter(|c| c.name == name).collect();
        match found.as_slice() {
            [one] => one,
            _ => panic!("{} has {} {name} elements, not one", self.name, found.len()),
        }
    }

    /// The element at `path` (`Settings/RestartOnFailure/Count`) below this one.
    fn at(&self, path: &str) -> &Element {
        path.split('/')
            .fold(self, |element, name| element.child(name))
    }

    fn value(&self, path: &str) -> &str {
        self.at(path).text.trim()
    }

    fn has(&self, name: &str) -> bool {
        self.children.iter().any(|c| c.name == name)
    }
}

/// The document after its declaration: comments and white space around one
/// root element. Enough XML for this file (no DTD, no CDATA, no processing
/// instructions but the declaration); anything else is an error.
fn parse(text: &str) -> Result<Element, String> {
    let mut rest = text;
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let Some(open) = rest.find('<') else {
            if !rest.trim().is_empty() {
                return Err(format!("text after the root: {:?}", rest.trim()));
            }
            break;
        };
        let (text_before, tag) = rest.split_at(open);
        if stack.len() == 1 && !text_before.trim().is_empty() {
            return Err(format!("text outside the root: {:?}", text_before.trim()));
        }
        let top = stack.last_mut().expect("the stack holds the document");
        top.text.push_str(&unescape(text_before)?);
        if let Some(comment) = tag.strip_prefix("<!--") {
            let end = comment.find("-->").ok_or("an unclosed comment")?;
            if comment[..end].contains("--") {
                return Err("a comment holds \"--\", which XML forbids".into());
            }
            rest = &comment[end + 3..];
            continue;
        }
        if tag.starts_with("<?") || tag.starts_with("<!") {
            return Err(format!("unexpected markup: {}", &tag[..tag.len().min(20)]));
        }
        let close = tag.find('>').ok_or("an unclosed tag")?;
        let inside = &tag[1..close];
        rest = &tag[close + 1..];
        if let Some(name) = inside.strip_prefix('/') {
            let element = stack.pop().filter(|_| !stack.is_empty());
            let element = element.ok_or("an end tag without a start")?;
            if element.name != name.trim() {
                return Err(format!("</{}> closes <{}>", name.trim(), element.name));
            }
            stack.last_mut().unwrap().children.push(element);
            continue;
        }
        let (inside, empty) = match inside.strip_suffix('/') {
            Some(inside) => (inside, true),
            None => (inside, false),
        };
        let element = start_tag(inside)?;
        if empty {
            stack.last_mut().unwrap().children.push(element);
        } else {
            stack.push(element);
        }
    }
    if stack.len() != 1 {
        return Err(format!("<{}> is never closed", stack.last().unwrap().name));
    }
    let mut document = stack.pop().unwrap();
    match document.children.len() {
        1 => Ok(document.children.pop().unwrap()),
        n => Err(format!("{n} root elements, not one")),
    }
}

/// `Name attr="value" ...` as an element.
fn start_tag(inside: &str) -> Result<Element, String> {
    let name_end = inside.find(char::is_whitespace).unwrap_or(inside.len());
    let mut element = Element {
        name: inside[..name_end].to_string(),
        ..Element::default()
    };
    let mut rest = inside[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or(format!("a bad attribute in <{inside}>"))?;
        let name = rest[..eq].trim().to_string();
        let value = rest[eq + 1..].trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
        let quote = quote.ok_or(format!("an unquoted attribute in <{inside}>"))?;
        let end = value[1..].find(quote).ok_or("an unclosed attribute")? + 1;
        element
            .attributes
            .insert(name, unescape(&value[1..end])?.to_string());
        rest = value[end + 1..].trim_start();
    }
    Ok(element)
}

/// Text with XML's five entities read; any other `&` is an error.
fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').ok_or("a bare &")? + at;
        out.push(match &rest[at + 1..end] {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            other => return Err(format!("an unknown entity &{other};")),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

// ================================================================ Microsoft's schema

/// The children Microsoft's Task Scheduler schema allows each parent this
/// file may use (taskType, registrationInfoType, triggersType, the boot and
/// logon trigger types, principalsType, principalType, settingsType,
/// restartType, idleSettingsType, actionsType, execType). `true`: in this
/// order (an `xs:sequence`); `false`: in any order (`xs:all`).
const SCHEMA: &[(&str, bool, &[&str])] = &[
    (
        "Task",
        false,
        &[
            "RegistrationInfo",
            "Triggers",
            "Settings",
            "Data",
            "Principals",
            "Actions",
        ],
    ),
    (
        "RegistrationInfo",
        false,
        &[
            "URI",
            "SecurityDescriptor",
            "Source",
            "Date",
            "Author",
            "Version",
            "Description",
            "Documentation",
        ],
    ),
    (
        "Triggers",
        false,
        &[
            "BootTrigger",
            "RegistrationTrigger",
            "IdleTrigger",
            "TimeTrigger",
            "EventTrigger",
            "LogonTrigger",
            "SessionStateChangeTrigger",
            "CalendarTrigger",
        ],
    ),
    (
        "BootTrigger",
        true,
        &[
            "Enabled",
            "StartBoundary",
            "EndBoundary",
            "Repetition",
            "ExecutionTimeLimit",
            "Delay",
        ],
    ),
    (
        "LogonTrigger",
        true,
        &[
            "Enabled",
            "StartBoundary",
            "EndBoundary",
            "Repetition",
            "ExecutionTimeLimit",
            "UserId",
            "Delay",
        ],
    ),
    ("Principals", false, &["Principal"]),
    (
        "Principal",
        false,
        &[
            "UserId",
            "LogonType",
            "GroupId",
            "DisplayName",
            "RunLevel",
            "ProcessTokenSidType",
            "RequiredPrivileges",
        ],
    ),
    (
        "Settings",
        false,
        &[
            "AllowStartOnDemand",
            "RestartOnFailure",
            "MultipleInstancesPolicy",
            "DisallowStartIfOnBatteries",
            "StopIfGoingOnBatteries",
            "AllowHardTerminate",
            "StartWhenAvailable",
            "NetworkProfileName",
            "RunOnlyIfNetworkAvailable",
            "WakeToRun",
            "Enabled",
            "Hidden",
            "DeleteExpiredTaskAfter",
            "IdleSettings",
            "NetworkSettings",
            "ExecutionTimeLimit",
            "Priority",
            "RunOnlyIfIdle",
            "UseUnifiedSchedulingEngine",
            "DisallowStartOnRemoteAppSession",
        ],
    ),
    ("RestartOnFailure", false, &["Interval", "Count"]),
    (
        "IdleSettings",
        false,
        &["Duration", "WaitTimeout", "StopOnIdleEnd", "RestartOnIdle"],
    ),
    (
        "Actions",
        false,
        &["Exec", "ComHandler", "SendEmail", "ShowMessage"],
    ),
    ("Exec", false, &["Command", "Arguments", "WorkingDirectory"]),
];

/// Every element below `element` against [`SCHEMA`] (an element allowed
/// there without an entry of its own holds text only); the problems
/// found, with their paths.
fn schema_problems(element: &Element, path: &str, problems: &mut Vec<String>) {
    let path = format!("{path}/{}", element.name);
    let Some((_, ordered, allowed)) = SCHEMA.iter().find(|(name, ..)| *name == element.name) else {
        if !element.children.is_empty() {
            problems.push(format!(
                "{path} holds elements; the schema gives it text only"
            ));
        }
        return;
    };
    let mut last = 0;
    for child in &element.children {
        let Some(at) = allowed.iter().position(|name| *name == child.name) else {
            problems.push(format!("{path}: the schema allows no {} here", child.name));
            continue;
        };
        if *ordered && at < last {
            problems.push(format!("{path}: {} out of the schema's order", child.name));
        }
        last = at;
        let repeats = element
            .children
            .iter()
            .filter(|c| c.name == child.name)
            .count();
        let may_repeat =
            ["Principal", "Exec"].contains(&child.name.as_str()) || element.name == "Triggers";
        if repeats > 1 && !may_repeat {
            problems.push(format!("{path}: {} more than once", child.name));
        }
        schema_problems(child, &path, problems);
    }
}

/// The form every variant of the file must have: the declaration, the
/// root, the schema.
fn form_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let declaration = r#"<?xml version="1.0" encoding="UTF-16"?>"#;
    let Some(body) = text.strip_prefix(declaration) else {
        return vec![format!("the file does not start with {declaration}")];
    };
    let root = match parse(body) {
        Ok(root) => root,
        Err(why) => return vec![format!("not well-formed XML: {why}")],
    };
    if root.name != "Task" {
        problems.push(format!("the root is {}, not Task", root.name));
    }
    if root.attributes.get("xmlns").map(String::as_str) != Some(NAMESPACE) {
        problems.push(format!("the root's xmlns is not {NAMESPACE}"));
    }
    let version = root.attributes.get("version").map(String::as_str);
    if !matches!(version, Some("1.2" | "1.3" | "1.4")) {
        problems.push(format!(
            "Task version {version:?}: 1.2 (Windows 7 and later) or newer"
        ));
    }
    schema_problems(&root, "", &mut problems);
    problems
}

fn task_text() -> String {
    decode(&read(TASK_FILE)).unwrap_or_else(|why| panic!("{TASK_FILE}: {why}"))
}

fn task() -> Element {
    let text = task_text();
    let body = text.split_once("?>").expect("a declaration").1;
    parse(body).unwrap_or_else(|why| panic!("{TASK_FILE}: {why}"))
}

// ================================================================ the tests

#[test]
fn the_task_file_is_utf16le_with_a_bom_and_crlf_lines() {
    let text = task_text();
    assert!(
        text.starts_with(r#"<?xml version="1.0" encoding="UTF-16"?>"#),
        "{TASK_FILE}: the declaration must say UTF-16, as the bytes are"
    );
    assert!(
        !text.contains('\u{feff}'),
        "{TASK_FILE}: a second byte order mark"
    );
    let bare_newlines = text.replace("\r\n", "").matches('\n').count();
    assert_eq!(bare_newlines, 0, "{TASK_FILE}: lines must end in CRLF");
    assert!(
        text.is_ascii(),
        "{TASK_FILE}: keep it ASCII (the owner edits it in Notepad)"
    );
    // A UTF-8 copy of the same text would be refused by schtasks; the check
    // refuses it too.
    assert!(decode(text.as_bytes()).is_err());
}

#[test]
fn the_task_file_follows_microsofts_task_scheduler_schema() {
    let problems = form_problems(&task_text());
    assert!(problems.is_empty(), "{TASK_FILE}:\n{}", problems.join("\n"));
}

#[test]
fn the_task_starts_at_boot_as_the_owner_and_is_never_stopped_for_running_long() {
    let task = task();
    // At boot; the owner's account, from `schtasks /ru`, without a stored
    // password (S4U), without elevation.
    assert_eq!(task.value("Triggers/BootTrigger/Enabled"), "true");
    assert_eq!(task.at("Triggers").children.len(), 1, "one trigger");
    let principal = task.at("Principals/Principal");
    assert_eq!(principal.value("LogonType"), "S4U");
    assert_eq!(principal.value("RunLevel"), "LeastPrivilege");
    assert!(
        !principal.has("UserId"),
        "the user comes from /ru, not the file"
    );
    let id = principal.attributes.get("id").expect("the principal's id");
    assert_eq!(task.at("Actions").attributes.get("Context"), Some(id));
    // Never stopped for running long, on battery, or by a second start.
    let settings = task.at("Settings");
    assert_eq!(settings.value("ExecutionTimeLimit"), "PT0S");
    assert_eq!(settings.value("DisallowStartIfOnBatteries"), "false");
    assert_eq!(settings.value("StopIfGoingOnBatteries"), "false");
    assert_eq!(settings.value("MultipleInstancesPolicy"), "IgnoreNew");
    assert_eq!(settings.value("Enabled"), "true");
    // `schtasks /run` may start it; `schtasks /end` may end it.
    assert_eq!(settings.value("AllowStartOnDemand"), "true");
    assert_eq!(settings.value("AllowHardTerminate"), "true");
    // A failed start is retried every minute (PT1M is the schema's least).
    assert_eq!(settings.value("RestartOnFailure/Interval"), "PT1M");
    assert_eq!(settings.value("RestartOnFailure/Count"), "999");
    // Normal priority: the default, 7, is below normal, with low I/O
    // priority, behind a busy Ollama.
    let priority: u8 = settings.value("Priority").parse().expect("a number");
    assert!(
        (4..=6).contains(&priority),
        "Priority {priority}: 4-6 is normal"
    );
    assert!(!settings.has("RunOnlyIfIdle") || settings.value("RunOnlyIfIdle") == "false");
    assert!(
        !settings.has("RunOnlyIfNetworkAvailable"),
        "the client waits for the network itself"
    );
    // The program, where the zip's README puts it (pathType: under 260).
    let exec = task.at("Actions/Exec");
    assert_eq!(task.at("Actions").children.len(), 1, "one action");
    assert_eq!(exec.value("Command"), COMMAND);
    assert!(COMMAND.len() < 260);
}

#[test]
fn the_documented_changes_give_valid_tasks() {
    let text = task_text();
    let logon = text
        .replace("BootTrigger", "LogonTrigger")
        .replace("S4U", "InteractiveToken");
    assert_eq!(logon.matches("<LogonTrigger>").count(), 1);
    assert_eq!(logon.matches("<LogonType>InteractiveToken<").count(), 1);
    let problems = form_problems(&logon);
    assert!(
        problems.is_empty(),
        "the logon variant:\n{}",
        problems.join("\n")
    );
    // With a stored password, for network shares: one word replaced.
    let password = text.replace("S4U", "Password");
    assert_eq!(password.matches("<LogonType>Password<").count(), 1);
    let problems = form_problems(&password);
    assert!(
        problems.is_empty(),
        "the password variant:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_file_and_the_install_pages_give_the_same_command() {
    assert!(
        task_text().contains(REGISTER),
        "{TASK_FILE}: its comment must give `{REGISTER}`"
    );
    for page in ["docs/install.md", "docs/ru/install.md"] {
        let text = String::from_utf8(read(page)).unwrap();
        assert!(text.contains(REGISTER), "{page} must give `{REGISTER}`");
        assert!(
            text.contains(COMMAND.trim_matches('"')),
            "{page} must name {COMMAND}"
        );
    }
}

#[test]
fn the_reader_refuses_what_windows_would() {
    let ok = r#"<?xml version="1.0" encoding="UTF-16"?><Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Actions><Exec><Command>a.exe</Command></Exec></Actions></Task>"#;
    assert_eq!(form_problems(ok), Vec::<String>::new());
    for (bad, why) in [
        (ok.replace("UTF-16", "UTF-8"), "the declaration"),
        (ok.replace("</Exec>", ""), "an unclosed element"),
        (ok.replace("<Exec>", "<Exec><Comand>b</Comand>"), "a misspelt element"),
        (ok.replace("<Actions>", "<Settings><ExecutionTimeLimit>PT0S</ExecutionTimeLimit><Exec/></Settings><Actions>"), "an element in the wrong parent"),
        (ok.replace("2004/02/mit/task", "2004/02/mit/tasks"), "the namespace"),
        (ok.replace("<Actions>", "<!-- a -- b --><Actions>"), "-- in a comment"),
        (
            ok.replace("<Actions>", "<Triggers><BootTrigger><Delay>PT1M</Delay><Enabled>true</Enabled></BootTrigger></Triggers><Actions>"),
            "a trigger's children out of order",
        ),
    ] {
        assert!(!form_problems(&bad).is_empty(), "{why} passed:\n{bad}");
    }
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(ok.encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(decode(&utf16).as_deref(), Ok(ok));
    assert!(decode(&utf16[2..]).is_err(), "no byte order mark");
}
