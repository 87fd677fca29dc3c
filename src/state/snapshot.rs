//! Versioned serialization of vCPU state.
//!
//! A snapshot file is JSON: `{"format": "nestor-vcpu", "version": N,
//! "state": {...}}`. The version changes whenever a field is added or its
//! meaning changes; older versions are upgraded on load, never rejected
//! silently, and an unknown newer version is a clear error.

use serde::{Deserialize, Serialize};

use super::VcpuState;

/// The format tag of a vCPU snapshot.
pub const FORMAT: &str = "nestor-vcpu";
/// The version this build writes. History: 1 — first format; 2 —
/// `events.pending_dbg` (a version-1 state has no pending debug exceptions,
/// which is what the field's default says).
pub const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Envelope<S> {
    format: String,
    version: u32,
    state: S,
}

/// Why a snapshot could not be loaded.
#[derive(Debug)]
pub enum SnapshotError {
    Malformed(String),
    WrongFormat(String),
    UnsupportedVersion(u32),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Malformed(e) => write!(f, "corrupt vCPU snapshot: {e}"),
            SnapshotError::WrongFormat(t) => {
                write!(f, "not a nestor vCPU snapshot (format `{t}`)")
            }
            SnapshotError::UnsupportedVersion(v) => write!(
                f,
                "vCPU snapshot version {v} is newer than this nestor supports ({VERSION})"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// Serializes `state` as a versioned JSON snapshot.
pub fn save(state: &VcpuState) -> String {
    let env = Envelope {
        format: FORMAT.to_string(),
        version: VERSION,
        state,
    };
    // Serializing plain data structures to a String cannot fail.
    serde_json::to_string_pretty(&env).unwrap_or_default()
}

/// Loads a snapshot written by this or an older nestor.
pub fn load(text: &str) -> Result<VcpuState, SnapshotError> {
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let header: Header =
        serde_json::from_str(text).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
    if header.format != FORMAT {
        return Err(SnapshotError::WrongFormat(header.format));
    }
    if header.version > VERSION || header.version == 0 {
        return Err(SnapshotError::UnsupportedVersion(header.version));
    }
    let env: Envelope<VcpuState> =
        serde_json::from_str(text).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
    Ok(env.state)
}
