//! Output writers: text for people, JSON for automation.

pub mod text;
