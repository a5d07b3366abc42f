//! The owner's sharing rules, end to end: the real binary between the hub
//! and Ollama emulators on 127.0.0.1, with `sell_hours` (the client's
//! local time set through `TZ`: a zone whose local time now is what the
//! test needs, so a boundary comes in a second or two), the GPU guard
//! (a stand-in `nvidia-smi` on the client's `PATH`, a fake AMD sysfs
//! tree), and the model's unload and warm-up around each step back.

mod support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::answers::{buyer, streamed_answer, WAIT};
use support::client::TOKEN;
use support::client::{ledger_events, test_config, with, Client, Finished, Launch};
use support::gpu::{FakeNvidiaSmi, COOL_GPU, DRIVER_FAILED};
use support::hub::Hub;
use support::metrics::{http_get, sample};
use support::ollama::{Ollama, Reply};

/// How long a client that must stay away is watched for a connection.
const STAYS_AWAY: Duration = Duration::from_millis(800);

/// A POSIX `TZ` in which the local time now is `hh:mm:ss` (plus the
/// fraction of the current second): the client reads its local time
/// through the C library, which follows `TZ`, so the test can stand just
/// before a boundary without touching the system clock.
fn zone_where_now_is(hour: i64, minute: i64, second: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let utc_of_day = (now.as_secs() as i64).rem_euclid(86_400);
    let mut ahead = hour * 3600 + minute * 60 + second - utc_of_day;
    if ahead > 43_200 {
        ahead -= 86_400;
    } else if ahead <= -43_200 {
        ahead += 86_400;
    }
    // POSIX counts the other way: what to add to local time to get UTC.
    let sign = if ahead > 0 { '-' } else { '+' };
    let behind = ahead.abs();
    format!(
        "OPC{sign}{}:{:02}:{:02}",
        behind / 3600,
        behind % 3600 / 60,
        behind % 60
    )
}

/// The UTC second of the day of an RFC 3339 stamp (`...T22:00:00.000Z`).
fn second_of_day(stamp: &str) -> i64 {
    let time = &stamp[stamp.find('T').unwrap() + 1..];
    let field = |at: usize| time[at..at + 2].parse::<i64>().unwrap();
    field(0) * 3600 + field(3) * 60 + field(6)
}

/// The test config with `settings`, on `ollama`.
fn config(ollama: &Ollama, settings: &[(&str, Value)]) -> Value {
    let mut config = test_config(ollama.port());
    for (key, value) in settings {
        config = with(config, key, value.clone());
    }
    config
}

/// The client on `config` against `hub`, with `env`; not waited for.
fn start(config: &Value, hub: &Hub, env: &[(&str, &str)]) -> Client {
    Client::start_with_env(config, &["--server", &hub.url()], env)
}

fn owner(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Finished {
    let launch = Launch::in_home(home).args(args);
    env.iter()
        .fold(launch, |launch, (k, v)| launch.env(k, v))
        .run(WAIT)
}

/// `--status --json` until `done` holds (bounded by [`WAIT`]).
fn wait_status(home: &Path, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let run = owner(home, &[], &["--status", "--json"]);
        if let Ok(status) = serde_json::from_str::<Value>(run.stdout.trim()) {
            if done(&status) || Instant::now() > deadline {
                return status;
            }
        } else if Instant::now() > deadline {
            panic!("no status: {}", run.describe());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_ledger(home: &Path, event: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = ledger_events(home, event);
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// -------------------------------------------------------- selling hours

#[test]
fn outside_the_selling_hours_the_box_stays_away_and_says_until_when() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let tz = zone_where_now_is(12, 0, 0);
    let config = config(&ollama, &[("sell_hours", json!(["22:00-08:00"]))]);
    let client = start(&config, &hub, &[("TZ", &tz)]);
    let home = client.home.path();
    let status = wait_status(home, |s| s["away"]["reason"] == "outside_hours");
    assert_eq!(status["serving"], false, "{status}");
    assert_eq!(status["hub"]["state"], "away", "{status}");
    let hours = &status["selling_hours"];
    assert_eq!(hours["windows"], json!(["22:00-08:00"]), "{status}");
    assert_eq!(hours["selling"], false);
    // 22:00 local is ten hours from now, to the second.
    let next = hours["next_change"].as_str().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let off = (second_of_day(next) - (now + 10 * 3600).rem_euclid(86_400)).rem_euclid(86_400);
    assert!(off.min(86_400 - off) < 5, "{next} is not ten hours away");
    assert!(
        !hub.wait_connected(1, STAYS_AWAY),
        "connected outside the hours"
    );
    // Nothing was loaded onto the owner's GPU.
    assert!(ollama.load_requests().is_empty());
    let human = owner(home, &[("TZ", &tz)], &["--status"]);
    assert!(
        human
            .stdout
            .contains("22:00-08:00: not selling until 22:00:00"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("disconnected: outside the selling hours"),
        "{}",
        human.stdout
    );
    let away = wait_ledger(home, "away", 1);
    assert_eq!(away[0]["reason"], "outside_hours", "{away:?}");
    assert!(client.wait_output("outside the selling hours: no buyers until ", WAIT));
    // --check shows the windows as it understood them.
    let check = owner(home, &[("TZ", &tz)], &["--check"]);
    assert!(
        check
            .stdout
            .contains("selling hours: every day 22:00-08:00 (ends the next day); not selling now, until 22:00:00"),
        "{}",
        check.describe()
    );
    let russian = owner(home, &[("TZ", &tz), ("LANG", "ru_RU.UTF-8")], &["--status"]);
    assert!(
        russian
            .stdout
            .contains("22:00-08:00: не продаёт до 22:00:00"),
        "{}",
        russian.stdout
    );
}

#[test]
fn the_selling_hours_begin_on_time_and_the_model_is_warmed_first() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let tz = zone_where_now_is(21, 59, 58);
    let config = config(&ollama, &[("sell_hours", json!(["22:00-08:00"]))]);
    let started = Instant::now();
    let client = start(&config, &hub, &[("TZ", &tz)]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // Not before the window: it opens at 22:00:00, under two seconds in.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "connected too early"
    );
    assert_eq!(ollama.load_requests().len(), 1, "warmed up once, first");
    let back = wait_ledger(client.home.path(), "back", 1);
    assert_eq!(back[0]["reason"], "the selling hours began", "{back:?}");
    assert!(client.wait_output("selling again (the selling hours began)", WAIT));
    hub.send_json(&buyer(&json!(1), "hi"));
    ollama.push(Reply::pieces(&["Hel", "lo"]));
    streamed_answer(&hub, &json!(1));
}

#[test]
fn the_end_of_the_selling_hours_steps_back_unloads_the_model_and_a_resume_wins() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let tz = zone_where_now_is(7, 59, 58);
    let config = config(&ollama, &[("sell_hours", json!(["22:00-08:00"]))]);
    let client = start(&config, &hub, &[("TZ", &tz)]);
    let home = client.home.path();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    // 08:00: Close 1000 once nothing runs, and the GPU freed.
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    assert_eq!(hub.close_frames(), [Some(1000)]);
    assert!(ollama.wait_unloads(1, WAIT), "{}", client.output());
    let away = wait_ledger(home, "away", 1);
    assert_eq!(away[0]["reason"], "outside_hours");
    let disconnect = wait_ledger(home, "disconnect", 1);
    assert_eq!(disconnect[0]["reason"], "outside the selling hours");
    assert!(!hub.wait_connected(2, STAYS_AWAY));
    // The owner's --resume sells until the next boundary (22:00).
    let loads = ollama.load_requests().len();
    let resumed = owner(home, &[("TZ", &tz)], &["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert_eq!(ollama.load_requests().len(), loads + 1, "warmed up again");
    let status = wait_status(home, |s| s["serving"] == true);
    assert!(
        status["selling_hours"]["resumed_until"].is_string(),
        "{status}"
    );
    assert_eq!(status["selling_hours"]["selling"], false);
    let human = owner(home, &[("TZ", &tz)], &["--status"]);
    assert!(
        human
            .stdout
            .contains("outside them, but selling until 22:00:00 (--resume)"),
        "{}",
        human.stdout
    );
    // A --pause without a duration lasts until that boundary too.
    let paused = owner(home, &[("TZ", &tz)], &["--pause"]);
    assert!(
        paused.stdout.contains("paused until 22:00:00"),
        "{}",
        paused.describe()
    );
}

#[test]
fn a_bad_selling_window_is_refused_with_its_entry() {
    let ollama = Ollama::start();
    let config = config(
        &ollama,
        &[("sell_hours", json!(["22:00-08:00", "25:00-08:00"]))],
    );
    let run = Launch::with_config(&config).args(&["--check"]).run(WAIT);
    assert!(
        run.stderr.contains("key 'sell_hours' must be")
            || run.stdout.contains("key 'sell_hours' must be"),
        "{}",
        run.describe()
    );
    assert!(run.describe().contains("25:00-08:00"), "{}", run.describe());
}

#[test]
fn without_rules_no_hours_or_guard_thread_runs() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let client = start(&config(&ollama, &[]), &hub, &[]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let names = thread_names(client.process_pid());
    assert!(names.iter().any(|n| n == "writer"), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "hours" || n == "gpu-guard"),
        "{names:?}"
    );
}

/// The names of a process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let comm = |task: std::fs::DirEntry| std::fs::read_to_string(task.path().join("comm")).ok();
    let names = tasks.filter_map(Result::ok).filter_map(comm);
    names.map(|name| name.trim().to_string()).collect()
}

// ------------------------------------------------------------ GPU guard

/// A fast guard: a check every 0.1 s, back after 0.4 s clear; metrics on.
fn guard_config(ollama: &Ollama) -> Value {
    config(
        ollama,
        &[
            ("gpu_guard", json!(true)),
            ("gpu_check_secs", json!(0.1)),
            ("gpu_clear_secs", json!(0.4)),
            ("metrics_listen", json!("127.0.0.1:0")),
        ],
    )
}

/// The client on `config` with the stand-in `nvidia-smi` first on its
/// `PATH`.
fn start_guarded(config: &Value, hub: &Hub, nvidia: &FakeNvidiaSmi) -> Client {
    start(config, hub, &[("PATH", &nvidia.path_env())])
}

#[test]
fn a_hot_gpu_steps_back_unloads_and_returns_once_cool_for_the_clear_time() {
    let (ollama, hub, nvidia) = (Ollama::start(), Hub::start(TOKEN), FakeNvidiaSmi::install());
    let client = start_guarded(&guard_config(&ollama), &hub, &nvidia);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let (home, port) = (client.home.path(), client.metrics_port());
    let status = wait_status(home, |s| s["gpu_guard"]["gpus"][0]["temp_c"] == 45.0);
    assert!(status["away"].is_null(), "{status}");
    assert_eq!(status["gpu_guard"]["gpus"][0]["vendor"], "nvidia");
    nvidia.set_gpus("0, 91, 97, 20000, 24576\n");
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    assert_eq!(hub.close_frames(), [Some(1000)]);
    assert!(ollama.wait_unloads(1, WAIT), "{}", client.output());
    let status = wait_status(home, |s| s["away"]["reason"] == "gpu_hot");
    assert_eq!(status["away"]["temp_c"], 91.0, "{status}");
    assert_eq!(status["hub"]["state"], "away");
    let (_, metrics) = http_get(port, "/metrics");
    assert_eq!(
        sample(&metrics, "ollama_proxy_away{reason=\"gpu_hot\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "ollama_proxy_away{reason=\"paused\"}"),
        Some(0.0)
    );
    let temperature = "ollama_proxy_gpu_temperature_celsius{gpu=\"0\"}";
    assert_eq!(sample(&metrics, temperature), Some(91.0), "{metrics}");
    let busy = "ollama_proxy_gpu_utilization_percent{gpu=\"0\"}";
    assert_eq!(sample(&metrics, busy), Some(97.0));
    let check = owner(home, &[("PATH", &nvidia.path_env())], &["--check"]);
    let read = format!(
        "[ OK ] GPU guard reads nvidia-smi ({}): GPU 0: 91 °C, 97 % busy",
        nvidia.program().display()
    );
    assert!(check.stdout.contains(&read), "{}", check.describe());
    let human = owner(home, &[], &["--status"]);
    assert!(
        human
            .stdout
            .contains("away: GPU 0 is at 91 °C (over 85 °C)"),
        "{}",
        human.stdout
    );
    assert!(human
        .stdout
        .contains("disconnected: the GPU guard stepped back"));
    let russian = owner(home, &[("LANG", "ru_RU.UTF-8")], &["--status"]);
    assert!(
        russian
            .stdout
            .contains("GPU 0 нагрет до 91 °C (больше 85 °C)"),
        "{}",
        russian.stdout
    );
    let away = wait_ledger(home, "away", 1);
    assert_eq!(away[0]["reason"], "gpu_hot", "{away:?}");
    assert_eq!(away[0]["detail"], "GPU 0 is at 91 °C (over 85 °C)");
    // Logged once, though every check finds it hot.
    assert!(!hub.wait_connected(2, STAYS_AWAY));
    let stepped = "gpu_guard: stepping back from the hub: GPU 0 is at 91 °C";
    assert_eq!(
        client.output().matches(stepped).count(),
        1,
        "{}",
        client.output()
    );
    // Cool: back after the clear time, the model loaded again first.
    let loads = ollama.load_requests().len();
    nvidia.set_gpus(COOL_GPU);
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert!(
        ollama.load_requests().len() > loads,
        "warmed up before returning"
    );
    let back = wait_ledger(home, "back", 1);
    assert_eq!(back[0]["reason"], "the GPU guard's conditions have cleared");
    // The hours' own log lines are not the guard's.
    let output = client.output();
    assert!(!output.contains("selling again") && !output.contains("outside the selling hours"));
    hub.send_json(&buyer(&json!(1), "hi"));
    ollama.push(Reply::pieces(&["Hel", "lo"]));
    streamed_answer(&hub, &json!(1));
}

#[test]
fn another_program_on_the_gpu_steps_back_but_the_model_server_does_not() {
    let (ollama, hub, nvidia) = (Ollama::start(), Hub::start(TOKEN), FakeNvidiaSmi::install());
    nvidia.set_apps("1234, /usr/local/bin/ollama, 4096\n");
    let client = start_guarded(&guard_config(&ollama), &hub, &nvidia);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let home = client.home.path();
    let queries = nvidia.gpu_queries();
    wait_status(home, |_| nvidia.gpu_queries() >= queries + 3);
    assert!(
        hub.close_frames().is_empty(),
        "Ollama itself is no other user"
    );
    nvidia.set_apps("1234, /usr/local/bin/ollama, 4096\n4242, /usr/bin/blender, 2048\n");
    assert!(hub.wait_close_frames(1, WAIT), "{}", client.output());
    let status = wait_status(home, |s| s["away"]["reason"] == "gpu_in_use");
    assert_eq!(status["away"]["program"], "/usr/bin/blender", "{status}");
    assert_eq!(status["away"]["pid"], 4242);
    let russian = owner(home, &[("LANG", "ru_RU.UTF-8")], &["--status"]);
    assert!(
        russian
            .stdout
            .contains("GPU занят другой программой: /usr/bin/blender (pid 4242)"),
        "{}",
        russian.stdout
    );
    // A --pause meanwhile is the owner's too; --resume ends only the pause.
    nvidia.set_apps("");
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
}

#[test]
fn a_broken_hanging_or_flooding_nvidia_smi_never_stops_the_relay() {
    let (ollama, hub, nvidia) = (Ollama::start(), Hub::start(TOKEN), FakeNvidiaSmi::install());
    let client = start_guarded(&guard_config(&ollama), &hub, &nvidia);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let home = client.home.path();
    let flood = "x".repeat(10 << 20);
    let cases: [(&dyn Fn(), &str); 4] = [
        (&|| nvidia.fail(DRIVER_FAILED), "NVIDIA-SMI has failed"),
        (&|| nvidia.set_gpus("garbage\n"), "garbage"),
        (&|| nvidia.set_gpus(&flood), "more than 64 KiB"),
        (&|| nvidia.hang(), "did not answer within"),
    ];
    for (id, (break_it, error)) in cases.into_iter().enumerate() {
        break_it();
        let status = wait_status(home, |s| {
            s["gpu_guard"]["error"]
                .as_str()
                .is_some_and(|e| e.contains(error))
        });
        assert!(
            status["gpu_guard"]["error"]
                .as_str()
                .unwrap()
                .contains(error),
            "{status}"
        );
        // Buyers are served all along, and the box stays connected.
        let id = json!(id);
        ollama.push(Reply::pieces(&["o", "k"]));
        hub.send_json(&buyer(&id, "hi"));
        streamed_answer(&hub, &id);
        nvidia.heal();
        nvidia.set_gpus(COOL_GPU);
        wait_status(home, |s| s["gpu_guard"]["error"].is_null());
    }
    assert!(hub.close_frames().is_empty(), "{}", client.output());
    assert_eq!(hub.connections(), 1);
    let once = "NVIDIA-SMI has failed";
    assert_eq!(
        client.output().matches(once).count(),
        1,
        "{}",
        client.output()
    );
}

#[test]
fn an_amd_gpu_is_read_from_sysfs_and_a_box_started_hot_never_connects() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let sysfs = tempfile::tempdir().unwrap();
    let device = sysfs.path().join("card1/device");
    std::fs::create_dir_all(device.join("hwmon/hwmon3")).unwrap();
    std::fs::write(device.join("gpu_busy_percent"), "5\n").unwrap();
    let temp = device.join("hwmon/hwmon3/temp1_input");
    std::fs::write(&temp, "95000\n").unwrap();
    let mut config = guard_config(&ollama);
    config["gpu_sysfs_root"] = json!(sysfs.path());
    let nowhere = tempfile::tempdir().unwrap();
    let path = nowhere.path().display().to_string();
    let client = start(&config, &hub, &[("PATH", &path)]);
    let home = client.home.path();
    let status = wait_status(home, |s| s["away"]["reason"] == "gpu_hot");
    assert_eq!(status["away"]["gpu"], "card1", "{status}");
    assert_eq!(status["gpu_guard"]["gpus"][0]["vendor"], "amd");
    assert!(!hub.wait_connected(1, STAYS_AWAY), "connected while hot");
    assert!(
        ollama.load_requests().is_empty(),
        "nothing loaded while hot"
    );
    std::fs::write(&temp, "50000\n").unwrap();
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
}

#[test]
fn with_no_gpu_tool_the_guard_says_so_once_and_stays_off() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let (sysfs, nowhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut config = guard_config(&ollama);
    config["gpu_sysfs_root"] = json!(sysfs.path());
    let path = nowhere.path().display().to_string();
    let client = start(&config, &hub, &[("PATH", &path)]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let said = "gpu_guard is on but no GPU tool was found";
    assert_eq!(
        client.output().matches(said).count(),
        1,
        "{}",
        client.output()
    );
    let check = owner(client.home.path(), &[("PATH", &path)], &["--check"]);
    assert!(
        check.stdout.contains(&format!(
            "[NOTE] GPU guard: no GPU tool found (nvidia-smi is not on PATH, no AMD GPU under {}): \
             the guard stays off",
            sysfs.path().display()
        )),
        "{}",
        check.describe()
    );
    let status = wait_status(client.home.path(), |s| s["serving"] == true);
    assert!(status["gpu_guard"].is_null(), "{status}");
    assert!(!thread_names(client.process_pid()).contains(&"gpu-guard".to_string()));
}

#[test]
fn the_guard_reads_the_gpus_at_most_once_per_check() {
    let (ollama, hub, nvidia) = (Ollama::start(), Hub::start(TOKEN), FakeNvidiaSmi::install());
    let mut config = guard_config(&ollama);
    config["gpu_check_secs"] = json!(0.25);
    let client = start_guarded(&config, &hub, &nvidia);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let names = thread_names(client.process_pid());
    assert!(names.iter().any(|n| n == "gpu-guard"), "{names:?}");
    let (first, since) = (nvidia.gpu_queries(), Instant::now());
    std::thread::sleep(Duration::from_millis(1500));
    let (reads, elapsed) = (nvidia.gpu_queries() - first, since.elapsed());
    // Never more often than once per check (the first may be under way).
    let most = (elapsed.as_secs_f64() / 0.25).floor() as usize + 1;
    assert!(reads <= most, "{reads} reads in {elapsed:?}");
    assert!(reads >= 1, "the guard stopped reading");
}

// ------------------------------------------------------ freeing the GPU

#[test]
fn a_pause_unloads_the_model_once_and_the_resume_loads_it_before_buyers_come() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let client = start(&config(&ollama, &[]), &hub, &[]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let home = client.home.path();
    assert_eq!(ollama.load_requests().len(), 1, "the warm-up");
    let paused = owner(home, &[], &["--pause"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(hub.wait_close_frames(1, WAIT));
    assert!(ollama.wait_unloads(1, WAIT), "{}", client.output());
    let unload = &ollama.unload_requests()[0];
    assert_eq!(unload.body["model"], "llama3.2");
    assert_eq!(unload.body["keep_alive"], 0);
    assert!(client.wait_output("Ollama unloaded the model llama3.2 to free the GPU", WAIT));
    assert!(!hub.wait_connected(2, STAYS_AWAY));
    assert_eq!(ollama.unload_requests().len(), 1, "once per step back");
    let resumed = owner(home, &[], &["--resume"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.describe());
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert_eq!(
        ollama.load_requests().len(),
        2,
        "loaded again before connecting"
    );
}

#[test]
fn with_unload_on_pause_off_the_model_stays() {
    let (ollama, hub) = (Ollama::start(), Hub::start(TOKEN));
    let config = config(&ollama, &[("unload_on_pause", json!(false))]);
    let client = start(&config, &hub, &[]);
    assert!(hub.wait_connected(1, WAIT), "{}", client.output());
    let home = client.home.path();
    let paused = owner(home, &[], &["--pause"]);
    assert_eq!(paused.code(), Some(0), "{}", paused.describe());
    assert!(hub.wait_close_frames(1, WAIT));
    assert!(
        !ollama.wait_unloads(1, STAYS_AWAY),
        "unloaded though told not to"
    );
    owner(home, &[], &["--resume"]);
    assert!(hub.wait_connected(2, WAIT), "{}", client.output());
    assert_eq!(ollama.load_requests().len(), 1, "no second warm-up needed");
}
