//! Writing JSON and CSV by hand into one reused buffer: escaping, numbers, times, objects.

use super::*;

/// A few static pieces that form one string value, so that composite text needs no allocation.
pub(super) type Text = [&'static str; 4];

pub(super) const fn one(s: &'static str) -> Text {
    [s, "", "", ""]
}

/// Appends `s` with JSON string escaping (no quotes).
pub(super) fn esc(b: &mut Vec<u8>, s: &str) {
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

pub(super) fn esc_text(b: &mut Vec<u8>, text: &[&str]) {
    for part in text {
        esc(b, part);
    }
}

/// Appends `text` form-urlencoded (`application/x-www-form-urlencoded`, as in `?q=`).
pub(super) fn form(b: &mut Vec<u8>, text: &[&str]) {
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
pub(super) fn slug(b: &mut Vec<u8>, text: &[&str], sep: u8, lower: bool) {
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
pub(super) fn email_part(b: &mut Vec<u8>, s: &str) {
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || c >= 0x80 {
            b.push(c.to_ascii_lowercase());
        }
    }
}

pub(super) fn uint(b: &mut Vec<u8>, mut v: u64) {
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

pub(super) fn int(b: &mut Vec<u8>, v: i64) {
    if v < 0 {
        b.push(b'-');
    }
    uint(b, v.unsigned_abs());
}

/// Appends `v / 10^7` with exactly seven decimals (coordinates).
pub(super) fn fixed7(b: &mut Vec<u8>, v: i64) {
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
pub(super) fn money(b: &mut Vec<u8>, cents: u64) {
    uint(b, cents / 100);
    b.push(b'.');
    b.push(b'0' + (cents / 10 % 10) as u8);
    b.push(b'0' + (cents % 10) as u8);
}

pub(super) fn hex(b: &mut Vec<u8>, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        b.push(HEX[((v >> (4 * i)) & 15) as usize]);
    }
}

/// Appends `n` random characters of `alphabet` (64 symbols), six bits per character.
pub(super) fn random_chars(b: &mut Vec<u8>, r: &mut Rng, n: usize, alphabet: &[u8; 64]) {
    let mut bits = 0u64;
    for i in 0..n {
        if i % 10 == 0 {
            bits = r.next();
        }
        b.push(alphabet[(bits & 63) as usize]);
        bits >>= 6;
    }
}

pub(super) const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub(super) const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Hinnant's `civil_from_days`).
pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
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
pub(super) fn rfc3339_ms(b: &mut Vec<u8>, micros: i64) {
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
pub(super) struct Obj<'b> {
    pub(super) b: &'b mut Vec<u8>,
    pub(super) empty: bool,
}

impl<'b> Obj<'b> {
    pub(super) fn new(b: &'b mut Vec<u8>) -> Self {
        b.push(b'{');
        Self { b, empty: true }
    }

    /// Writes `"k":` and returns the buffer for the value. Keys are static and need no escaping.
    pub(super) fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.b.push(b',');
        }
        self.empty = false;
        self.b.push(b'"');
        self.b.extend_from_slice(k.as_bytes());
        self.b.extend_from_slice(b"\":");
        self.b
    }

    pub(super) fn str(&mut self, k: &str, v: &str) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, v);
        b.push(b'"');
    }

    pub(super) fn text(&mut self, k: &str, v: &[&str]) {
        let b = self.key(k);
        b.push(b'"');
        esc_text(b, v);
        b.push(b'"');
    }

    pub(super) fn int(&mut self, k: &str, v: i64) {
        int(self.key(k), v);
    }

    pub(super) fn boolean(&mut self, k: &str, v: bool) {
        self.key(k).extend_from_slice(if v { b"true" } else { b"false" });
    }

    pub(super) fn time(&mut self, k: &str, micros: i64) {
        let b = self.key(k);
        b.push(b'"');
        rfc3339_ms(b, micros);
        b.push(b'"');
    }

    /// RFC 3339 with milliseconds only when they are not zero, as My Activity writes `time`.
    pub(super) fn time_ms_if_any(&mut self, k: &str, micros: i64) {
        let b = self.key(k);
        b.push(b'"');
        rfc3339_ms(b, micros);
        if micros.div_euclid(1000).rem_euclid(1000) == 0 {
            b.truncate(b.len() - 5);
            b.push(b'Z');
        }
        b.push(b'"');
    }

    pub(super) fn strs(&mut self, k: &str, vs: &[&str]) {
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
    pub(super) fn prefixed(&mut self, k: &str, prefix: &str, text: &[&str]) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, prefix);
        esc_text(b, text);
        b.push(b'"');
    }

    /// A string of `prefix`, `text` form-urlencoded, then `suffix`.
    pub(super) fn url_q(&mut self, k: &str, prefix: &str, text: &[&str], suffix: &str) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, prefix);
        form(b, text);
        esc(b, suffix);
        b.push(b'"');
    }

    /// A string of `prefix` then `n` random characters of `alphabet`.
    pub(super) fn random_id(&mut self, k: &str, r: &mut Rng, prefix: &str, n: usize, alphabet: &[u8; 64]) {
        let b = self.key(k);
        b.push(b'"');
        esc(b, prefix);
        random_chars(b, r, n, alphabet);
        b.push(b'"');
    }

    /// The record id: 16 hex digits drawn from the slot, hence stable.
    pub(super) fn id(&mut self, r: &mut Rng) {
        let b = self.key("id");
        b.push(b'"');
        hex(b, r.next(), 16);
        b.push(b'"');
    }

    pub(super) fn end(self) {
        self.b.push(b'}');
    }
}

/// Appends one CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
pub(super) fn csv_field(b: &mut Vec<u8>, s: &str) {
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
