//! Differences that come from this host's KVM rather than the interpreter
//! (each documented in docs/difftest.md, "Findings").

use super::generate::Sequence;
use super::lockstep::Difference;

/// The quirk that explains `d`, if any.
pub fn classify(_seq: &Sequence, _d: &Difference) -> Option<&'static str> {
    None
}
