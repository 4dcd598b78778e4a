//! Which session, leg and stream each local port belongs to: an array over
//! the configured range, so the lookup of every packet is one index.

use std::ops::RangeInclusive;

use crate::session::PortOwner;

#[derive(Debug)]
pub(crate) struct PortTable {
    first: u16,
    owners: Vec<Option<PortOwner>>,
}

impl PortTable {
    pub(crate) fn new(range: &RangeInclusive<u16>) -> Self {
        let len = usize::from(*range.end())
            .saturating_add(1)
            .saturating_sub(usize::from(*range.start()));
        Self {
            first: *range.start(),
            owners: vec![None; len],
        }
    }

    fn slot(&mut self, port: u16) -> Option<&mut Option<PortOwner>> {
        let index = port.checked_sub(self.first)?;
        self.owners.get_mut(usize::from(index))
    }

    pub(crate) fn get(&self, port: u16) -> Option<PortOwner> {
        let index = port.checked_sub(self.first)?;
        self.owners.get(usize::from(index)).copied().flatten()
    }

    pub(crate) fn insert(&mut self, port: u16, owner: PortOwner) {
        if let Some(slot) = self.slot(port) {
            *slot = Some(owner);
        }
    }

    pub(crate) fn remove(&mut self, port: u16) {
        if let Some(slot) = self.slot(port) {
            *slot = None;
        }
    }
}
