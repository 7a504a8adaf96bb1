//! From audit to remedy: `init` builds a cluster's PKI and allow-lists from a TiUP topology
//! ([`init`]), from the table of needs in [`crate::profile`] (never a second table); `fix`
//! turns findings into a patch of the layer that holds each list ([`patch`]: one edit, printed
//! as a fragment and as a diff); `rotate` issues new leaves from the same CA.
//! See `docs/remedy.md`.

pub mod allow;
pub mod edit;
pub mod fix;
pub mod init;
pub mod inventory;
pub mod patch;
pub mod render;
pub mod rotate;

pub use allow::{allow_lists, AllowList, Entry};
pub use init::{init, CaSource, InitOptions, InitOutput, InstanceFiles};
