//! The emulator data source: deterministic synthetic data in Google's export shapes (SPEC §8.1).
//!
//! # Timeline model
//!
//! Every (seed, subject, group) has an infinite timeline of record *slots*. With `N` records
//! configured for the group, slots are `Δ = HISTORY / N` microseconds apart: slot `j` (any `i64`)
//! lies at `t_j = j·Δ + jitter_j` with `0 ≤ jitter_j < Δ`, so slot times are strictly increasing
//! in `j` and every slot owns its own interval `[j·Δ, (j+1)·Δ)`. An export writes exactly the slots
//! whose time lies in `[max(startTime, exportTime − HISTORY), exportTime)`, newest first (as Google's
//! My Activity does). Hence:
//!
//! - a full export holds about `N` records, and a time-filtered one a real subset;
//! - the jitter and the content of a slot are pure functions of (seed, subject, group name, `j`), so
//!   the same slot always yields the same bytes and successive incremental exports with
//!   `startTime = previous exportTime` neither miss nor repeat a record;
//! - no state is kept anywhere: two servers (or a crash and a restart) produce identical archives.
//!
//! Randomness comes from a self-contained SplitMix64 seeded by an FNV-1a hash, not from `rand`,
//! so that the data never changes with a dependency upgrade. Records are written by hand into one
//! reused buffer (no per-record allocation), because the emulator doubles as the benchmark source
//! for multi-gigabyte exports.
//!
//! `Δ` is `HISTORY / N` in whole microseconds (at least 1), so `N` itself may be off by one at
//! the window's edges. Record times are whole milliseconds (the precision Google's `time` fields
//! show) whenever `Δ` is at least a millisecond, except in `chrome.history`, whose `time_usec`
//! carries microseconds; a shown time therefore never falls outside the requested window.

use std::collections::{HashMap, HashSet};

use crate::catalogue::{Format, ResourceGroup};
use crate::sources::{DataSource, ExportRequest, FileLayout, FileSink, SourceError};

/// The history horizon: the emulator's data reaches back this far before exportTime.
pub const HISTORY_SECONDS: i64 = 5 * 365 * 86400;

const HISTORY_MICROS: i64 = HISTORY_SECONDS * 1_000_000;
/// 0001-01-01T00:00:00Z: records are never placed before it, so that every time is formattable.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 10000-01-01T00:00:00Z (exclusive), for the same reason.
const MAX_MICROS: i64 = 253_402_300_800_000_000;
/// Records between two looks at the cancellation flag.
const CANCEL_CHECK_EVERY: u64 = 1024;

/// How much data the emulator produces and which groups it pretends cannot be exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Records in a full export (the last [`HISTORY_SECONDS`]) of a group without an override.
    pub records_per_group: u64,
    /// Per-group overrides of `records_per_group`, keyed by group name.
    pub records_by_group: HashMap<String, u64>,
    /// Changes every record of every group; the same seed always gives the same data.
    pub seed: u64,
    /// Groups whose export fails permanently, so that developers can exercise failure and retry.
    pub fail_groups: HashSet<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self { records_per_group: 1000, records_by_group: HashMap::new(), seed: 0, fail_groups: HashSet::new() }
    }
}

/// The emulator data source. Stateless apart from its configuration, so it is cheap to share.
#[derive(Clone, Debug, Default)]
pub struct Emulator {
    config: EmulatorConfig,
}

impl Emulator {
    /// An emulator producing data as `config` says.
    pub fn new(config: EmulatorConfig) -> Self {
        Self { config }
    }

    /// The configuration this emulator was built with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Records of `group` in a full export (approximately: the window's edges may add or drop one).
    pub fn records_for(&self, group: &str) -> u64 {
        self.config.records_by_group.get(group).copied().unwrap_or(self.config.records_per_group)
    }
}

/// Writes exactly one file per group, even for an empty window (then a valid empty document).
/// A group in `fail_groups` fails with [`SourceError::Permanent`] before anything is written; the
/// cancellation flag is read before every 1024th record and once more before the file is ended.
impl DataSource for Emulator {
    fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError> {
        let name = group.name.as_str();
        if self.config.fail_groups.contains(name) {
            return Err(SourceError::Permanent(format!("the emulator is configured to fail {name}")));
        }
        let shape = Shape::of(group);
        let (file, layout) = shape.file(group);
        let line_end = layout.separator.is_empty();
        let timeline =
            Timeline::new(self.config.seed, request.subject, name, self.records_for(name), shape.resolution());
        let upper = request.export_time.micros().clamp(MIN_MICROS, MAX_MICROS);
        let lower = (upper - HISTORY_MICROS).max(request.start_time.map_or(MIN_MICROS, |t| t.micros())).max(MIN_MICROS);

        sink.begin_file(&file, layout)?;
        let mut buf = Vec::with_capacity(4096);
        for (written, (mut rng, time)) in (0u64..).zip(timeline.slots(lower, upper)) {
            if written.is_multiple_of(CANCEL_CHECK_EVERY) && request.is_cancelled() {
                return Err(SourceError::Cancelled);
            }
            buf.clear();
            shape.write(&mut rng, time, timeline.key, &mut buf);
            if line_end {
                buf.push(b'\n');
            }
            sink.record(&buf)?;
        }
        if request.is_cancelled() {
            return Err(SourceError::Cancelled);
        }
        sink.end_file()?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Timeline and randomness

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast and fixed forever, unlike `rand`'s generators.
#[derive(Clone, Debug)]
struct Rng(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective avalanche mix of one word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// FNV-1a over the identity of a timeline; length prefixes keep ("ab","c") apart from ("a","bc").
fn timeline_key(seed: u64, subject: &str, group: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    };
    eat(b"dataport-emulator/1");
    eat(&seed.to_le_bytes());
    eat(&(subject.len() as u64).to_le_bytes());
    eat(subject.as_bytes());
    eat(&(group.len() as u64).to_le_bytes());
    eat(group.as_bytes());
    mix(h)
}

/// The slots of one (seed, subject, group).
struct Timeline {
    key: u64,
    /// Δ in microseconds; 0 when the group has no records.
    spacing: i64,
    /// Record times are multiples of this many microseconds when a slot is wide enough.
    resolution: i64,
}

impl Timeline {
    fn new(seed: u64, subject: &str, group: &str, records: u64, resolution: i64) -> Self {
        let spacing = (HISTORY_MICROS as u64).checked_div(records).map_or(0, |s| s.max(1) as i64);
        Self { key: timeline_key(seed, subject, group), spacing, resolution }
    }

    /// The generator of slot `j`: its first draw places the slot, the rest make its content.
    fn slot_rng(&self, j: i64) -> Rng {
        Rng::new(mix(self.key ^ mix((j as u64).wrapping_mul(GOLDEN))))
    }

    /// The time of slot `j`: in `[j·Δ, (j+1)·Δ)`, on a multiple of the resolution if there is one.
    fn time(&self, j: i64, draw: u64) -> i64 {
        let start = j * self.spacing;
        let end = start + self.spacing;
        let r = self.resolution;
        let first = start.div_euclid(r) * r + if start.rem_euclid(r) == 0 { 0 } else { r };
        if first < end {
            let choices = (end - first + r - 1) / r;
            first + r * (draw % choices as u64) as i64
        } else {
            start + (draw % self.spacing as u64) as i64
        }
    }

    /// The slots with times in `[lower, upper)`, newest first, each with its content generator.
    fn slots(&self, lower: i64, upper: i64) -> impl Iterator<Item = (Rng, i64)> + '_ {
        let (lo, hi) = if self.spacing == 0 || lower >= upper {
            (1, 0)
        } else {
            (lower.div_euclid(self.spacing), (upper - 1).div_euclid(self.spacing))
        };
        (lo..=hi).rev().filter_map(move |j| {
            let mut rng = self.slot_rng(j);
            let t = self.time(j, rng.next());
            (lower..upper).contains(&t).then_some((rng, t))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes: which file a group gets and how its records look

/// The products of My Activity, each with its header and activity controls.
#[derive(Clone, Copy, Debug)]
enum Product<'a> {
    Search,
    YouTube,
    Maps,
    Play,
    Shopping,
    AdCenter,
    /// A `myactivity.*` group this module does not know: named after its folder.
    Other(&'a str),
}

/// How a group's records look. Built once per export.
#[derive(Clone, Copy, Debug)]
enum Shape<'a> {
    MyActivity(Product<'a>),
    ChromeHistory,
    StarredPlaces,
    YouTubeSubscriptions,
    Generic(Flavor),
}

impl<'a> Shape<'a> {
    fn of(group: &'a ResourceGroup) -> Self {
        let name = group.name.as_str();
        if let Some(product) = name.strip_prefix("myactivity.") {
            return Self::MyActivity(match product {
                "search" => Product::Search,
                "youtube" => Product::YouTube,
                "maps" => Product::Maps,
                "play" => Product::Play,
                "shopping" => Product::Shopping,
                "myadcenter" => Product::AdCenter,
                _ => Product::Other(group.folder.rsplit('/').next().unwrap_or(&group.folder)),
            });
        }
        match name {
            "chrome.history" => Self::ChromeHistory,
            "maps.starred_places" => Self::StarredPlaces,
            "youtube.subscriptions" => Self::YouTubeSubscriptions,
            _ => Self::Generic(Flavor::of(name)),
        }
    }

    /// The file name (relative to the group's folder) and its framing.
    fn file(&self, group: &ResourceGroup) -> (String, FileLayout) {
        match self {
            Self::MyActivity(_) => ("MyActivity.json".to_owned(), FileLayout::json_array()),
            Self::ChromeHistory => ("History.json".to_owned(), FileLayout::wrapped("{\"Browser History\":[", "]}")),
            Self::StarredPlaces => (
                "Saved Places.json".to_owned(),
                FileLayout::wrapped("{\"type\":\"FeatureCollection\",\"features\":[", "]}"),
            ),
            Self::YouTubeSubscriptions => {
                ("subscriptions.csv".to_owned(), FileLayout::csv("Channel Id,Channel Url,Channel Title"))
            }
            Self::Generic(_) => {
                let last = group.name.rsplit('.').next().unwrap_or(&group.name);
                // An operator catalogue may bind a custom group to the emulator as NDJSON.
                if group.format == Format::Ndjson {
                    (format!("{last}.ndjson"), FileLayout::ndjson())
                } else {
                    (format!("{last}.json"), FileLayout::json_array())
                }
            }
        }
    }

    /// Microseconds that record times are multiples of.
    fn resolution(&self) -> i64 {
        match self {
            Self::ChromeHistory => 1,
            _ => 1000,
        }
    }

    /// Writes the record of one slot; `key` identifies the timeline (for per-user constants).
    fn write(&self, r: &mut Rng, t: i64, key: u64, b: &mut Vec<u8>) {
        match *self {
            Self::MyActivity(p) => my_activity(p, r, t, b),
            Self::ChromeHistory => chrome_history(r, t, key, b),
            Self::StarredPlaces => starred_place(r, t, b),
            Self::YouTubeSubscriptions => youtube_subscription(r, b),
            Self::Generic(f) => generic(f, r, t, b),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON and CSV writing

/// A few static pieces that form one string value, so that composite text needs no allocation.
type Text = [&'static str; 4];

const fn one(s: &'static str) -> Text {
    [s, "", "", ""]
}

/// Appends `s` with JSON string escaping (no quotes).
fn esc(b: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if c >= 0x20 && c != b'"' && c != b'\\' {
            continue;
        }
        b.extend_from_slice(&bytes[from..i]);
        match c {
            b'"' => b.extend_from_slice(b"\\\""),
            b'\\' => b.extend_from_slice(b"\\\\"),
            b'\n' => b.extend_from_slice(b"\\n"),
            b'\r' => b.extend_from_slice(b"\\r"),
            b'\t' => b.extend_from_slice(b"\\t"),
            _ => b.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]),
        }
        from = i + 1;
    }
    b.extend_from_slice(&bytes[from..]);
}

fn esc_text(b: &mut Vec<u8>, text: &[&str]) {
    for part in text {
        esc(b, part);
    }
}

/// Appends `text` form-urlencoded (`application/x-www-form-urlencoded`, as in `?q=`).
fn form(b: &mut Vec<u8>, text: &[&str]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for part in text {
        for &c in part.as_bytes() {
            match c {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => b.push(c),
                b' ' => b.push(b'+'),
                _ => b.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]),
            }
        }
    }
}

/// Appends `text` as a URL path segment: ASCII letters and digits kept (lower-cased if asked),
/// other UTF-8 percent-encoded, runs of anything else turned into one `sep`.
fn slug(b: &mut Vec<u8>, text: &[&str], sep: u8, lower: bool) {
    let mut pending = false;
    let mut any = false;
    for part in text {
        for &c in part.as_bytes() {
            if c.is_ascii_alphanumeric() {
                if pending && any {
                    b.push(sep);
                }
                pending = false;
                any = true;
                b.push(if lower { c.to_ascii_lowercase() } else { c });
            } else if c >= 0x80 {
                // Non-ASCII (UTF-8) bytes are percent-encoded, as browsers show them.
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                if pending && any {
                    b.push(sep);
                }
                pending = false;
                any = true;
                b.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
            } else {
                pending = true;
            }
        }
    }
}

/// Appends a name as part of an e-mail address: ASCII lower-cased, UTF-8 kept, punctuation dropped.
fn email_part(b: &mut Vec<u8>, s: &str) {
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || c >= 0x80 {
            b.push(c.to_ascii_lowercase());
        }
    }
}

fn uint(b: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

fn int(b: &mut Vec<u8>, v: i64) {
    if v < 0 {
        b.push(b'-');
    }
    uint(b, v.unsigned_abs());
}

/// Appends `v / 10^7` with exactly seven decimals (coordinates).
fn fixed7(b: &mut Vec<u8>, v: i64) {
    if v < 0 {
        b.push(b'-');
    }
    let a = v.unsigned_abs();
    uint(b, a / 10_000_000);
    b.push(b'.');
    let mut frac = [b'0'; 7];
    let mut f = a % 10_000_000;
    for d in frac.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    b.extend_from_slice(&frac);
}

/// Appends `cents / 100` with two decimals (prices).
fn money(b: &mut Vec<u8>, cents: u64) {
    uint(b, cents / 100);
    b.push(b'.');
    b.push(b'0' + (cents / 10 % 10) as u8);
    b.push(b'0' + (cents % 10) as u8);
}

fn hex(b: &mut Vec<u8>, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        b.push(HEX[((v >> (4 * i)) & 15) as usize]);
    }
}

/// Appends `n` random characters of `alphabet` (64 symbols), six bits per character.
fn random_chars(b: &mut Vec<u8>, r: &mut Rng, n: usize, alphabet: &[u8; 64]) {
    let mut bits = 0u64;
    for i in 0..n {
        if i % 10 == 0 {
            bits = r.next();
        }
        b.push(alphabet[(bits & 63) as usize]);
        bits >>= 6;
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Appends `micros` as RFC 3339 UTC with exactly three fractional digits (truncated), e.g.
/// `2024-05-01T09:30:00.250Z`, the form of Google's My Activity `time`.
fn rfc3339_ms(b: &mut Vec<u8>, micros: i64) {
    let ms = micros.div_euclid(1000);
    let secs = ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let two = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    let y = year.clamp(0, 9999);
    let [y0, y1] = two(y / 100);
    let [y2, y3] = two(y % 100);
    let [mo0, mo1] = two(month);
    let [d0, d1] = two(day);
    let [h0, h1] = two(sod / 3600);
    let [mi0, mi1] = two(sod / 60 % 60);
    let [s0, s1] = two(sod % 60);
    let frac = ms.rem_euclid(1000);
    let [f0, f1] = two(frac / 10);
    let f2 = b'0' + (frac % 10) as u8;
    b.extend_from_slice(&[
        y0, y1, y2, y3, b'-', mo0, mo1, b'-', d0, d1, b'T', h0, h1, b':', mi0, mi1, b':', s0, s1, b'.', f0, f1, f2,
        b'Z',
    ]);
}

/// Writes one JSON object field by field.
struct Obj<'b> {
    b: &'b mut Vec<u8>,
    empty: bool,
}

impl<'b> Obj<'b> {
    fn new(b: &'b mut Vec<u8>) -> Self {
        b.push(b'{');
        Self { b, empty: true }
    }

    /// Writes `"k":` and returns the buffer for the value. Keys are static and need no escaping.
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.b.push(b',');
        }
        self.empty = false;
        self.b.push(b'"');
        self.b.extend_from_slice(k.as_bytes());
        self.b.extend_from_slice(b"\":");
        self.b
    }

    fn str(&mut self, k: &str, v: &str) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, v);
        b.push(b'"');
    }

    fn text(&mut self, k: &str, v: &[&str]) {
        let b = self.key(k);
        b.push(b'"');
        esc_text(b, v);
        b.push(b'"');
    }

    fn int(&mut self, k: &str, v: i64) {
        int(self.key(k), v);
    }

    fn boolean(&mut self, k: &str, v: bool) {
        self.key(k).extend_from_slice(if v { b"true" } else { b"false" });
    }

    fn time(&mut self, k: &str, micros: i64) {
        let b = self.key(k);
        b.push(b'"');
        rfc3339_ms(b, micros);
        b.push(b'"');
    }

    fn strs(&mut self, k: &str, vs: &[&str]) {
        let b = self.key(k);
        b.push(b'[');
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.push(b'"');
            esc(b, v);
            b.push(b'"');
        }
        b.push(b']');
    }

    /// A string of `prefix` then `text`.
    fn prefixed(&mut self, k: &str, prefix: &str, text: &[&str]) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, prefix);
        esc_text(b, text);
        b.push(b'"');
    }

    /// A string of `prefix`, `text` form-urlencoded, then `suffix`.
    fn url_q(&mut self, k: &str, prefix: &str, text: &[&str], suffix: &str) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, prefix);
        form(b, text);
        esc(b, suffix);
        b.push(b'"');
    }

    /// A string of `prefix` then `n` random characters of `alphabet`.
    fn random_id(&mut self, k: &str, r: &mut Rng, prefix: &str, n: usize, alphabet: &[u8; 64]) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, prefix);
        random_chars(b, r, n, alphabet);
        b.push(b'"');
    }

    /// The record id: 16 hex digits drawn from the slot, hence stable.
    fn id(&mut self, r: &mut Rng) {
        let b = self.key("id");
        b.push(b'"');
        hex(b, r.next(), 16);
        b.push(b'"');
    }

    fn price(&mut self, r: &mut Rng, lo_cents: i64, hi_cents: i64) {
        let cents = r.range(lo_cents / 100, hi_cents / 100) as u64 * 100 + r.pick(&[99, 49, 0, 95]);
        let b = self.key("price");
        b.push(b'"');
        money(b, cents);
        b.push(b'"');
        self.str("currency", r.pick(CURRENCIES));
    }

    fn end(self) {
        self.b.push(b'}');
    }
}

/// Appends one CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
fn csv_field(b: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        b.push(b'"');
        for c in s.bytes() {
            if c == b'"' {
                b.push(b'"');
            }
            b.push(c);
        }
        b.push(b'"');
    } else {
        b.extend_from_slice(s.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Building blocks of content

#[derive(Clone, Copy, Debug)]
struct City {
    name: &'static str,
    country: &'static str,
    code: &'static str,
    lat: i64,
    lng: i64,
}

const fn city(name: &'static str, country: &'static str, code: &'static str, lat: i64, lng: i64) -> City {
    City { name, country, code, lat, lng }
}

const CITIES: &[City] = &[
    city("London", "United Kingdom", "GB", 515_072_000, -1_276_000),
    city("Paris", "France", "FR", 488_566_000, 23_522_000),
    city("Berlin", "Germany", "DE", 525_200_000, 134_050_000),
    city("Madrid", "Spain", "ES", 404_168_000, -37_038_000),
    city("Rome", "Italy", "IT", 419_028_000, 124_964_000),
    city("Amsterdam", "Netherlands", "NL", 523_676_000, 49_041_000),
    city("Vienna", "Austria", "AT", 482_082_000, 163_738_000),
    city("Stockholm", "Sweden", "SE", 593_293_000, 180_686_000),
    city("Warsaw", "Poland", "PL", 522_297_000, 210_122_000),
    city("Lisbon", "Portugal", "PT", 387_223_000, -91_393_000),
    city("Dublin", "Ireland", "IE", 533_498_000, -62_603_000),
    city("Zürich", "Switzerland", "CH", 473_769_000, 85_417_000),
    city("New York", "United States", "US", 407_128_000, -740_060_000),
    city("San Francisco", "United States", "US", 377_749_000, -1_224_194_000),
    city("Chicago", "United States", "US", 418_781_000, -876_298_000),
    city("Toronto", "Canada", "CA", 436_532_000, -793_832_000),
    city("Mexico City", "Mexico", "MX", 194_326_000, -991_332_000),
    city("São Paulo", "Brazil", "BR", -235_505_000, -466_333_000),
    city("Buenos Aires", "Argentina", "AR", -346_037_000, -583_816_000),
    city("Tokyo", "Japan", "JP", 356_762_000, 1_396_503_000),
    city("Seoul", "South Korea", "KR", 375_665_000, 1_269_780_000),
    city("Singapore", "Singapore", "SG", 13_521_000, 1_038_198_000),
    city("Sydney", "Australia", "AU", -338_688_000, 1_512_093_000),
    city("Cape Town", "South Africa", "ZA", -339_249_000, 184_241_000),
    city("Mumbai", "India", "IN", 190_760_000, 728_777_000),
    city("Nairobi", "Kenya", "KE", -12_921_000, 368_219_000),
];

const STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Main Street",
    "Church Lane",
    "Park Avenue",
    "Mill Road",
    "Market Square",
    "Oak Street",
    "Harbour Way",
    "King Street",
    "Elm Grove",
    "River Walk",
    "Bridge Street",
    "Garden Row",
    "Victoria Road",
    "Canal Street",
];

const PLACE_ADJECTIVES: &[&str] = &[
    "Golden", "Blue", "Old", "Little", "Green", "Red", "Silver", "Northern", "Corner", "Royal", "Lucky", "Quiet",
    "Hidden", "Sunny",
];
const PLACE_NOUNS: &[&str] = &[
    "Fox", "Harbour", "Mill", "Oak", "Lantern", "Bridge", "Garden", "Anchor", "Owl", "Orchard", "Tower", "Sparrow",
    "Fig", "Compass",
];
const PLACE_KINDS: &[&str] = &[
    " Café",
    " Bakery",
    " Books",
    " Bistro",
    " Pizzeria",
    " Market",
    " Gym",
    " Hotel",
    " Museum",
    " Cinema",
    " Records",
    " Ramen Bar",
    " Wine Bar",
    " Pharmacy",
    " Gallery",
    " Bike Shop",
];

/// A made-up business somewhere in one of [`CITIES`]; `name` is e.g. "Golden Fox Café".
#[derive(Clone, Copy, Debug)]
struct Place {
    name: Text,
    city: City,
    street: &'static str,
    number: u64,
    lat: i64,
    lng: i64,
}

fn place(r: &mut Rng) -> Place {
    let city = r.pick(CITIES);
    Place {
        name: [r.pick(PLACE_ADJECTIVES), " ", r.pick(PLACE_NOUNS), r.pick(PLACE_KINDS)],
        city,
        street: r.pick(STREETS),
        number: 1 + r.below(220),
        lat: city.lat + r.range(-400_000, 400_000),
        lng: city.lng + r.range(-600_000, 600_000),
    }
}

/// Writes `"address":"12 High Street, London, United Kingdom"`.
fn address(o: &mut Obj<'_>, k: &str, p: &Place) {
    let b = o.key(k);
    b.push(b'"');
    uint(b, p.number);
    b.push(b' ');
    esc(b, p.street);
    b.extend_from_slice(b", ");
    esc(b, p.city.name);
    b.extend_from_slice(b", ");
    esc(b, p.city.country);
    b.push(b'"');
}

fn coordinate(o: &mut Obj<'_>, k: &str, v: i64) {
    fixed7(o.key(k), v);
}

const HOWTO: &[&str] = &[
    "fix a leaking tap",
    "make sourdough bread",
    "tie a bowline knot",
    "change a bike tyre",
    "remove rust from tools",
    "reset a wifi router",
    "grow tomatoes indoors",
    "write a cover letter",
    "clean a cast iron pan",
    "fold a fitted sheet",
    "start a compost bin",
    "replace a light switch",
    "learn to touch type",
    "unclog a drain",
    "train a puppy to sit",
    "descale a kettle",
    "read a topographic map",
    "sharpen a kitchen knife",
];
const THINGS: &[&str] = &[
    "coffee grinder",
    "running shoes",
    "standing desk",
    "noise cancelling headphones",
    "mechanical keyboard",
    "e-bike",
    "air fryer",
    "hiking boots",
    "espresso machine",
    "robot vacuum",
    "camping tent",
    "mattress",
    "rain jacket",
    "smart watch",
    "electric toothbrush",
    "cast iron skillet",
    "4k monitor",
    "backpack",
];
const FOODS: &[&str] = &[
    "banana bread",
    "pad thai",
    "shakshuka",
    "lasagna",
    "ramen",
    "falafel",
    "paella",
    "chili con carne",
    "carrot cake",
    "mushroom risotto",
    "chicken tikka masala",
    "focaccia",
    "miso soup",
    "apple crumble",
    "tacos al pastor",
    "dal",
];
const TOPICS: &[&str] = &[
    "rust",
    "python",
    "kubernetes",
    "postgres",
    "photosynthesis",
    "black holes",
    "the roman empire",
    "compound interest",
    "climate change",
    "quantum computing",
    "machine learning",
    "the french revolution",
    "plate tectonics",
    "jazz harmony",
    "oauth",
    "sqlite",
];
const TOPIC_SUFFIXES: &[&str] =
    &["tutorial", "explained", "for beginners", "history", "examples", "cheat sheet", "book", "course"];
const YEARS: &[&str] = &["2021", "2022", "2023", "2024", "2025"];
const WIKI: &[&str] = &[
    "Black hole",
    "Roman Empire",
    "Photosynthesis",
    "Compound interest",
    "Rust (programming language)",
    "Plate tectonics",
    "French Revolution",
    "Quantum computing",
    "Jazz",
    "Ada Lovelace",
    "Great Barrier Reef",
    "Sourdough",
    "Mount Kilimanjaro",
    "Bauhaus",
];
const HEADLINES: &[&str] = &[
    "City council approves new cycle lanes",
    "Scientists map the ocean floor in record detail",
    "Heatwave expected to break records this weekend",
    "Local bakery wins national award",
    "Rail strike: what you need to know",
    "The quiet comeback of the paper notebook",
    "New exoplanet found in habitable zone",
    "Why everyone is talking about four-day weeks",
    "Museum reopens after five-year renovation",
    "Markets rally as inflation cools",
    "Ten walks to try this autumn",
    "Inside the race to build better batteries",
];
const REPOS: &[&str] = &[
    "tokio-rs/axum",
    "serde-rs/json",
    "rust-lang/rust",
    "atuinsh/atuin",
    "deuxfleurs-org/garage",
    "sqlite/sqlite",
    "python/cpython",
    "torvalds/linux",
    "BurntSushi/ripgrep",
    "sharkdp/bat",
];

/// A web page: title, host and path.
#[derive(Clone, Copy, Debug)]
struct Page {
    title: Text,
    host: &'static str,
    path: &'static str,
    /// Digits before the slug (question ids), 0 for none.
    number: u64,
    slug: Text,
    sep: u8,
    lower: bool,
}

fn page(r: &mut Rng) -> Page {
    let plain = |title: Text, host: &'static str, path: &'static str, slug: Text| Page {
        title,
        host,
        path,
        number: 0,
        slug,
        sep: b'-',
        lower: true,
    };
    match r.below(8) {
        0 => {
            let w = r.pick(WIKI);
            Page { sep: b'_', lower: false, ..plain([w, " - Wikipedia", "", ""], "en.wikipedia.org", "/wiki/", one(w)) }
        }
        1 => {
            let f = r.pick(FOODS);
            plain(["Easy ", f, " recipe | BBC Good Food", ""], "www.bbcgoodfood.com", "/recipes/", one(f))
        }
        2 => {
            let h = r.pick(HOWTO);
            Page {
                number: 10_000_000 + r.below(70_000_000),
                ..plain(["How to ", h, "? - Stack Overflow", ""], "stackoverflow.com", "/questions/", one(h))
            }
        }
        3 => {
            let h = r.pick(HEADLINES);
            plain([h, " | The Guardian", "", ""], "www.theguardian.com", "/world/2024/", one(h))
        }
        4 => {
            let repo = r.pick(REPOS);
            Page { sep: b'/', lower: false, ..plain(["GitHub - ", repo, "", ""], "github.com", "/", one(repo)) }
        }
        5 => {
            let c = r.pick(CITIES);
            plain(
                ["Things to do in ", c.name, " | Lonely Planet", ""],
                "www.lonelyplanet.com",
                "/",
                [c.country, " ", c.name, ""],
            )
        }
        6 => {
            let t = r.pick(THINGS);
            plain(["The best ", t, " ", r.pick(YEARS)], "www.techradar.com", "/best/", one(t))
        }
        _ => {
            let t = r.pick(TOPICS);
            plain(["Learn ", t, " - ", r.pick(TOPIC_SUFFIXES)], "dev.to", "/", [t, " ", "guide", ""])
        }
    }
}

fn page_url(o: &mut Obj<'_>, k: &str, p: &Page) {
    let b = o.key(k);
    b.extend_from_slice(b"\"https://");
    esc(b, p.host);
    esc(b, p.path);
    if p.number != 0 {
        uint(b, p.number);
        b.push(b'/');
    }
    slug(b, &p.slug, p.sep, p.lower);
    b.push(b'"');
}

fn search_query(r: &mut Rng) -> Text {
    match r.below(9) {
        0 => ["how to ", r.pick(HOWTO), "", ""],
        1 => ["best ", r.pick(THINGS), " ", r.pick(YEARS)],
        2 => [r.pick(THINGS), " reviews", "", ""],
        3 => [r.pick(CITIES).name, " weather", "", ""],
        4 => ["things to do in ", r.pick(CITIES).name, "", ""],
        5 => [r.pick(FOODS), " recipe", "", ""],
        6 => ["flights to ", r.pick(CITIES).name, "", ""],
        7 => ["what is ", r.pick(TOPICS), "", ""],
        _ => [r.pick(TOPICS), " ", r.pick(TOPIC_SUFFIXES), ""],
    }
}

const CHANNELS: &[&str] = &[
    "Kitchen Table Science",
    "The Weekend Mechanic",
    "Pixel Pete",
    "Trail Running Diaries",
    "Cooking, Baking & More",
    "\"Retro\" Gaming Corner",
    "Slow Travel Films",
    "Rust in Production",
    "Garden Notes",
    "Daily Jazz Piano",
    "Urban Sketchers",
    "Budget Tech Reviews",
    "Mountain Weather Channel",
    "History in Five",
    "Calm Coding",
    "Bike Repair Basics",
    "The Night Sky",
    "Plant-Based Kitchen",
];

/// A channel's id, fixed per channel (it does not depend on the user): `UC` + 22 characters.
fn channel_id(b: &mut Vec<u8>, channel: usize) {
    b.extend_from_slice(b"UC");
    random_chars(b, &mut Rng::new(mix(channel as u64 ^ 0x5943_4841_4E4E_454C)), 22, BASE64URL);
}

const GAMES: &[&str] =
    &["Stardew Valley", "Minecraft", "Celeste", "Hollow Knight", "Factorio", "Mario Kart 8", "Tetris Effect", "Hades"];
const VERDICTS: &[&str] = &["worth it?", "after 6 months", "the honest truth", "vs the competition", "unboxing"];
const DURATIONS: &[&str] = &["10 minutes", "one video", "30 days", "an hour", "100 seconds"];

fn video_title(r: &mut Rng) -> Text {
    match r.below(7) {
        0 => [r.pick(THINGS), " review: ", r.pick(VERDICTS), ""],
        1 => ["I tried making ", r.pick(FOODS), " from scratch", ""],
        2 => ["Learn ", r.pick(TOPICS), " in ", r.pick(DURATIONS)],
        3 => [r.pick(CITIES).name, " travel guide ", r.pick(YEARS), ""],
        4 => ["How to ", r.pick(HOWTO), "", ""],
        5 => [r.pick(GAMES), " gameplay - part ", r.pick(&["1", "2", "3", "4", "5", "6", "7", "8", "9"]), ""],
        _ => [r.pick(HEADLINES), " (explained)", "", ""],
    }
}

/// `"https://www.youtube.com/watch?v=<11 chars>"`.
fn watch_url(o: &mut Obj<'_>, k: &str, r: &mut Rng, host: &str) {
    let b = o.key(k);
    b.extend_from_slice(b"\"https://");
    esc(b, host);
    b.extend_from_slice(b"/watch?v=");
    random_chars(b, r, 11, BASE64URL);
    b.push(b'"');
}

const APPS: &[(&str, &str)] = &[
    ("Spotify: Music and Podcasts", "com.spotify.music"),
    ("WhatsApp Messenger", "com.whatsapp"),
    ("Duolingo: Language Lessons", "com.duolingo"),
    ("Google Maps", "com.google.android.apps.maps"),
    ("Strava: Run, Bike, Hike", "com.strava"),
    ("Signal Private Messenger", "org.thoughtcrime.securesms"),
    ("Firefox Fast & Private Browser", "org.mozilla.firefox"),
    ("Komoot: Hike, Bike & Run", "de.komoot.android"),
    ("Headspace: Meditation & Sleep", "com.getsomeheadspace.android"),
    ("Citymapper", "com.citymapper.app.release"),
    ("Stardew Valley", "com.chucklefish.stardewvalley"),
    ("Wikipedia", "org.wikipedia"),
    ("Google Photos", "com.google.android.apps.photos"),
    ("Pocket Casts", "au.com.shiftyjelly.pocketcasts"),
];

const BRANDS: &[(&str, &str)] = &[
    ("Northwind Outdoor", "northwind.example"),
    ("Contoso Coffee", "contoso-coffee.example"),
    ("Fabrikam Shoes", "fabrikam.example"),
    ("Tailspin Travel", "tailspin.example"),
    ("Litware Audio", "litware.example"),
    ("Adventure Works Bikes", "adventure-works.example"),
    ("Woodgrove Bank", "woodgrove.example"),
    ("Proseware Software", "proseware.example"),
];
const AD_TOPICS: &[&str] =
    &["Dating", "Gambling", "Alcohol", "Weight loss", "Pregnancy & parenting", "Crypto", "Fast food", "Luxury cars"];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "EUR", "USD"];

// ---------------------------------------------------------------------------------------------
// My Activity, Chrome history, starred places, subscriptions

const WEB_AND_APP: &[&str] = &["Web & App Activity"];

fn my_activity(p: Product<'_>, r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let header = match p {
        Product::Search => "Search",
        Product::YouTube => "YouTube",
        Product::Maps => "Maps",
        Product::Play => "Google Play Store",
        Product::Shopping => "Shopping",
        Product::AdCenter => "My Ad Center",
        Product::Other(h) => h,
    };
    let mut o = Obj::new(b);
    o.str("header", header);
    let mut details: Option<&str> = None;
    let mut controls = WEB_AND_APP;
    match p {
        Product::Search => {
            if r.chance(70) {
                let q = search_query(r);
                o.prefixed("title", "Searched for ", &q);
                o.url_q("titleUrl", "https://www.google.com/search?q=", &q, "");
            } else {
                let pg = page(r);
                let b = o.key("title");
                b.extend_from_slice(b"\"Visited ");
                esc_text(b, &pg.title);
                b.push(b'"');
                let b = o.key("titleUrl");
                b.extend_from_slice(b"\"https://www.google.com/url?q=https://");
                esc(b, pg.host);
                esc(b, pg.path);
                if pg.number != 0 {
                    uint(b, pg.number);
                    b.push(b'/');
                }
                slug(b, &pg.slug, pg.sep, pg.lower);
                b.extend_from_slice(b"&usg=AOvVaw");
                random_chars(b, r, 22, BASE64URL);
                b.push(b'"');
            }
        }
        Product::YouTube => {
            if r.chance(80) {
                let title = video_title(r);
                let b = o.key("title");
                b.extend_from_slice(b"\"Watched ");
                esc_text(b, &title);
                b.push(b'"');
                watch_url(&mut o, "titleUrl", r, "www.youtube.com");
                let ch = r.below(CHANNELS.len() as u64) as usize;
                let b = o.key("subtitles");
                b.extend_from_slice(b"[{\"name\":\"");
                esc(b, CHANNELS[ch]);
                b.extend_from_slice(b"\",\"url\":\"https://www.youtube.com/channel/");
                channel_id(b, ch);
                b.extend_from_slice(b"\"}]");
                if r.chance(5) {
                    details = Some("From Google Ads");
                }
                controls = &["YouTube watch history"];
            } else {
                let q = search_query(r);
                o.prefixed("title", "Searched for ", &q);
                o.url_q("titleUrl", "https://www.youtube.com/results?search_query=", &q, "");
                controls = &["YouTube search history"];
            }
        }
        Product::Maps => {
            let pl = place(r);
            match r.below(4) {
                0 => {
                    o.prefixed("title", "Searched for ", &pl.name);
                    o.url_q("titleUrl", "https://www.google.com/maps/search/", &pl.name, "");
                }
                1 => {
                    o.text("title", &["Viewed area around ", pl.city.name, "", ""]);
                    let b = o.key("titleUrl");
                    b.extend_from_slice(b"\"https://www.google.com/maps/@");
                    fixed7(b, pl.lat);
                    b.push(b',');
                    fixed7(b, pl.lng);
                    b.extend_from_slice(b",13z\"");
                }
                2 => {
                    o.prefixed("title", "Directions to ", &pl.name);
                    o.url_q("titleUrl", "https://www.google.com/maps/dir//", &pl.name, "");
                    address(&mut o, "description", &pl);
                }
                _ => {
                    o.prefixed("title", "Viewed ", &pl.name);
                    o.url_q("titleUrl", "https://www.google.com/maps/place/", &pl.name, "");
                    address(&mut o, "description", &pl);
                }
            }
        }
        Product::Play => {
            let (app, package) = r.pick(APPS);
            let verb = r.pick(&["Used ", "Installed ", "Visited ", "Updated "]);
            o.text("title", &[verb, app, "", ""]);
            o.url_q("titleUrl", "https://play.google.com/store/apps/details?id=", &one(package), "");
        }
        Product::Shopping => {
            let thing = r.pick(THINGS);
            if r.chance(60) {
                o.text("title", &["Viewed ", r.pick(&["", "Pro ", "Compact ", "Classic "]), thing, ""]);
                let b = o.key("titleUrl");
                b.extend_from_slice(b"\"https://www.google.com/shopping/product/");
                uint(b, 1_000_000_000_000_000 + r.below(8_000_000_000_000_000));
                b.push(b'"');
                let b = o.key("description");
                b.extend_from_slice(b"\"Price: ");
                money(b, 999 + r.below(60_000));
                b.push(b' ');
                esc(b, r.pick(CURRENCIES));
                b.push(b'"');
            } else {
                o.text("title", &["Searched for ", thing, "", ""]);
                o.url_q("titleUrl", "https://www.google.com/search?tbm=shop&q=", &one(thing), "");
            }
        }
        Product::AdCenter => {
            let (brand, domain) = r.pick(BRANDS);
            match r.below(3) {
                0 => {
                    o.text("title", &["Saw an ad from ", brand, "", ""]);
                    details = Some("From Google Ads");
                }
                1 => {
                    o.text("title", &["Clicked an ad from ", brand, "", ""]);
                    o.url_q("titleUrl", "https://www.", &one(domain), "/");
                    details = Some("From Google Ads");
                }
                _ => {
                    o.text("title", &["Limited ads about ", r.pick(AD_TOPICS), "", ""]);
                    o.str("titleUrl", "https://myadcenter.google.com/controls");
                }
            }
        }
        Product::Other(h) => {
            o.prefixed("title", "Used ", &[h]);
        }
    }
    o.time("time", t);
    o.strs("products", &[header]);
    if let Some(d) = details {
        let b = o.key("details");
        b.extend_from_slice(b"[{\"name\":\"");
        esc(b, d);
        b.extend_from_slice(b"\"}]");
    }
    o.strs("activityControls", controls);
    o.end();
}

const TRANSITIONS: &[&str] = &["LINK", "LINK", "LINK", "TYPED", "AUTO_BOOKMARK", "RELOAD", "GENERATED", "FORM_SUBMIT"];

fn chrome_history(r: &mut Rng, t: i64, key: u64, b: &mut Vec<u8>) {
    let pg = page(r);
    let mut o = Obj::new(b);
    o.text("title", &pg.title);
    page_url(&mut o, "url", &pg);
    o.int("time_usec", t);
    o.str("page_transition", r.pick(TRANSITIONS));
    let device = r.below(3);
    if r.chance(85) {
        let b = o.key("favicon_url");
        b.extend_from_slice(b"\"https://");
        esc(b, pg.host);
        b.extend_from_slice(b"/favicon.ico\"");
    }
    // One of three devices per user, so the id repeats the way a real profile's does.
    let b = o.key("client_id");
    b.push(b'"');
    random_chars(b, &mut Rng::new(mix(key ^ device)), 22, BASE64);
    b.extend_from_slice(b"==\"");
    o.end();
}

const COMMENTS: &[&str] = &[
    "Great place, would come back.",
    "Friendly staff and quick service.",
    "A bit crowded at weekends.",
    "Best coffee in the area!",
    "Try the seasonal menu.",
    "Quiet spot for working.",
    "They call it \"the hidden gem\" for a reason.",
    "Opening hours changed recently.\nCheck before you go.",
    "Perfect for a rainy afternoon 🌧️",
];

fn starred_place(r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let pl = place(r);
    let mut o = Obj::new(b);
    o.str("type", "Feature");
    let g = o.key("geometry");
    g.extend_from_slice(b"{\"type\":\"Point\",\"coordinates\":[");
    fixed7(g, pl.lng);
    g.push(b',');
    fixed7(g, pl.lat);
    g.extend_from_slice(b"]}");
    let mut props = Obj::new(o.key("properties"));
    props.time("date", t);
    let b = props.key("google_maps_url");
    b.extend_from_slice(b"\"http://maps.google.com/?cid=");
    uint(b, r.next() >> 1);
    b.push(b'"');
    let mut loc = Obj::new(props.key("location"));
    loc.text("name", &pl.name);
    address(&mut loc, "address", &pl);
    loc.str("country_code", pl.city.code);
    loc.end();
    if r.chance(30) {
        props.str("comment", r.pick(COMMENTS));
    }
    props.end();
    o.end();
}

fn youtube_subscription(r: &mut Rng, b: &mut Vec<u8>) {
    let ch = r.below(CHANNELS.len() as u64) as usize;
    // A user is subscribed to many channels beyond the named ones: vary the id per slot.
    let id_start = b.len();
    b.extend_from_slice(b"UC");
    random_chars(b, r, 22, BASE64URL);
    let id_end = b.len();
    b.extend_from_slice(b",http://www.youtube.com/channel/");
    b.extend_from_within(id_start..id_end);
    b.push(b',');
    csv_field(b, CHANNELS[ch]);
}

// ---------------------------------------------------------------------------------------------
// Every other group

/// The record style of a group that has no special Google shape.
#[derive(Clone, Copy, Debug)]
enum Flavor {
    /// title, url and a group-specific label.
    Link(&'static str, &'static [&'static str]),
    Alert,
    Autofill,
    Word,
    Extension,
    Setting(&'static [&'static str]),
    AliasedPlace,
    Route,
    Vehicle(bool),
    Contribution(&'static [&'static str]),
    PlaceMedia,
    QuestionAnswer,
    PlaceReview,
    ProductReview,
    MediaReview,
    /// A comment on a search result page.
    SearchComment,
    /// A comment under a video: the URL prefix to which an 11-character id is appended.
    Comment(&'static str),
    MediaTitle(&'static str),
    StreamingProvider,
    MyMap,
    CameraEvent,
    CameraFeature,
    CameraVideo,
    NestHome,
    Device(&'static [&'static str]),
    /// A purchase of one of the items from the merchant.
    Order(&'static [&'static str], Merchant),
    App(&'static str, &'static [&'static str]),
    PlaySubscription,
    Points,
    Promotion(&'static str),
    Address,
    Channel,
    Video(&'static str),
    Playlist(&'static str),
    Conversation,
    Music,
    Playable,
    Post,
    StreetView,
}

/// Who sold an [`Flavor::Order`].
#[derive(Clone, Copy, Debug)]
enum Merchant {
    Named(&'static str),
    /// A made-up local business.
    Place,
    /// A YouTube channel's shop.
    Channel,
}

impl Flavor {
    fn of(group: &str) -> Self {
        match group {
            "alerts.subscriptions" => Self::Alert,
            "chrome.autofill" => Self::Autofill,
            "chrome.bookmarks" => Self::Link("folder", &["Bookmarks bar", "Other bookmarks", "Mobile bookmarks"]),
            "chrome.dictionary" => Self::Word,
            "chrome.extensions" => Self::Extension,
            "chrome.reading_list" => Self::Link("status", &["UNREAD", "READ"]),
            "chrome.settings" => Self::Setting(CHROME_SETTINGS),
            "discover.follows" => Self::Link("kind", &["Topic", "Publisher", "Team", "Place"]),
            "discover.likes" => Self::Link("source", &["Discover", "Google app", "Chrome new tab"]),
            "discover.not_interested" => {
                Self::Link("reason", &["Not interested in this story", "Not interested in this publisher"])
            }
            "maps.aliased_places" => Self::AliasedPlace,
            "maps.commute_routes" => Self::Route,
            "maps.commute_settings" => Self::Setting(COMMUTE_SETTINGS),
            "maps.ev_profile" => Self::Vehicle(true),
            "maps.vehicle_profile" => Self::Vehicle(false),
            "maps.factual_contributions" => Self::Contribution(FACTUAL_EDITS),
            "maps.offering_contributions" => Self::Contribution(OFFERING_EDITS),
            "maps.photos_videos" => Self::PlaceMedia,
            "maps.questions_answers" => Self::QuestionAnswer,
            "maps.reviews" => Self::PlaceReview,
            "mymaps.maps" => Self::MyMap,
            "nest.camera_event" => Self::CameraEvent,
            "nest.camera_feature" => Self::CameraFeature,
            "nest.camera_video" => Self::CameraVideo,
            "nest.store" => Self::Order(NEST_PRODUCTS, Merchant::Named("Google Store")),
            "nest.user" => Self::NestHome,
            "order_reserve.purchases_reservations" => Self::Order(RESERVATIONS, Merchant::Place),
            "pixel.device_data" => Self::Device(PIXELS),
            "play.devices" => Self::Device(PHONES),
            "play.grouping" => Self::App("group", &["Games", "Work", "Social", "Travel", "Health"]),
            "play.installs" => Self::App("device", PHONES),
            "play.library" => Self::App("type", &["APP", "APP", "GAME", "BOOK", "MOVIE"]),
            "play.playpoints" => Self::Points,
            "play.promotions" => Self::Promotion("PROMOTION"),
            "play.purchases" => Self::Order(PLAY_ITEMS, Merchant::Named("Google Play")),
            "play.redemptions" => Self::Promotion("GIFT_CARD"),
            "play.subscriptions" => Self::PlaySubscription,
            "play.usersettings" => Self::Setting(PLAY_SETTINGS),
            "saved.collections" => Self::Link("collection", &["Favourite places", "Want to go", "Recipes", "To read"]),
            "search_ugc.comments" => Self::SearchComment,
            "search_ugc.media.reviews_and_stars" => Self::MediaReview,
            "search_ugc.media.streaming_video_providers" => Self::StreamingProvider,
            "search_ugc.media.thumbs" => Self::MediaTitle("thumbs"),
            "search_ugc.media.watched" => Self::MediaTitle("watched"),
            "searchnotifications.settings" => Self::Setting(SEARCH_NOTIFICATION_SETTINGS),
            "searchnotifications.subscriptions" => Self::Link("frequency", &["DAILY", "WEEKLY", "AS_IT_HAPPENS"]),
            "shopping.addresses" => Self::Address,
            "shopping.reviews" => Self::ProductReview,
            "streetview.imagery" => Self::StreetView,
            "youtube.channel" => Self::Channel,
            "youtube.clips" => Self::Video("public"),
            "youtube.comments" => Self::Comment("https://www.youtube.com/watch?v="),
            "youtube.conversations" => Self::Conversation,
            "youtube.live_chat" => Self::Comment("https://www.youtube.com/live/"),
            "youtube.music" => Self::Music,
            "youtube.playable" => Self::Playable,
            "youtube.posts" => Self::Post,
            "youtube.private_playlists" => Self::Playlist("private"),
            "youtube.private_videos" => Self::Video("private"),
            "youtube.public_playlists" => Self::Playlist("public"),
            "youtube.public_videos" => Self::Video("public"),
            "youtube.shopping" => Self::Order(YOUTUBE_ITEMS, Merchant::Channel),
            "youtube.unlisted_playlists" => Self::Playlist("unlisted"),
            "youtube.unlisted_videos" => Self::Video("unlisted"),
            _ => Self::Link("source", &["dataport emulator"]),
        }
    }
}

const CHROME_SETTINGS: &[&str] = &[
    "browser.show_home_button",
    "bookmark_bar.show_on_all_tabs",
    "search.suggest_enabled",
    "safebrowsing.enhanced",
    "translate.enabled",
    "autofill.profile_enabled",
    "download.prompt_for_download",
    "browser.clear_data.on_exit",
];
const COMMUTE_SETTINGS: &[&str] =
    &["commute_days", "preferred_departure_time", "travel_mode", "notifications_enabled", "avoid_tolls"];
const PLAY_SETTINGS: &[&str] = &[
    "auto_update_apps",
    "parental_controls",
    "purchase_authentication",
    "app_download_preference",
    "theme",
    "notifications.updates",
];
const SEARCH_NOTIFICATION_SETTINGS: &[&str] =
    &["sports_scores", "weather_alerts", "trending_searches", "flight_updates", "package_tracking"];
const SETTING_VALUES: &[&str] = &["true", "false", "true", "WIFI_ONLY", "ALWAYS", "NEVER", "SYSTEM_DEFAULT"];
const FACTUAL_EDITS: &[&str] = &[
    "Added opening hours",
    "Corrected the address",
    "Marked as permanently closed",
    "Added a phone number",
    "Updated the website",
    "Moved the map pin",
];
const OFFERING_EDITS: &[&str] = &[
    "Added a menu item",
    "Marked as offering vegan options",
    "Added a wheelchair-accessible entrance",
    "Marked as accepting card payments",
    "Added outdoor seating",
];
const CONTRIBUTION_STATES: &[&str] = &["PUBLISHED", "PUBLISHED", "PENDING", "NOT_APPLIED"];
const NEST_PRODUCTS: &[&str] =
    &["Nest Learning Thermostat", "Nest Cam (battery)", "Nest Doorbell", "Nest Wifi Pro", "Nest Hub (2nd gen)"];
const RESERVATIONS: &[&str] =
    &["Table for 2", "Table for 4", "Haircut", "Takeaway order", "Museum tickets (2 adults)", "Yoga class"];
const PLAY_ITEMS: &[&str] =
    &["Stardew Valley", "Monument Valley 2", "Google One 100 GB", "500 gems", "Premium upgrade", "Audiobook: Dune"];
const YOUTUBE_ITEMS: &[&str] = &["Channel hoodie", "Enamel mug", "Sticker pack", "Poster (A2)", "Cap"];
const PIXELS: &[&str] = &["Pixel 7a", "Pixel 8", "Pixel 8 Pro", "Pixel 9", "Pixel 9 Pro Fold", "Pixel Tablet"];
const PHONES: &[&str] = &[
    "Google Pixel 8",
    "Samsung Galaxy S24",
    "OnePlus 12",
    "Fairphone 5",
    "Google Pixel Tablet",
    "Nokia G42",
    "Xiaomi 14",
];
const ORDER_STATES: &[&str] = &["COMPLETED", "COMPLETED", "COMPLETED", "CONFIRMED", "CANCELLED", "REFUNDED"];
const CAMERAS: &[&str] = &["Front door", "Backyard", "Garage", "Living room", "Driveway", "Nursery"];
const CAMERA_EVENTS: &[&str] = &["PERSON", "MOTION", "MOTION", "SOUND", "PACKAGE_DELIVERED", "ANIMAL", "VEHICLE"];
const CAMERA_FEATURES: &[&str] =
    &["Familiar face detection", "Activity zones", "Sightline", "Night vision", "Audio recording"];
const MOVIES: &[&str] = &[
    "The Long Summer",
    "Night Train to Lisbon",
    "Paper Moons",
    "The Cartographer",
    "Small Hours",
    "Harbour Lights",
    "A Quiet Orbit",
    "The Last Bakery",
    "Salt & Stone",
    "Northern Lines",
];
const REVIEW_SENTENCES: &[&str] = &[
    "Really good value for money.",
    "Exactly as described.",
    "Would recommend to friends.",
    "Took a while to arrive, but worth it.",
    "The battery could be better.",
    "Lovely atmosphere and great food.",
    "Service was slow on a busy night.",
    "Five stars, no notes.",
    "It's \"fine\", nothing special.",
    "Clean, quiet and central.",
    "Second visit and still impressed!",
    "Not for me, but well made.",
];
const MESSAGES: &[&str] = &[
    "Great video, thanks!",
    "Which camera do you use?",
    "Watching from Lisbon 👋",
    "The part at 3:20 is gold.",
    "Can you do one on sourdough next?",
    "First time here, subscribed.",
    "This saved me hours.",
    "Does this still work in 2025?",
    "Love the editing \"style\".",
    "Line one.\nLine two.",
];
const WORDS: &[&str] = &[
    "dataport",
    "kubectl",
    "serde",
    "tokio",
    "Zürich",
    "shakshuka",
    "Kilimanjaro",
    "sqlite",
    "ripgrep",
    "axum",
    "gRPC",
    "focaccia",
];
const EXTENSIONS: &[&str] = &[
    "uBlock Origin",
    "Bitwarden Password Manager",
    "Dark Reader",
    "Google Translate",
    "Grammarly",
    "React Developer Tools",
    "Privacy Badger",
    "Tampermonkey",
];
const FIRST_NAMES: &[&str] = &["Alex", "Sam", "Maria", "Jonas", "Aiko", "Priya", "Lucas", "Fatima", "Noah", "Elena"];
const LAST_NAMES: &[&str] =
    &["Smith", "García", "Müller", "Tanaka", "Okafor", "Kowalski", "Rossi", "Nguyen", "Silva", "O'Brien"];
const ALIASES: &[&str] = &["Home", "Work", "Gym", "Mum's", "School", "Parents", "Office"];
const TRAVEL_MODES: &[&str] = &["DRIVE", "TRANSIT", "BICYCLE", "WALK", "TWO_WHEELER"];
const CAR_MAKES: &[(&str, &[&str])] = &[
    ("Volkswagen", &["ID.3", "Golf", "Polo"]),
    ("Tesla", &["Model 3", "Model Y"]),
    ("Renault", &["Zoe", "Clio", "Megane E-Tech"]),
    ("Toyota", &["Corolla", "Yaris", "bZ4X"]),
    ("Kia", &["EV6", "Niro"]),
];
const PLUGS: &[&str] = &["CCS_COMBO_2", "TYPE_2", "CHADEMO", "J1772", "NACS"];
const ENGINES: &[&str] = &["PETROL", "DIESEL", "HYBRID", "PLUG_IN_HYBRID", "ELECTRIC"];
const QUESTIONS: &[&str] = &[
    "Is there parking nearby?",
    "Do they take reservations?",
    "Is it dog friendly?",
    "Are there vegan options?",
    "Is it wheelchair accessible?",
    "Is it open on Sundays?",
];
const ANSWERS: &[&str] = &[
    "Yes, there's a car park behind the building.",
    "Only for groups of six or more.",
    "Yes, they even have water bowls.",
    "A few, ask for the seasonal menu.",
    "Yes, step-free entrance on the side.",
    "Mornings only.",
];
const PROVIDERS: &[&str] = &["Netflix", "Prime Video", "Disney+", "Apple TV+", "YouTube Premium", "Max", "Mubi"];
const CHANNEL_DESCRIPTIONS: &[&str] = &[
    "Weekly videos about things I'm learning.",
    "Travel, food and the occasional bike repair.",
    "Slow, calm, hands-on tutorials.",
    "Reviews without sponsors.",
];
const PLAYLISTS: &[&str] = &[
    "Watch later",
    "Cooking",
    "Workout mix",
    "Rust talks",
    "Road trip",
    "Kids' songs",
    "Favourites",
    "Lo-fi for focus",
];
const ARTISTS: &[&str] =
    &["The Paper Kites", "Nils Frahm", "Khruangbin", "Anoushka Shankar", "Bonobo", "Fleetwood Mac", "Rosalía"];
const SONGS: &[&str] =
    &["Bloom", "Says", "White Gloves", "Love Letter", "Kerala", "Dreams", "Malamente", "Midnight Drive"];
const MY_MAP_KINDS: &[&str] = &[" trip", " food tour", " running routes", " weekend", " with kids"];

fn generic(f: Flavor, r: &mut Rng, t: i64, b: &mut Vec<u8>) {
    let mut o = Obj::new(b);
    o.id(r);
    o.time("time", t);
    match f {
        Flavor::Link(label, values) => {
            let pg = page(r);
            o.text("title", &pg.title);
            page_url(&mut o, "url", &pg);
            o.str(label, r.pick(values));
        }
        Flavor::Alert => {
            let q = search_query(r);
            o.text("query", &q);
            o.str("how_often", r.pick(&["As-it-happens", "At most once a day", "At most once a week"]));
            o.str("sources", r.pick(&["Automatic", "News", "Blogs", "Web", "Video"]));
            o.str("language", r.pick(&["English", "German", "French", "Spanish"]));
            o.str("region", r.pick(CITIES).country);
        }
        Flavor::Autofill => {
            let field = r.pick(&["full_name", "email", "city", "company", "street_address"]);
            o.str("name", field);
            let first = r.pick(FIRST_NAMES);
            let last = r.pick(LAST_NAMES);
            match field {
                "full_name" => o.text("value", &[first, " ", last, ""]),
                "email" => {
                    let b = o.key("value");
                    b.push(b'"');
                    email_part(b, first);
                    b.push(b'.');
                    email_part(b, last);
                    b.extend_from_slice(b"@example.com\"");
                }
                "city" => o.str("value", r.pick(CITIES).name),
                "company" => o.str("value", r.pick(BRANDS).0),
                _ => {
                    let b = o.key("value");
                    b.push(b'"');
                    uint(b, 1 + r.below(220));
                    b.push(b' ');
                    esc(b, r.pick(STREETS));
                    b.push(b'"');
                }
            }
            o.int("count", r.range(1, 120));
        }
        Flavor::Word => {
            o.str("word", r.pick(WORDS));
            o.str("language", r.pick(&["en-GB", "en-US", "de-DE"]));
        }
        Flavor::Extension => {
            o.str("name", r.pick(EXTENSIONS));
            o.random_id("extension_id", r, "", 32, b"abcdefghijklmnopabcdefghijklmnopabcdefghijklmnopabcdefghijklmnop");
            let b = o.key("version");
            b.push(b'"');
            uint(b, r.below(30));
            b.push(b'.');
            uint(b, r.below(20));
            b.push(b'.');
            uint(b, r.below(200));
            b.push(b'"');
            o.boolean("enabled", r.chance(85));
            o.boolean("incognito_enabled", r.chance(20));
        }
        Flavor::Setting(names) => {
            o.str("name", r.pick(names));
            o.str("value", r.pick(SETTING_VALUES));
        }
        Flavor::AliasedPlace => {
            let pl = place(r);
            o.str("alias", r.pick(ALIASES));
            address(&mut o, "address", &pl);
            coordinate(&mut o, "latitude", pl.lat);
            coordinate(&mut o, "longitude", pl.lng);
        }
        Flavor::Route => {
            let from = place(r);
            let to = place(r);
            address(&mut o, "origin", &from);
            address(&mut o, "destination", &to);
            o.str("travel_mode", r.pick(TRAVEL_MODES));
            let b = o.key("departure_time");
            let minutes = 6 * 60 + r.below(4 * 12) * 5;
            b.extend_from_slice(&[
                b'"',
                b'0' + (minutes / 600) as u8,
                b'0' + (minutes / 60 % 10) as u8,
                b':',
                b'0' + (minutes % 60 / 10) as u8,
                b'0' + (minutes % 10) as u8,
                b'"',
            ]);
        }
        Flavor::Vehicle(electric) => {
            let (make, models) = r.pick(CAR_MAKES);
            o.str("make", make);
            o.str("model", r.pick(models));
            if electric {
                o.str("plug_type", r.pick(PLUGS));
                o.int("battery_kwh", r.range(40, 100));
            } else {
                o.str("engine_type", r.pick(ENGINES));
            }
        }
        Flavor::Contribution(edits) => {
            let pl = place(r);
            o.text("place", &pl.name);
            address(&mut o, "address", &pl);
            o.str("edit", r.pick(edits));
            o.str("status", r.pick(CONTRIBUTION_STATES));
        }
        Flavor::PlaceMedia => {
            let pl = place(r);
            o.text("place", &pl.name);
            o.random_id("url", r, "https://lh3.googleusercontent.com/p/AF1Qip", 38, BASE64URL);
            o.str("media_type", r.pick(&["PHOTO", "PHOTO", "PHOTO", "VIDEO"]));
            o.int("views", r.range(0, 25_000));
        }
        Flavor::QuestionAnswer => {
            let pl = place(r);
            let q = r.below(QUESTIONS.len() as u64) as usize;
            o.text("place", &pl.name);
            o.str("question", QUESTIONS[q]);
            o.str("answer", ANSWERS[q]);
        }
        Flavor::PlaceReview => {
            let pl = place(r);
            o.text("place", &pl.name);
            address(&mut o, "address", &pl);
            o.int("rating", r.range(1, 5));
            o.text("text", &[r.pick(REVIEW_SENTENCES), " ", r.pick(REVIEW_SENTENCES), ""]);
        }
        Flavor::ProductReview => {
            let thing = r.pick(THINGS);
            o.text("product", &[r.pick(BRANDS).0, " ", thing, ""]);
            o.int("rating", r.range(1, 5));
            o.text("text", &[r.pick(REVIEW_SENTENCES), " ", r.pick(REVIEW_SENTENCES), ""]);
        }
        Flavor::MediaReview => {
            o.str("title", r.pick(MOVIES));
            o.str("media_type", r.pick(&["MOVIE", "TV_SHOW"]));
            o.int("stars", r.range(1, 5));
            o.text("review", &[r.pick(REVIEW_SENTENCES), "", "", ""]);
        }
        Flavor::SearchComment => {
            o.str("text", r.pick(REVIEW_SENTENCES));
            o.url_q("url", "https://www.google.com/search?q=", &search_query(r), "");
        }
        Flavor::Comment(url_prefix) => {
            o.str("text", r.pick(MESSAGES));
            o.random_id("url", r, url_prefix, 11, BASE64URL);
        }
        Flavor::MediaTitle(kind) => {
            o.str("title", r.pick(MOVIES));
            o.str("media_type", r.pick(&["MOVIE", "TV_SHOW"]));
            if kind == "thumbs" {
                o.str("thumbs", r.pick(&["UP", "UP", "DOWN"]));
            } else {
                o.str("provider", r.pick(PROVIDERS));
            }
        }
        Flavor::StreamingProvider => {
            o.str("provider", r.pick(PROVIDERS));
            o.boolean("subscribed", r.chance(70));
        }
        Flavor::MyMap => {
            let c = r.pick(CITIES);
            o.text("title", &[c.name, r.pick(MY_MAP_KINDS), " ", r.pick(YEARS)]);
            o.text("description", &["Places to visit in ", c.name, ", ", c.country]);
            o.random_id("url", r, "https://www.google.com/maps/d/edit?mid=1", 32, BASE64URL);
            o.int("places", r.range(1, 60));
        }
        Flavor::CameraEvent => {
            o.str("camera", r.pick(CAMERAS));
            o.str("event_type", r.pick(CAMERA_EVENTS));
            o.int("duration_seconds", r.range(3, 180));
        }
        Flavor::CameraFeature => {
            o.str("camera", r.pick(CAMERAS));
            o.str("feature", r.pick(CAMERA_FEATURES));
            o.boolean("enabled", r.chance(60));
        }
        Flavor::CameraVideo => {
            o.str("camera", r.pick(CAMERAS));
            o.random_id("clip_url", r, "https://home.google.com/clips/", 24, BASE64URL);
            o.int("duration_seconds", r.range(5, 600));
        }
        Flavor::NestHome => {
            let pl = place(r);
            o.str("home", r.pick(&["Home", "Beach house", "Cabin", "Flat", "Parents' house"]));
            o.str("role", r.pick(&["OWNER", "MEMBER", "MEMBER"]));
            address(&mut o, "address", &pl);
        }
        Flavor::Device(models) => {
            o.str("model", r.pick(models));
            let b = o.key("android_version");
            b.push(b'"');
            uint(b, r.range(12, 15) as u64);
            b.push(b'"');
            o.random_id("device_id", r, "", 16, b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
            o.int("battery_health_percent", r.range(70, 100));
        }
        Flavor::Order(items, merchant) => {
            o.str("item", r.pick(items));
            o.price(r, 99, 40_000);
            o.str("status", r.pick(ORDER_STATES));
            match merchant {
                Merchant::Named(m) => o.str("merchant", m),
                Merchant::Place => o.text("merchant", &place(r).name),
                Merchant::Channel => o.str("merchant", r.pick(CHANNELS)),
            }
        }
        Flavor::App(label, values) => {
            let (title, package) = r.pick(APPS);
            o.str("title", title);
            o.str("package", package);
            o.str(label, r.pick(values));
        }
        Flavor::PlaySubscription => {
            let (title, package) = r.pick(APPS);
            o.text("title", &[title, " Premium", "", ""]);
            o.str("package", package);
            o.str("state", r.pick(&["ACTIVE", "ACTIVE", "CANCELLED", "EXPIRED"]));
            o.price(r, 99, 12_000);
        }
        Flavor::Points => {
            o.int("points", r.range(1, 500));
            o.str("reason", r.pick(&["Purchase", "Weekly prize", "Level-up bonus", "Promotion", "Redeemed"]));
            o.str("level", r.pick(&["Bronze", "Silver", "Gold", "Platinum"]));
        }
        Flavor::Promotion(kind) => {
            o.str("kind", kind);
            o.random_id("code", r, "", 16, b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789ABCDEFGHJKLMNPQRSTUVWXYZ23456789");
            o.text("title", &[r.pick(&["1 month free of ", "€5 off ", "Bonus for "]), r.pick(APPS).0, "", ""]);
            o.price(r, 100, 5_000);
        }
        Flavor::Address => {
            let pl = place(r);
            o.text("name", &[r.pick(FIRST_NAMES), " ", r.pick(LAST_NAMES), ""]);
            address(&mut o, "address", &pl);
            o.str("country_code", pl.city.code);
            let b = o.key("phone");
            b.extend_from_slice(b"\"+");
            uint(b, 1 + r.below(98));
            b.push(b' ');
            uint(b, 100_000_000 + r.below(900_000_000));
            b.push(b'"');
        }
        Flavor::Channel => {
            let ch = r.below(CHANNELS.len() as u64) as usize;
            o.str("title", CHANNELS[ch]);
            let b = o.key("url");
            b.extend_from_slice(b"\"https://www.youtube.com/channel/");
            channel_id(b, ch);
            b.push(b'"');
            o.str("description", r.pick(CHANNEL_DESCRIPTIONS));
            o.str("country", r.pick(CITIES).code);
        }
        Flavor::Video(privacy) => {
            o.text("title", &video_title(r));
            watch_url(&mut o, "url", r, "www.youtube.com");
            o.str("privacy", privacy);
            o.int("duration_seconds", r.range(15, 3600));
        }
        Flavor::Playlist(visibility) => {
            o.str("title", r.pick(PLAYLISTS));
            o.random_id("url", r, "https://www.youtube.com/playlist?list=PL", 32, BASE64URL);
            o.str("visibility", visibility);
            o.int("video_count", r.range(1, 250));
        }
        Flavor::Conversation => {
            o.text("participant", &[r.pick(FIRST_NAMES), " ", r.pick(LAST_NAMES), ""]);
            o.str("text", r.pick(MESSAGES));
            watch_url(&mut o, "shared_video", r, "www.youtube.com");
        }
        Flavor::Music => {
            o.str("title", r.pick(SONGS));
            o.str("artist", r.pick(ARTISTS));
            watch_url(&mut o, "url", r, "music.youtube.com");
            o.str("action", r.pick(&["LIKED", "ADDED_TO_LIBRARY", "PLAYED"]));
        }
        Flavor::Playable => {
            o.str("title", r.pick(GAMES));
            o.random_id("url", r, "https://www.youtube.com/playables/", 11, BASE64URL);
            o.int("high_score", r.range(0, 1_000_000));
        }
        Flavor::Post => {
            o.text("text", &[r.pick(MESSAGES), " ", r.pick(REVIEW_SENTENCES), ""]);
            o.random_id("url", r, "https://www.youtube.com/post/Ugk", 23, BASE64URL);
            o.int("likes", r.range(0, 5000));
        }
        Flavor::StreetView => {
            let pl = place(r);
            o.random_id("url", r, "https://www.google.com/maps/@?api=1&map_action=pano&pano=", 22, BASE64URL);
            coordinate(&mut o, "latitude", pl.lat);
            coordinate(&mut o, "longitude", pl.lng);
            o.int("views", r.range(0, 100_000));
        }
    }
    o.end();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use dataport_types::Timestamp;
    use serde_json::Value;

    use super::*;
    use crate::catalogue::Catalogue;
    use crate::sources::SinkError;

    /// One file as a source wrote it.
    #[derive(Debug, Clone, PartialEq)]
    struct File {
        name: String,
        layout: FileLayout,
        records: Vec<Vec<u8>>,
        ended: bool,
    }

    impl File {
        /// The file's bytes as the archive would hold them.
        fn document(&self) -> Vec<u8> {
            let mut out = self.layout.prefix.clone().into_bytes();
            for (i, r) in self.records.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(self.layout.separator.as_bytes());
                }
                out.extend_from_slice(r);
            }
            out.extend_from_slice(self.layout.suffix.as_bytes());
            out
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.document()).expect("the document is JSON")
        }
    }

    /// Collects files in memory; optionally raises a cancellation flag after some records.
    #[derive(Default)]
    struct MemSink<'a> {
        files: Vec<File>,
        cancel_after: Option<(usize, &'a AtomicBool)>,
        total: usize,
    }

    impl FileSink for MemSink<'_> {
        fn begin_file(&mut self, name: &str, layout: FileLayout) -> Result<(), SinkError> {
            assert!(self.files.last().is_none_or(|f| f.ended), "previous file not ended");
            self.files.push(File { name: name.to_owned(), layout, records: Vec::new(), ended: false });
            Ok(())
        }

        fn record(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
            let file = self.files.last_mut().filter(|f| !f.ended).ok_or(SinkError::NoOpenFile)?;
            file.records.push(bytes.to_vec());
            self.total += 1;
            if let Some((n, flag)) = self.cancel_after
                && self.total == n
            {
                flag.store(true, Ordering::Relaxed);
            }
            Ok(())
        }

        fn write(&mut self, _bytes: &[u8]) -> Result<(), SinkError> {
            panic!("the emulator writes no media");
        }

        fn begin_bundle(&mut self) -> Result<(), SinkError> {
            Ok(())
        }

        fn end_bundle(&mut self) -> Result<(), SinkError> {
            Ok(())
        }

        fn end_file(&mut self) -> Result<(), SinkError> {
            let file = self.files.last_mut().ok_or(SinkError::NoOpenFile)?;
            file.ended = true;
            Ok(())
        }
    }

    /// 2026-11-27T09:00:00.123456Z: deliberately not on a millisecond.
    const EXPORT: i64 = 1_795_770_000_123_456;

    fn group(name: &str) -> ResourceGroup {
        Catalogue::built_in().get(name).cloned().unwrap_or_else(|| panic!("{name} is in the catalogue"))
    }

    fn emulator(records: u64, seed: u64) -> Emulator {
        Emulator::new(EmulatorConfig { records_per_group: records, seed, ..EmulatorConfig::default() })
    }

    fn run(emu: &Emulator, name: &str, subject: &str, start: Option<i64>, export: i64) -> File {
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject,
            start_time: start.map(Timestamp::from_micros),
            export_time: Timestamp::from_micros(export),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        emu.export(&group(name), &request, &mut sink).expect("export succeeds");
        assert_eq!(sink.files.len(), 1, "{name}: one file");
        let file = sink.files.remove(0);
        assert!(file.ended, "{name}: file ended");
        file
    }

    /// The time of each record in microseconds, whatever the shape.
    fn times(name: &str, file: &File) -> Vec<i64> {
        let parse = |s: &str| {
            assert_eq!(s.len(), 24, "{s}: RFC 3339 with exactly 3 fractional digits");
            assert_eq!(&s[19..20], ".", "{s}");
            Timestamp::parse(s).unwrap_or_else(|_| panic!("{s} parses")).micros()
        };
        let doc = file.json();
        match name {
            "chrome.history" => doc["Browser History"]
                .as_array()
                .expect("array")
                .iter()
                .map(|r| r["time_usec"].as_i64().expect("integer time_usec"))
                .collect(),
            "maps.starred_places" => doc["features"]
                .as_array()
                .expect("array")
                .iter()
                .map(|f| parse(f["properties"]["date"].as_str().expect("date")))
                .collect(),
            _ => doc.as_array().expect("array").iter().map(|r| parse(r["time"].as_str().expect("time"))).collect(),
        }
    }

    /// Splits CSV text into rows of fields (RFC 4180 quoting).
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        assert!(field.is_empty() && row.is_empty(), "CSV ends with a newline");
        rows
    }

    #[test]
    fn same_inputs_give_the_same_bytes_and_other_subjects_or_seeds_other_bytes() {
        for name in
            ["myactivity.search", "chrome.history", "maps.starred_places", "youtube.subscriptions", "play.library"]
        {
            let a = run(&emulator(40, 7), name, "alice", None, EXPORT);
            assert_eq!(a, run(&emulator(40, 7), name, "alice", None, EXPORT), "{name}");
            assert_ne!(a.records, run(&emulator(40, 7), name, "bob", None, EXPORT).records, "{name}");
            assert_ne!(a.records, run(&emulator(40, 8), name, "alice", None, EXPORT).records, "{name}");
        }
    }

    #[test]
    fn every_built_in_group_exports_a_valid_file_of_about_n_records_newest_first() {
        let emu = emulator(50, 0);
        for g in Catalogue::built_in().groups() {
            let name = g.name.as_str();
            let file = run(&emu, name, "alice", None, EXPORT);
            let n = file.records.len();
            assert!((49..=51).contains(&n), "{name}: {n} records");
            let expected_name = match name {
                "chrome.history" => "History.json".to_owned(),
                "maps.starred_places" => "Saved Places.json".to_owned(),
                "youtube.subscriptions" => "subscriptions.csv".to_owned(),
                _ if name.starts_with("myactivity.") => "MyActivity.json".to_owned(),
                _ => format!("{}.json", name.rsplit('.').next().expect("a segment")),
            };
            assert_eq!(file.name, expected_name);
            if name == "youtube.subscriptions" {
                continue;
            }
            let ts = times(name, &file);
            assert_eq!(ts.len(), n, "{name}");
            assert!(ts.windows(2).all(|w| w[0] > w[1]), "{name}: strictly newest first");
            assert!(ts.iter().all(|t| (EXPORT - HISTORY_MICROS..EXPORT).contains(t)), "{name}: within the window");
            if !name.starts_with("myactivity.") && name != "chrome.history" && name != "maps.starred_places" {
                let doc = file.json();
                let mut ids = HashSet::new();
                for r in doc.as_array().expect("array") {
                    let obj = r.as_object().expect("object");
                    assert!((4..=7).contains(&obj.len()), "{name}: id, time and 2-5 fields: {r}");
                    assert!(ids.insert(obj["id"].as_str().expect("id").to_owned()), "{name}: unique ids");
                }
            }
        }
    }

    #[test]
    fn my_activity_records_have_googles_fields() {
        let emu = emulator(300, 0);
        let expect = [
            ("myactivity.search", "Search", "Web & App Activity"),
            ("myactivity.youtube", "YouTube", "YouTube"),
            ("myactivity.maps", "Maps", "Web & App Activity"),
            ("myactivity.play", "Google Play Store", "Web & App Activity"),
            ("myactivity.shopping", "Shopping", "Web & App Activity"),
            ("myactivity.myadcenter", "My Ad Center", "Web & App Activity"),
        ];
        for (name, header, control) in expect {
            let doc = run(&emu, name, "alice", None, EXPORT).json();
            let (mut urls, mut subtitles) = (0, 0);
            for r in doc.as_array().expect("array") {
                assert_eq!(r["header"], header, "{r}");
                assert_eq!(r["products"], serde_json::json!([header]), "{r}");
                assert!(!r["title"].as_str().expect("title").is_empty());
                let controls = r["activityControls"].as_array().expect("activityControls");
                assert!(!controls.is_empty() && controls.iter().all(|c| c.as_str().expect("str").starts_with(control)));
                if let Some(url) = r.get("titleUrl") {
                    assert!(url.as_str().expect("url").starts_with("https://"), "{r}");
                    urls += 1;
                }
                if let Some(s) = r.get("subtitles") {
                    assert!(s[0]["name"].is_string() && s[0]["url"].is_string(), "{r}");
                    subtitles += 1;
                }
                if let Some(d) = r.get("details") {
                    assert!(d[0]["name"].is_string(), "{r}");
                }
                let allowed = ["header", "title", "titleUrl", "subtitles", "description", "time", "products"];
                let more = ["details", "activityControls"];
                assert!(
                    r.as_object()
                        .expect("object")
                        .keys()
                        .all(|k| allowed.contains(&k.as_str()) || more.contains(&k.as_str()))
                );
            }
            assert!(urls > 100, "{name}: most records link somewhere");
            assert_eq!(subtitles > 0, name == "myactivity.youtube", "{name}");
        }
    }

    #[test]
    fn chrome_history_has_the_browser_history_shape() {
        let file = run(&emulator(200, 0), "chrome.history", "alice", None, EXPORT);
        let doc = file.json();
        let records = doc["Browser History"].as_array().expect("Browser History");
        assert_eq!(records.len(), file.records.len());
        let mut clients = HashSet::new();
        for r in records {
            assert!(r["title"].is_string() && r["page_transition"].is_string(), "{r}");
            assert!(r["url"].as_str().expect("url").starts_with("https://"), "{r}");
            assert!(r["time_usec"].is_i64(), "{r}");
            clients.insert(r["client_id"].as_str().expect("client_id").to_owned());
            if let Some(f) = r.get("favicon_url") {
                assert!(f.as_str().expect("favicon").ends_with("/favicon.ico"));
            }
        }
        assert!((1..=3).contains(&clients.len()), "a few devices: {clients:?}");
    }

    #[test]
    fn starred_places_are_a_geojson_feature_collection() {
        let doc = run(&emulator(100, 0), "maps.starred_places", "alice", None, EXPORT).json();
        assert_eq!(doc["type"], "FeatureCollection");
        for f in doc["features"].as_array().expect("features") {
            assert_eq!(f["type"], "Feature");
            assert_eq!(f["geometry"]["type"], "Point");
            let c = f["geometry"]["coordinates"].as_array().expect("coordinates");
            let (lng, lat) = (c[0].as_f64().expect("lng"), c[1].as_f64().expect("lat"));
            assert!((-180.0..=180.0).contains(&lng) && (-90.0..=90.0).contains(&lat), "{f}");
            let p = &f["properties"];
            assert!(p["google_maps_url"].as_str().expect("url").starts_with("http://maps.google.com/?cid="));
            for k in ["name", "address", "country_code"] {
                assert!(p["location"][k].is_string(), "{k}: {f}");
            }
        }
    }

    #[test]
    fn youtube_subscriptions_are_csv_with_quoted_fields() {
        let file = run(&emulator(200, 0), "youtube.subscriptions", "alice", None, EXPORT);
        assert!(file.records.iter().all(|r| r.ends_with(b"\n")));
        let text = String::from_utf8(file.document()).expect("UTF-8");
        let rows = parse_csv(&text);
        assert_eq!(rows[0], ["Channel Id", "Channel Url", "Channel Title"]);
        assert_eq!(rows.len(), file.records.len() + 1);
        for row in &rows[1..] {
            assert_eq!(row.len(), 3, "{row:?}");
            assert!(row[0].starts_with("UC") && row[0].len() == 24, "{row:?}");
            assert_eq!(row[1], format!("http://www.youtube.com/channel/{}", row[0]));
        }
        assert!(rows.iter().any(|r| r[2].contains(',')) && rows.iter().any(|r| r[2].contains('"')), "quoting tested");
    }

    #[test]
    fn a_full_export_holds_n_records() {
        for n in [1, 7, 1000] {
            let got = run(&emulator(n, 3), "myactivity.search", "alice", None, EXPORT).records.len() as u64;
            assert!(got.abs_diff(n) <= 1, "{n}: {got}");
        }
        let empty = run(&emulator(0, 3), "myactivity.search", "alice", None, EXPORT);
        assert!(empty.records.is_empty());
        assert_eq!(empty.json(), serde_json::json!([]));
    }

    #[test]
    fn per_group_override_changes_only_that_group() {
        let mut config = EmulatorConfig { records_per_group: 100, ..EmulatorConfig::default() };
        config.records_by_group.insert("myactivity.search".to_owned(), 10);
        let emu = Emulator::new(config);
        assert_eq!(emu.records_for("myactivity.search"), 10);
        assert!(run(&emu, "myactivity.search", "a", None, EXPORT).records.len().abs_diff(10) <= 1);
        assert!(run(&emu, "myactivity.maps", "a", None, EXPORT).records.len().abs_diff(100) <= 1);
    }

    #[test]
    fn start_time_is_inclusive_and_export_time_exclusive() {
        let emu = emulator(500, 0);
        for name in ["myactivity.youtube", "chrome.history", "maps.starred_places", "chrome.bookmarks"] {
            let full = run(&emu, name, "alice", None, EXPORT);
            let ts = times(name, &full);
            let t = ts[ts.len() / 2];
            let from = run(&emu, name, "alice", Some(t), EXPORT);
            assert_eq!(times(name, &from).last(), Some(&t), "{name}: start is inclusive");
            assert_eq!(from.records[..], full.records[..=ts.len() / 2], "{name}: the same records");
            let until = run(&emu, name, "alice", None, t);
            assert!(times(name, &until).iter().all(|&u| u < t), "{name}: export time is exclusive");
            let until_after = run(&emu, name, "alice", None, t + 1);
            assert_eq!(times(name, &until_after)[0], t, "{name}");
            assert_eq!(until_after.records[0], full.records[ts.len() / 2], "{name}: a slot is the same record");
            // A window of one microsecond around a record holds exactly that record.
            assert_eq!(run(&emu, name, "alice", Some(t), t + 1).records.len(), 1, "{name}");
            assert!(run(&emu, name, "alice", Some(t), t).records.is_empty(), "{name}");
            assert!(run(&emu, name, "alice", Some(EXPORT), EXPORT - 5).json().is_object() || name != "chrome.history");
        }
    }

    #[test]
    fn a_time_filtered_export_is_a_real_subset() {
        let emu = emulator(1000, 0);
        let year = 365 * 86_400 * 1_000_000;
        let last_year = run(&emu, "myactivity.search", "alice", Some(EXPORT - year), EXPORT);
        let n = last_year.records.len();
        assert!((190..=210).contains(&n), "one year of five: {n}");
        assert!(times("myactivity.search", &last_year).iter().all(|&t| t >= EXPORT - year));
    }

    #[test]
    fn incremental_exports_neither_miss_nor_repeat_records() {
        let emu = emulator(2000, 11);
        for name in ["myactivity.search", "chrome.history", "youtube.subscriptions"] {
            let start = EXPORT - HISTORY_MICROS / 2;
            let full = run(&emu, name, "alice", Some(start), EXPORT);
            // Split points that are not on milliseconds, including one that is not even on a second.
            let splits = [start + 86_400_000_123, EXPORT - 31_536_000_000_001, EXPORT - 987_654_321];
            let mut pieces = Vec::new();
            let mut lower = start;
            for s in splits.iter().copied().chain([EXPORT]) {
                pieces.push(run(&emu, name, "alice", Some(lower), s));
                lower = s;
            }
            let joined: Vec<Vec<u8>> = pieces.iter().rev().flat_map(|f| f.records.clone()).collect();
            assert_eq!(joined, full.records, "{name}");
            let unique: HashSet<&Vec<u8>> = joined.iter().collect();
            assert_eq!(unique.len(), joined.len(), "{name}: no duplicates");
            assert!(pieces.iter().filter(|p| !p.records.is_empty()).count() >= 3, "{name}: real pieces");
        }
    }

    #[test]
    fn shown_times_never_leave_the_window() {
        // Millisecond times are truncated for display; slots sit on whole milliseconds so that a
        // start time inside a millisecond cannot show an earlier time than it.
        let emu = emulator(100_000, 0);
        let start = EXPORT - 86_400_000_000 * 20 + 777;
        let file = run(&emu, "myactivity.search", "alice", Some(start), EXPORT);
        assert!(times("myactivity.search", &file).iter().all(|t| (start..EXPORT).contains(t)));
    }

    #[test]
    fn cancellation_stops_the_export_early() {
        let emu = emulator(100_000, 0);
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink { cancel_after: Some((100, &cancelled)), ..MemSink::default() };
        let err = emu.export(&group("myactivity.search"), &request, &mut sink).expect_err("cancelled");
        assert!(matches!(err, SourceError::Cancelled), "{err}");
        assert!(sink.total <= 100 + CANCEL_CHECK_EVERY as usize, "stopped after {} records", sink.total);
    }

    #[test]
    fn configured_failures_fail_before_writing() {
        let mut config = EmulatorConfig::default();
        config.fail_groups.insert("chrome.history".to_owned());
        let emu = Emulator::new(config);
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        let err = emu.export(&group("chrome.history"), &request, &mut sink).expect_err("configured to fail");
        assert!(matches!(&err, SourceError::Permanent(m) if m == "the emulator is configured to fail chrome.history"));
        assert!(sink.files.is_empty());
        emu.export(&group("chrome.bookmarks"), &request, &mut sink).expect("other groups work");
    }

    #[test]
    fn empty_windows_still_produce_a_valid_file() {
        let emu = emulator(100, 0);
        for name in ["chrome.history", "maps.starred_places", "myactivity.maps", "youtube.subscriptions"] {
            let file = run(&emu, name, "alice", Some(EXPORT), EXPORT);
            assert!(file.records.is_empty());
            if name == "youtube.subscriptions" {
                assert_eq!(file.document(), b"Channel Id,Channel Url,Channel Title\n");
            } else {
                file.json();
            }
        }
    }

    #[test]
    fn extreme_times_stay_formattable() {
        let emu = emulator(100, 0);
        let early = run(&emu, "myactivity.search", "a", None, MIN_MICROS + 86_400_000_000 * 400);
        assert!(times("myactivity.search", &early).iter().all(|&t| t >= MIN_MICROS));
        let late = run(&emu, "myactivity.search", "a", None, i64::MAX);
        assert!(late.records.len().abs_diff(100) <= 1);
        times("myactivity.search", &late);
    }

    #[test]
    fn ndjson_groups_of_operator_catalogues_get_one_object_per_line() {
        let mut g = group("play.library");
        g.name = "custom.things".to_owned();
        g.format = Format::Ndjson;
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        emu_export(&emulator(20, 0), &g, &request, &mut sink);
        let file = &sink.files[0];
        assert_eq!(file.name, "things.ndjson");
        let text = String::from_utf8(file.document()).expect("UTF-8");
        assert_eq!(text.lines().count(), file.records.len());
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("a JSON object per line");
            assert!(v["id"].is_string() && v["time"].is_string());
        }
    }

    #[test]
    fn unknown_my_activity_groups_are_named_after_their_folder() {
        let mut g = group("myactivity.search");
        g.name = "myactivity.gemini".to_owned();
        g.folder = "My Activity/Gemini Apps".to_owned();
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        emu_export(&emulator(5, 0), &g, &request, &mut sink);
        let doc = sink.files[0].json();
        assert_eq!(sink.files[0].name, "MyActivity.json");
        assert_eq!(doc[0]["header"], "Gemini Apps");
        assert_eq!(doc[0]["products"], serde_json::json!(["Gemini Apps"]));
    }

    fn emu_export(emu: &Emulator, g: &ResourceGroup, request: &ExportRequest<'_>, sink: &mut MemSink<'_>) {
        emu.export(g, request, sink).expect("export succeeds");
    }

    #[test]
    fn timestamps_match_the_timestamp_type() {
        let mut r = Rng::new(5);
        for _ in 0..10_000 {
            let micros = r.range(MIN_MICROS, MAX_MICROS - 1);
            let mut b = Vec::new();
            rfc3339_ms(&mut b, micros);
            let s = String::from_utf8(b).expect("ASCII");
            let parsed = Timestamp::parse(&s).unwrap_or_else(|_| panic!("{s}"));
            assert_eq!(parsed.micros(), micros.div_euclid(1000) * 1000, "{s}");
        }
    }

    #[test]
    fn escaping_round_trips_through_serde_json() {
        for s in ["plain", "quote \" backslash \\ slash /", "line\nbreak\ttab\r", "\u{1}\u{1f}\u{7f}", "Zürich 👋"] {
            let mut b = vec![b'"'];
            esc(&mut b, s);
            b.push(b'"');
            assert_eq!(serde_json::from_slice::<String>(&b).expect("valid JSON string"), s);
        }
    }
}
