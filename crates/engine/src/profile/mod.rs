//! The table of TiDB component facts (see `table`).

pub mod protocol;
pub mod table;

pub use protocol::Protocol;
pub use table::*;
