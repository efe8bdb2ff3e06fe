//! The timeline of record slots (see the module doc of the emulator) and its randomness.

use super::*;

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast and fixed forever, unlike `rand`'s generators.
#[derive(Clone, Debug)]
pub(super) struct Rng(pub(super) u64);

pub(super) const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective avalanche mix of one word.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// FNV-1a over the identity of a timeline; length prefixes keep ("ab","c") apart from ("a","bc").
pub(super) fn timeline_key(seed: u64, subject: &str, group: &str) -> u64 {
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
pub(super) struct Timeline {
    pub(super) key: u64,
    /// Δ in microseconds; 0 when the group has no records.
    pub(super) spacing: i64,
    /// Record times are multiples of this many microseconds when a slot is wide enough.
    pub(super) resolution: i64,
}

impl Timeline {
    pub(super) fn new(seed: u64, subject: &str, group: &str, records: u64, resolution: i64) -> Self {
        let spacing = (HISTORY_MICROS as u64).checked_div(records).map_or(0, |s| s.max(1) as i64);
        Self { key: timeline_key(seed, subject, group), spacing, resolution }
    }

    /// The generator of slot `j`: its first draw places the slot, the rest make its content.
    pub(super) fn slot_rng(&self, j: i64) -> Rng {
        Rng::new(mix(self.key ^ mix((j as u64).wrapping_mul(GOLDEN))))
    }

    /// The time of slot `j`: in `[j·Δ, (j+1)·Δ)`, on a multiple of the resolution if there is one.
    pub(super) fn time(&self, j: i64, draw: u64) -> i64 {
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
    pub(super) fn slots(&self, lower: i64, upper: i64) -> impl Iterator<Item = (Rng, i64)> + '_ {
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
