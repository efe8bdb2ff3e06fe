//! Progress bars are drawn on a terminal (the pull runs under a pseudo-terminal, 120 columns),
//! and never with `--json` or `--quiet`.

use std::process::Command;
use std::time::Duration;

use crate::harness::{Cli, Running, Server, dataport_bin};

/// Runs argv under a new pseudo-terminal (stdin, stdout and stderr all on it, 40 x 120) and
/// prints everything the terminal showed; exits with the program's exit code, or 124 after
/// PTY_TIMEOUT seconds.
const PTY: &str = r#"
import fcntl, os, pty, select, signal, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    os.execv(sys.argv[1], sys.argv[1:])
out = bytearray()
deadline = time.monotonic() + float(os.environ["PTY_TIMEOUT"])
while time.monotonic() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.stdout.buffer.write(bytes(out))
    sys.exit(124)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(out))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// `dataport ARGS` on a terminal: its exit code and what the terminal showed, with the
/// terminal's own `\r\n` line ends made `\n`.
fn on_terminal(cli: &Cli, args: &[&str]) -> (i32, String) {
    let mut command = Command::new("python3");
    command.arg("-c").arg(PTY).arg(dataport_bin()).args(args);
    cli.sanitise(&mut command);
    command.env("TERM", "xterm-256color").env("PTY_TIMEOUT", "240").env_remove("NO_COLOR");
    let run = Running::spawn(command, args).finish(Duration::from_secs(300));
    assert_ne!(run.code, 124, "still running after 240 s: {run}");
    assert!(!run.stderr.contains("Traceback"), "the pty wrapper failed: {run}");
    (run.code, run.stdout.replace("\r\n", "\n"))
}

/// What only a redrawn progress line leaves on a terminal: a carriage return that does not end
/// a line, a line erase, a cursor move up, or hiding the cursor.
fn redraws(shown: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    if shown.contains('\r') {
        found.push("carriage return");
    }
    for (code, name) in
        [("\x1b[2K", "erase line"), ("\x1b[1A", "cursor up"), ("\x1b[A", "cursor up"), ("\x1b[?25l", "hide cursor")]
    {
        if shown.contains(code) {
            found.push(name);
        }
    }
    found
}

/// Bar glyphs of the usual progress styles, and the percentage sign.
const BAR_MARKS: [&str; 13] = ["%", "█", "▉", "▊", "▋", "▌", "▍", "▎", "▏", "░", "━", "=>", "#>"];

fn bar_marks(shown: &str) -> Vec<&'static str> {
    BAR_MARKS.iter().copied().filter(|m| shown.contains(m)).collect()
}

/// Spinner glyphs (the braille patterns spinners turn through).
fn spinners(shown: &str) -> Vec<char> {
    shown.chars().filter(|c| ('\u{2801}'..='\u{28ff}').contains(c)).take(5).collect()
}

#[test]
fn progress_is_drawn_on_a_terminal_and_not_with_json_or_quiet() {
    // A group big enough (about 3.7 MB of archive), downloaded slowly enough (1 MB/s), for the
    // bars to be drawn for a few seconds; time-based access without cooldown lets one token
    // pull it three times.
    let server = Server::start(&[
        "--emulator-records",
        "20",
        "--emulator-group-records",
        "myactivity.youtube=100000",
        "--cooldown-seconds",
        "0",
    ]);
    let token = server.admin_token("watcher", "myactivity.youtube", "30d");
    let cli = Cli::new();
    let config = cli.config.to_str().expect("utf8").to_owned();
    let pull = |name: &str, extra: Option<&str>| {
        let out = cli.home.path().join(name).to_str().expect("utf8").to_owned();
        let mut args = vec![
            "pull".to_owned(),
            "--token".to_owned(),
            token.clone(),
            "--api".to_owned(),
            server.base.clone(),
            "--resources".to_owned(),
            "myactivity.youtube".to_owned(),
            "--out".to_owned(),
            out,
            "--limit-rate".to_owned(),
            "1000000".to_owned(),
            "--config-dir".to_owned(),
            config.clone(),
        ];
        args.extend(extra.map(str::to_owned));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        on_terminal(&cli, &args)
    };

    let (code, shown) = pull("plain", None);
    assert_eq!(code, 0, "{shown}");
    let (redrawn, marks) = (redraws(&shown), bar_marks(&shown));
    assert!(!redrawn.is_empty() && !marks.is_empty(), "progress bars drawn on the terminal: {shown:?}");
    assert!(!shown.contains(&token), "{shown}");

    let (code, shown) = pull("json", Some("--json"));
    assert_eq!(code, 0, "{shown}");
    assert!(redraws(&shown).is_empty(), "no progress with --json: {:?} in {shown:?}", redraws(&shown));
    let glyphs: Vec<_> = bar_marks(&shown).into_iter().filter(|m| *m != "%").collect();
    assert!(glyphs.is_empty(), "no progress bar with --json: {glyphs:?} in {shown:?}");
    assert!(spinners(&shown).is_empty(), "no spinner with --json: {shown:?}");
    assert!(shown.contains("\"jobs\""), "the JSON document is shown: {shown:?}");

    let (code, shown) = pull("quiet", Some("--quiet"));
    assert_eq!(code, 0, "{shown}");
    assert!(shown.trim().is_empty(), "--quiet shows nothing on success: {shown:?}");
}
