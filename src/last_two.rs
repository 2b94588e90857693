//! A lookup memo of the last two keys, for the per-record loops of every stage.
//!
//! Records come in runs of one flow whose two directions interleave (data
//! and acknowledgements, requests and replies): a memo of one key misses on
//! every other record, one of two nearly never.

/// The last two keys put (a hit does not reorder them: the two directions
/// of a stream would swap on every record) and their values.
#[derive(Clone, Copy, Debug)]
pub struct LastTwo<K, V>([Option<(K, V)>; 2]);

impl<K, V> Default for LastTwo<K, V> {
    fn default() -> Self {
        LastTwo([None, None])
    }
}

impl<K: PartialEq + Copy, V: Copy> LastTwo<K, V> {
    /// The value of `key`, if it is one of the two.
    #[inline]
    pub fn get(&self, key: &K) -> Option<V> {
        match self.0 {
            [Some((k, v)), _] | [_, Some((k, v))] if k == *key => Some(v),
            _ => None,
        }
    }

    /// Remembers `key` as the latest, forgetting the older other one.
    #[inline]
    pub fn put(&mut self, key: K, value: V) {
        let keep = match self.0[0] {
            Some((k, _)) if k == key => self.0[1],
            first => first,
        };
        self.0 = [Some((key, value)), keep];
    }

    /// The value of `key`, computed by `f` and remembered when it is not one of the two.
    #[inline]
    pub fn get_or(&mut self, key: K, f: impl FnOnce() -> V) -> V {
        if let Some(v) = self.get(&key) {
            return v;
        }
        let v = f();
        self.put(key, v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_two_and_forgets_the_oldest() {
        let mut m: LastTwo<u8, u32> = LastTwo::default();
        let mut calls = 0;
        for k in [1, 2, 1, 2, 1, 3, 1, 2] {
            m.get_or(k, || {
                calls += 1;
                u32::from(k) * 10
            });
        }
        // 1 and 2 once each while they alternate; 3 replaces 1 (put
        // before 2), so 1 and then 2 are computed again.
        assert_eq!(calls, 5);
        assert_eq!(m.get(&1), Some(10));
        assert_eq!(m.get(&2), Some(20));
        assert_eq!(m.get(&3), None);
        m.put(2, 7);
        m.put(2, 8);
        assert_eq!((m.get(&2), m.get(&1)), (Some(8), Some(10)));
    }
}
