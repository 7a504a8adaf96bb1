//! One cell's state in a snapshot: the last record of an identity probing an endpoint, its
//! verdict, and whether either changed since the previous round. Below the drift check, which
//! reads the cells' records, and the snapshot, which holds them.

use std::sync::Arc;

use super::expect::Verdict;
use crate::probe::ProbeRecord;

/// One cell's state in a snapshot (the default: not probed yet).
#[derive(Debug, Clone, Default)]
pub struct CellState {
    pub record: Option<Arc<ProbeRecord>>,
    pub verdict: Option<Verdict>,
    /// Verdict or server certificate changed since the previous round.
    pub changed: bool,
    /// The server certificate changed since the previous round (rotation).
    pub rotated: bool,
}
