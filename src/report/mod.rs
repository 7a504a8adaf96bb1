//! Output writers: text for people, JSON for automation, the table report, and the text of
//! `diagnose` and `explain`.

pub mod diagnose;
pub mod diff;
pub mod explain;
pub mod json;
pub mod table;
pub mod text;
