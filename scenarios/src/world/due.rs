//! What the world's time loop needs to visit only what is due: the handsets by name
//! and by a dense index ([`Handsets`]), and the deadline queue of handset indices
//! ([`DeadlineQueue`]).
//!
//! Indices follow name order (they are given once, when the world is built, to the
//! names sorted), so "in index order" is "in name order": the order the world has
//! always used for handsets due at the same instant. A 10,000-subscriber world polls
//! 20,000 handsets' STATUS on their own timers; keyed by index, one poll costs a few
//! integer comparisons instead of walking string-keyed maps.

use std::collections::{BTreeMap, BTreeSet};

/// Handsets by name (the world's API) and by index (its time loop).
pub(super) struct Handsets<T> {
    ids: BTreeMap<String, usize>,
    list: Vec<(String, T)>,
}

impl<T> Handsets<T> {
    /// From a name-ordered map.
    pub(super) fn new(by_name: BTreeMap<String, T>) -> Self {
        let list: Vec<(String, T)> = by_name.into_iter().collect();
        let ids = list
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        Handsets { ids, list }
    }

    /// Index of `name`.
    pub(super) fn id(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }

    /// Name of index `id`.
    pub(super) fn name(&self, id: usize) -> Option<&str> {
        self.list.get(id).map(|(n, _)| n.as_str())
    }

    /// By name.
    pub(super) fn get(&self, name: &str) -> Option<&T> {
        self.at(self.id(name)?)
    }

    /// By name, mutably.
    pub(super) fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        let id = self.id(name)?;
        self.at_mut(id)
    }

    /// By index.
    pub(super) fn at(&self, id: usize) -> Option<&T> {
        self.list.get(id).map(|(_, h)| h)
    }

    /// By index, mutably.
    pub(super) fn at_mut(&mut self, id: usize) -> Option<&mut T> {
        self.list.get_mut(id).map(|(_, h)| h)
    }

    /// Names, in order.
    pub(super) fn keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.list.iter().map(|(n, _)| n)
    }

    /// Handsets, in name order.
    pub(super) fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.list.iter().map(|(_, h)| h)
    }
}

impl<'a, T> IntoIterator for &'a Handsets<T> {
    type Item = (&'a String, &'a T);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, T)>,
        fn(&'a (String, T)) -> (&'a String, &'a T),
    >;

    /// `(name, handset)` in name order.
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter().map(|(n, h)| (n, h))
    }
}

/// At most one deadline per handset index; earliest first, ties by index.
#[derive(Debug, Default)]
pub(super) struct DeadlineQueue {
    due: BTreeSet<(u64, usize)>,
    at: Vec<Option<u64>>,
}

impl DeadlineQueue {
    /// A queue for indices `0..n`.
    pub(super) fn new(n: usize) -> Self {
        DeadlineQueue {
            due: BTreeSet::new(),
            at: vec![None; n],
        }
    }

    /// Sets (or clears) the deadline of `id`.
    pub(super) fn set(&mut self, id: usize, deadline: Option<u64>) {
        let Some(slot) = self.at.get_mut(id) else {
            return;
        };
        if *slot == deadline {
            return;
        }
        if let Some(old) = slot.take() {
            self.due.remove(&(old, id));
        }
        if let Some(d) = deadline {
            self.due.insert((d, id));
            *slot = Some(d);
        }
    }

    /// The earliest deadline.
    pub(super) fn first(&self) -> Option<u64> {
        self.due.first().map(|(d, _)| *d)
    }

    /// Takes every index due at or before `t`, in index order.
    pub(super) fn pop_due(&mut self, t: u64) -> Vec<usize> {
        let mut out = Vec::new();
        while self.due.first().is_some_and(|(d, _)| *d <= t) {
            if let Some((_, id)) = self.due.pop_first() {
                if let Some(slot) = self.at.get_mut(id) {
                    *slot = None;
                }
                out.push(id);
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_name_order() {
        let mut m = BTreeMap::new();
        for n in ["b", "a", "c"] {
            m.insert(n.to_owned(), n.to_uppercase());
        }
        let mut h = Handsets::new(m);
        assert_eq!(h.id("a"), Some(0));
        assert_eq!(h.id("c"), Some(2));
        assert_eq!(h.name(1), Some("b"));
        assert_eq!(h.get("b").map(String::as_str), Some("B"));
        if let Some(x) = h.get_mut("c") {
            x.push('!');
        }
        assert_eq!(h.at(2).map(String::as_str), Some("C!"));
        assert_eq!(h.keys().cloned().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(h.values().cloned().collect::<Vec<_>>(), ["A", "B", "C!"]);
        assert_eq!(h.id("zz"), None);
        assert!(h.at(3).is_none());
    }

    #[test]
    fn queue_pops_what_is_due_in_index_order() {
        let mut q = DeadlineQueue::new(4);
        assert_eq!(q.first(), None);
        q.set(3, Some(100));
        q.set(1, Some(100));
        q.set(2, Some(50));
        q.set(0, Some(200));
        assert_eq!(q.first(), Some(50));
        // Moving a deadline replaces it.
        q.set(2, Some(150));
        assert_eq!(q.first(), Some(100));
        assert_eq!(q.pop_due(99), Vec::<usize>::new());
        assert_eq!(q.pop_due(150), vec![1, 2, 3]);
        assert_eq!(q.first(), Some(200));
        q.set(0, None);
        assert_eq!(q.first(), None);
        q.set(9, Some(1)); // out of range: ignored
        assert_eq!(q.first(), None);
    }
}
