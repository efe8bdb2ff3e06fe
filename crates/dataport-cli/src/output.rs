//! Where output goes. Results: one JSON document on stdout with `--json`, plain lines on stdout
//! otherwise, nothing with `--quiet`. Human notes go to stderr (never with `--quiet`). Progress
//! bars draw on stderr only when it is a terminal and neither `--json` nor `--quiet` is given.

use std::io::IsTerminal;

use dataport_types::Timestamp;
use indicatif::{MultiProgress, ProgressDrawTarget};
use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

/// Renders instants in the user's time zone. The offset is read once, at start-up, while the
/// process has a single thread (the only time the platform lets us read it soundly).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    offset: UtcOffset,
}

impl Clock {
    /// The local offset now (UTC if it cannot be determined).
    pub fn detect() -> Self {
        Self { offset: UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC) }
    }

    #[cfg(test)]
    pub fn with_offset(offset: UtcOffset) -> Self {
        Self { offset }
    }

    /// `2026-11-28 11:00:00 +01:00`.
    pub fn local(&self, t: Timestamp) -> String {
        let Ok(dt) = OffsetDateTime::from_unix_timestamp(t.unix_seconds()) else { return t.to_string() };
        let dt = dt.to_offset(self.offset);
        let (h, m) = (self.offset.whole_hours(), self.offset.minutes_past_hour().abs());
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {}{:02}:{:02}",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            if self.offset.is_negative() { '-' } else { '+' },
            h.abs(),
            m
        )
    }
}

/// How a command reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Human,
    Json,
    Quiet,
}

/// The output settings of one run.
#[derive(Clone, Debug)]
pub struct Output {
    pub mode: Mode,
    /// `--quiet`, also when `--json` decides the mode: no notes on stderr.
    quiet: bool,
    bars: bool,
}

/// What a command produced: its JSON document and its lines for people.
pub struct Report {
    pub json: Value,
    pub human: Vec<String>,
}

impl Output {
    pub fn new(json: bool, quiet: bool) -> Self {
        let mode = if json {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else {
            Mode::Human
        };
        Self { mode, quiet, bars: mode == Mode::Human && std::io::stderr().is_terminal() }
    }

    /// Whether progress bars draw.
    pub fn bars(&self) -> bool {
        self.bars
    }

    /// A line for people on stderr (not with `--quiet`).
    pub fn note(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A container for progress bars: on stderr when bars draw, hidden otherwise.
    pub fn progress(&self) -> MultiProgress {
        let target = if self.bars { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        MultiProgress::with_draw_target(target)
    }

    /// Prints a command's result.
    pub fn report(&self, report: &Report) {
        match self.mode {
            Mode::Json => println!("{}", serde_json::to_string_pretty(&report.json).unwrap_or_default()),
            Mode::Human => {
                for line in &report.human {
                    println!("{line}");
                }
            }
            Mode::Quiet => {}
        }
    }

    /// Prints a failure: one line on stderr, and with `--json` the error document on stdout
    /// (with `extra` fields, such as the jobs a partly failed pull finished).
    pub fn failure(&self, error: &crate::error::CliError, extra: Option<Value>) {
        eprintln!("dataport: {error}");
        if self.mode == Mode::Json {
            let mut doc = error.to_json();
            if let (Some(Value::Object(extra)), Some(object)) = (extra, doc.as_object_mut()) {
                object.extend(extra);
            }
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
    }
}

/// `1.5 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_shows_the_offset() {
        let t = Timestamp::parse("2026-11-28T10:00:00Z").expect("ts");
        let paris = Clock::with_offset(UtcOffset::from_hms(1, 0, 0).expect("offset"));
        assert_eq!(paris.local(t), "2026-11-28 11:00:00 +01:00");
        let st_johns = Clock::with_offset(UtcOffset::from_hms(-3, -30, 0).expect("offset"));
        assert_eq!(st_johns.local(t), "2026-11-28 06:30:00 -03:30");
    }
}
