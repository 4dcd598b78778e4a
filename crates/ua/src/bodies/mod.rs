//! The event bodies the user agent writes (PIDF for PUBLISH) and reads
//! (NOTIFY: PIDF, dialog-info, reginfo, RLMI resource lists), with small readers of its own.

mod dialog_info;
mod notify_body;
mod presence;
mod reg_info;
mod resource_list;
mod xml;

pub use dialog_info::{DIALOG_INFO, DialogInfo, DialogSummary};
pub use notify_body::NotifyBody;
pub use presence::{PIDF, Presence};
pub use reg_info::{ContactSummary, REGINFO, RegInfo, RegistrationSummary};
pub use resource_list::{ListedResource, RLMI, ResourceList};
