//! Output writers: text for people, JSON for automation, the table report.

pub mod json;
pub mod table;
pub mod text;
