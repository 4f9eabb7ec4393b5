//! The remembered defaults of the gate screen: direction and the "two codes one pass"
//! (两码一证) checks, kept in `DATA_DIR/gate-defaults.json`, e.g.
//!
//! ```json
//! {"direction":"in","observations":{"health_code":"green","itinerary_ok":true,"negative_test_48h":null,"temperature_ok":true}}
//! ```
//!
//! F7 saves the current values; the checks go back to these defaults after every scan.

use std::path::{Path, PathBuf};

use passgate_shared::record::Observations;
use passgate_shared::sync::Direction;
use serde::{Deserialize, Serialize};

use crate::error::{CheckpointError, Result};

/// The file name inside the data directory.
pub const FILE_NAME: &str = "gate-defaults.json";

/// What the gate starts with and returns to after each scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    pub direction: Direction,
    #[serde(default)]
    pub observations: Observations,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            direction: Direction::In,
            observations: Observations::default(),
        }
    }
}

/// `DATA_DIR/gate-defaults.json`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Read the defaults: `Ok(None)` when there is no file; an error names a damaged file.
pub fn load(data_dir: &Path) -> Result<Option<Defaults>> {
    let p = path(data_dir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckpointError::Io {
                context: format!("cannot read {}", p.display()),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        CheckpointError::Usage(format!(
            "{} is damaged ({e}); fix or delete it, or press F7 to write it again",
            p.display()
        ))
    })
}

/// Write the defaults (a temporary file renamed over the old one).
pub fn save(data_dir: &Path, defaults: &Defaults) -> Result<()> {
    let p = path(data_dir);
    let tmp = data_dir.join(format!("{FILE_NAME}.tmp"));
    let io = |source| CheckpointError::Io {
        context: format!("cannot write {}", p.display()),
        source,
    };
    let text = serde_json::to_string_pretty(defaults)
        .map_err(|e| CheckpointError::CorruptData(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &p).map_err(io)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use passgate_shared::record::HealthCode;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let d = Defaults {
            direction: Direction::Out,
            observations: Observations {
                health_code: Some(HealthCode::Green),
                temperature_ok: Some(true),
                ..Default::default()
            },
        };
        save(dir.path(), &d).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(d));
        std::fs::write(path(dir.path()), "{not json").unwrap();
        assert!(load(dir.path()).is_err());
        std::fs::write(path(dir.path()), r#"{"direction":"in"}"#).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(Defaults::default()));
    }
}
