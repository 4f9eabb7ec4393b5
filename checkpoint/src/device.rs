//! The device key: an Ed25519 key made from OS randomness at enrolment, kept in
//! `DATA_DIR/device.key` (64 hex digits, mode 0600) and never sent anywhere. Upload batches
//! are signed with it; the server holds its public half.
//!
//! The key is refused when the file is readable or writable by group or others: a key
//! others could read is no proof of anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use crate::error::{CheckpointError, Result};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "device.key";

/// Where the device key of `dir` lives.
pub fn key_path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

/// A fresh device key from OS randomness.
pub fn generate() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| CheckpointError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn key_err(path: &Path, why: impl Into<String>) -> CheckpointError {
    CheckpointError::DeviceKey {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// Write `key` to `dir/device.key` with mode 0600, replacing an earlier file atomically
/// (written to a temporary file, synced, then renamed).
pub fn save(dir: &Path, key: &SigningKey) -> Result<()> {
    let path = key_path(dir);
    let tmp = dir.join(format!("{KEY_FILE}.tmp"));
    let io = |context: &str| {
        let context = format!("{context} {}", tmp.display());
        move |source| CheckpointError::Io { context, source }
    };
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(io("cannot create the device key file"))?;
    file.write_all(format!("{}\n", hex::encode(key.to_bytes())).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("cannot write the device key file"))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|source| CheckpointError::Io {
        context: format!("cannot put the device key in place at {}", path.display()),
        source,
    })?;
    Ok(())
}

/// Read the device key of `dir`, refusing a file that group or others may read or write.
pub fn load(dir: &Path) -> Result<SigningKey> {
    let path = key_path(dir);
    let meta = std::fs::metadata(&path).map_err(|e| {
        key_err(
            &path,
            format!("cannot read it ({e}); the device key is made by `enroll` and cannot be recovered, enrol again with a new code"),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(key_err(
                &path,
                format!(
                    "its permissions are {mode:o}: group or others can read it. Refusing to use it; run `chmod 600 {}` and ask the operations bureau whether the device must be revoked",
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| key_err(&path, format!("cannot read it ({e})")))?;
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| key_err(&path, "it is not 64 hex digits; the file is damaged"))?;
    Ok(SigningKey::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let key = generate().unwrap();
        assert_ne!(key.to_bytes(), generate().unwrap().to_bytes());
        save(tmp.path(), &key).unwrap();
        assert_eq!(load(tmp.path()).unwrap().to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = key_path(tmp.path());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = load(tmp.path()).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        // Saving again replaces the key.
        let other = generate().unwrap();
        save(tmp.path(), &other).unwrap();
        assert_eq!(load(tmp.path()).unwrap().to_bytes(), other.to_bytes());
        std::fs::write(key_path(tmp.path()), "zz").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(key_path(tmp.path()), std::fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        assert!(
            load(tmp.path())
                .unwrap_err()
                .to_string()
                .contains("damaged")
        );
        assert!(load(&tmp.path().join("missing")).is_err());
    }
}
