//! A complete back end as one trait object.

use switchboard_server::storage::{BindingStore, EventStateStore, UserStore};

use crate::error::StoreError;

/// A complete back end, for `Box<dyn Store>` / `Arc<dyn Store>`: the
/// server's [`UserStore`], [`BindingStore`] and [`EventStateStore`] with
/// this crate's [`StoreError`].
pub trait Store:
    UserStore<Error = StoreError>
    + BindingStore<Error = StoreError>
    + EventStateStore<Error = StoreError>
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: UserStore<Error = StoreError>
        + BindingStore<Error = StoreError>
        + EventStateStore<Error = StoreError>
        + Send
        + Sync
{
}
