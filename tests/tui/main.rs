//! The dashboard drawn with ratatui's `TestBackend` (screen snapshots of a real audit, fleet
//! scale, a saved merged report) and rotation drift end to end, as one test binary. One module
//! per suite. The dashboard under tmux is `tests/tui_e2e.rs`, a binary of its own.

mod baseline;
mod drift;
mod tui_fleet;
mod tui_saved;
mod tui_snapshots;
