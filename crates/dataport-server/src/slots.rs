//! Concurrency caps by key: how many connections one address holds, how many downloads stream to
//! an address or of a job. A [`Slot`] is held for as long as the thing it counts lives, and gives
//! its places back when dropped. Kept in this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open counts per key.
#[derive(Default)]
pub struct Slots(Mutex<HashMap<String, usize>>);

/// Places taken in [`Slots`], given back on drop.
pub struct Slot {
    slots: Arc<Slots>,
    keys: Vec<String>,
}

impl Slots {
    /// A place under every `(key, cap)` at once, or `None` (and nothing taken) if one is full.
    pub fn take(self: &Arc<Self>, caps: &[(String, usize)]) -> Option<Slot> {
        let mut open = self.0.lock().ok()?;
        if caps.iter().any(|(key, cap)| open.get(key).copied().unwrap_or(0) >= *cap) {
            return None;
        }
        for (key, _) in caps {
            *open.entry(key.clone()).or_default() += 1;
        }
        Some(Slot { slots: self.clone(), keys: caps.iter().map(|(key, _)| key.clone()).collect() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.0.lock() {
            for key in &self.keys {
                if let Some(n) = open.get_mut(key) {
                    *n -= 1;
                    if *n == 0 {
                        open.remove(key);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_caps_or_nothing_and_places_come_back() {
        let slots = Arc::new(Slots::default());
        let caps = |job: &str| vec![("a:x".to_owned(), 2), (format!("j:{job}"), 1)];
        let first = slots.take(&caps("1")).expect("room");
        assert!(slots.take(&caps("1")).is_none(), "the job is full");
        let second = slots.take(&caps("2")).expect("another job");
        assert!(slots.take(&caps("3")).is_none(), "the address is full");
        drop(first);
        assert!(slots.take(&caps("1")).is_some(), "given back on drop");
        drop(second);
        assert!(slots.0.lock().expect("lock").is_empty(), "nothing left behind");
    }
}
