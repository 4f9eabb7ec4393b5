//! Issuer signing keys on disk. Each key is a file `issuer-NN.key` in the key directory
//! holding the 32-byte Ed25519 seed, created with mode 0600. Keys are never logged, never put
//! in errors and never served; only their public halves leave this module.
//!
//! A key file holds the seed either in hex, or — when the server is given a passphrase
//! (`PASSGATE_KEY_PASSPHRASE` or `--key-passphrase-file`) — encrypted:
//! `pgkey1:SALT:NONCE:CIPHERTEXT` (hex fields), where the key is argon2id(passphrase, SALT)
//! and the cipher XChaCha20-Poly1305 with the file name as associated data, so a file
//! renamed to stand for another key does not decrypt. New files are written encrypted when
//! there is a passphrase; `passgate-server keys encrypt` converts existing plain files.
//!
//! A running server holds its keys in [`Keys`]: the ring read from the directory, replaced
//! whole when an administrator rotates the issuer key ([`Keys::create_issuer_key`]) or when
//! the store names a key this instance has not read yet (a peer sharing the directory made
//! it): [`Keys::issuer_key`] then reads the directory again. Which issuer key signs new
//! passes is decided by the store, not by the files (see `crate::signing`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use passgate_shared::{IssuerKey, KeyId, KeyStatus};

/// Errors reading or creating key files. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write key directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {0} is not a 64-digit hex Ed25519 seed")]
    Format(PathBuf),
    #[error("key file {0} is readable by other users; run `chmod 600` on it")]
    Permissions(PathBuf),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error(
        "key file {0} is encrypted: give the passphrase (PASSGATE_KEY_PASSPHRASE or --key-passphrase-file)"
    )]
    NeedPassphrase(PathBuf),
    #[error(
        "key file {0} does not decrypt with this passphrase (wrong passphrase, or the file was altered or renamed)"
    )]
    Decrypt(PathBuf),
    #[error("every issuer key number up to 255 is used; no new issuer key can be made")]
    Exhausted,
}

/// The passphrase that protects key files at rest. Its text is never shown.
#[derive(Clone)]
pub struct Passphrase(String);

impl Passphrase {
    /// `None` for an empty passphrase (no encryption).
    pub fn new(text: impl Into<String>) -> Option<Passphrase> {
        let text = text.into();
        let text = text.trim_end_matches(['\r', '\n']).to_owned();
        (!text.is_empty()).then_some(Passphrase(text))
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

const ENCRYPTED_PREFIX: &str = "pgkey1:";

fn file_label(path: &Path) -> Vec<u8> {
    path.file_name()
        .map(|n| n.to_string_lossy().as_bytes().to_vec())
        .unwrap_or_default()
}

fn derive(pass: &Passphrase, salt: &[u8]) -> Result<[u8; 32], KeyError> {
    let mut out = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(pass.0.as_bytes(), salt, &mut out)
        .map_err(|e| KeyError::Random(format!("key derivation failed: {e}")))?;
    Ok(out)
}

/// Seal `msg` with XChaCha20-Poly1305 under `key`, binding `aad`: `NONCE:CIPHERTEXT` in hex
/// (a fresh random nonce each time). The one AEAD of the server: key files and personal data
/// kept encrypted in the database both use it.
pub fn seal(key: &[u8; 32], aad: &[u8], msg: &[u8]) -> Result<String, KeyError> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let nonce = &random_bytes()?[..24];
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    let sealed = cipher
        .encrypt(
            nonce
                .try_into()
                .map_err(|_| KeyError::Random("nonce length".into()))?,
            Payload { msg, aad },
        )
        .map_err(|_| KeyError::Random("encryption failed".into()))?;
    Ok(format!("{}:{}", hex::encode(nonce), hex::encode(sealed)))
}

/// Open what [`seal`] made with the same `key` and `aad`; `None` if the text is not such a
/// seal or was altered, or the key or `aad` differ.
pub fn open_sealed(key: &[u8; 32], aad: &[u8], text: &str) -> Option<Vec<u8>> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let (nonce, sealed) = text.trim().split_once(':')?;
    let nonce = hex::decode(nonce).ok()?;
    let sealed = hex::decode(sealed).ok()?;
    if nonce.len() != 24 {
        return None;
    }
    let cipher = chacha20poly1305::XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            nonce.as_slice().try_into().ok()?,
            Payload { msg: &sealed, aad },
        )
        .ok()
}

/// The text of a key file holding `seed`: hex, or encrypted under `pass`.
fn key_file_text(
    path: &Path,
    seed: &[u8; 32],
    pass: Option<&Passphrase>,
) -> Result<String, KeyError> {
    let Some(pass) = pass else {
        return Ok(format!("{}\n", hex::encode(seed)));
    };
    let salt = &random_bytes()?[..16];
    let key = derive(pass, salt)?;
    let sealed = seal(&key, &file_label(path), seed)?;
    Ok(format!(
        "{ENCRYPTED_PREFIX}{}:{sealed}\n",
        hex::encode(salt)
    ))
}

fn decrypt_seed(path: &Path, text: &str, pass: Option<&Passphrase>) -> Result<[u8; 32], KeyError> {
    let pass = pass.ok_or_else(|| KeyError::NeedPassphrase(path.to_owned()))?;
    let format = || KeyError::Format(path.to_owned());
    let (salt, sealed) = text.split_once(':').ok_or_else(format)?;
    let salt = hex::decode(salt).map_err(|_| format())?;
    let (nonce, ciphertext) = sealed.split_once(':').ok_or_else(format)?;
    let nonce_ok = hex::decode(nonce).is_ok_and(|n| n.len() == 24);
    if salt.len() != 16 || !nonce_ok || hex::decode(ciphertext).is_err() {
        return Err(format());
    }
    let key = derive(pass, &salt)?;
    let seed = open_sealed(&key, &file_label(path), sealed)
        .ok_or_else(|| KeyError::Decrypt(path.to_owned()))?;
    seed.try_into().map_err(|_| format())
}

/// The keys this server holds: issuer keys (`issuer-NN.key`), which sign passes, and
/// bundle keys (`bundle-NN.key`), which sign the gates' offline bundles. The two families
/// are separate so that neither can stand in for the other.
///
/// A ring is a snapshot of the directory: it never changes once read. [`Keys`] replaces it
/// whole when the directory gains a key.
#[derive(Clone)]
pub struct KeyRing {
    keys: BTreeMap<KeyId, SigningKey>,
    /// The issuer key file with the highest number. It is registered as active when the
    /// store does not know it yet (a key file added by hand before a start); which key
    /// signs is the store's decision.
    newest: (KeyId, SigningKey),
    bundle_keys: BTreeMap<KeyId, SigningKey>,
    /// The oldest bundle key signs. A new `bundle-NN.key` is first only announced in the
    /// bundles (gates learn it through a bundle signed by the key they trust); once the old
    /// file is removed, the new key signs.
    bundle_signer: (KeyId, SigningKey),
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// 32 bytes from the operating system's random source.
pub fn random_bytes() -> Result<[u8; 32], KeyError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(b)
}

/// Write `contents` to a new file readable only by its owner. The file appears whole or
/// not at all (written under a temporary name, then linked into place), so another
/// instance starting at the same moment never reads half a key; if `path` already exists
/// the error is `AlreadyExists` and the existing file is untouched.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", hex::encode(&random_bytes()?[..8])));
    let tmp = PathBuf::from(tmp_name);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    written.map_err(io(path))
}

fn already_exists(e: &KeyError) -> bool {
    matches!(e, KeyError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists)
}

fn key_path(dir: &Path, family: &str, id: KeyId) -> PathBuf {
    dir.join(format!("{family}-{:02}.key", id.0))
}

/// Every `FAMILY-NN.key` in `dir`; when there is none, key 1 is created.
fn load_family(
    dir: &Path,
    family: &str,
    pass: Option<&Passphrase>,
) -> Result<BTreeMap<KeyId, SigningKey>, KeyError> {
    let mut keys = BTreeMap::new();
    let prefix = format!("{family}-");
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(id) = name
            .strip_prefix(&prefix)
            .and_then(|n| n.strip_suffix(".key"))
        else {
            continue;
        };
        let Ok(id) = id.parse::<u8>() else { continue };
        keys.insert(KeyId(id), read_key(&path, pass)?);
    }
    if keys.is_empty() {
        let id = KeyId(1);
        let path = key_path(dir, family, id);
        let seed = random_bytes()?;
        match write_private(&path, key_file_text(&path, &seed, pass)?.as_bytes()) {
            Ok(()) => {
                keys.insert(id, SigningKey::from_bytes(&seed));
            }
            // Another instance sharing this directory made it first: use theirs.
            Err(e) if already_exists(&e) => {
                keys.insert(id, read_key(&path, pass)?);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(keys)
}

impl KeyRing {
    /// Load every issuer and bundle key in `dir`; create key 1 of a family that has none.
    pub fn load_or_create(dir: &Path) -> Result<KeyRing, KeyError> {
        Self::load_or_create_with(dir, None)
    }

    /// [`KeyRing::load_or_create`] with key files encrypted under `pass`.
    pub fn load_or_create_with(dir: &Path, pass: Option<&Passphrase>) -> Result<KeyRing, KeyError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let keys = load_family(dir, "issuer", pass)?;
        let newest = keys.iter().next_back().map(|(i, k)| (*i, k.clone()));
        let newest = newest.ok_or_else(|| KeyError::Format(dir.to_owned()))?;
        let bundle_keys = load_family(dir, "bundle", pass)?;
        let bundle_signer = bundle_keys.iter().next().map(|(i, k)| (*i, k.clone()));
        let bundle_signer = bundle_signer.ok_or_else(|| KeyError::Format(dir.to_owned()))?;
        Ok(KeyRing {
            keys,
            newest,
            bundle_keys,
            bundle_signer,
        })
    }

    /// The key bundles are signed with.
    pub fn bundle_signer(&self) -> (KeyId, &SigningKey) {
        (self.bundle_signer.0, &self.bundle_signer.1)
    }

    /// Every bundle key's public half: what gates pin at enrolment and learn from bundles.
    pub fn public_bundle_keys(&self) -> Vec<IssuerKey> {
        self.bundle_keys
            .iter()
            .map(|(id, k)| IssuerKey {
                id: *id,
                public: k.verifying_key(),
                status: KeyStatus::Active,
                not_before: None,
                not_after: None,
            })
            .collect()
    }

    /// The issuer key file with the highest number (not necessarily the one that signs:
    /// the store decides that).
    pub fn newest_issuer(&self) -> (KeyId, &SigningKey) {
        (self.newest.0, &self.newest.1)
    }

    /// The issuer key `id`, if this ring holds its file.
    pub fn issuer_key(&self, id: KeyId) -> Option<&SigningKey> {
        self.keys.get(&id)
    }

    /// Public halves as first registered: the newest active and the rest retired.
    pub fn public_keys(&self) -> Vec<IssuerKey> {
        let (active, _) = self.newest_issuer();
        self.keys
            .iter()
            .map(|(id, k)| IssuerKey {
                id: *id,
                public: k.verifying_key(),
                status: if *id == active {
                    KeyStatus::Active
                } else {
                    KeyStatus::Retired
                },
                not_before: None,
                not_after: None,
            })
            .collect()
    }
}

/// The keys of a running server: the directory, its passphrase, and the ring last read from
/// it. Readers take a snapshot ([`Keys::ring`]: an `Arc` clone under a read lock held for no
/// longer than that); a new issuer key or a reread replaces the snapshot whole, so a reader
/// never sees half a change and nobody waits on file IO or key derivation while holding the
/// lock.
pub struct Keys {
    dir: PathBuf,
    pass: Option<Passphrase>,
    ring: std::sync::RwLock<std::sync::Arc<KeyRing>>,
    /// One rotation at a time on this instance (instances sharing the directory are kept
    /// apart by the files themselves: a key file is created only if its name is free).
    rotation: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("dir", &self.dir)
            .field("ring", &self.ring())
            .finish()
    }
}

impl Keys {
    /// Read (or create) the ring of `dir`; key files encrypted under `pass` when given.
    pub fn open(dir: &Path, pass: Option<&Passphrase>) -> Result<Keys, KeyError> {
        let ring = KeyRing::load_or_create_with(dir, pass)?;
        Ok(Keys {
            dir: dir.to_owned(),
            pass: pass.cloned(),
            ring: std::sync::RwLock::new(std::sync::Arc::new(ring)),
            rotation: tokio::sync::Mutex::new(()),
        })
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ring as last read.
    pub fn ring(&self) -> std::sync::Arc<KeyRing> {
        // A writer cannot panic while holding the lock (it only swaps an `Arc`), so a
        // poisoned lock still holds a whole ring.
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, ring: KeyRing) -> std::sync::Arc<KeyRing> {
        let ring = std::sync::Arc::new(ring);
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = ring.clone();
        ring
    }

    /// Read the directory again (keys another instance added) and use what it holds.
    pub fn reload(&self) -> Result<std::sync::Arc<KeyRing>, KeyError> {
        let ring = KeyRing::load_or_create_with(&self.dir, self.pass.as_ref())?;
        Ok(self.replace(ring))
    }

    /// The issuer key `id`: from the ring, or — when the ring does not hold it, because a
    /// peer instance sharing the directory made it — after reading the directory again.
    /// `None` if the directory has no such file either. Blocking (file IO, and key
    /// derivation for encrypted files): call it off the async runtime.
    pub fn issuer_key(&self, id: KeyId) -> Result<Option<SigningKey>, KeyError> {
        if let Some(k) = self.ring().issuer_key(id) {
            return Ok(Some(k.clone()));
        }
        Ok(self.reload()?.issuer_key(id).cloned())
    }

    /// Hold this while rotating, so that two rotations on this instance do not interleave.
    pub async fn rotation_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.rotation.lock().await
    }

    /// Create the next issuer key file: numbered above `above` and above every issuer key
    /// file in the directory (read again first), mode 0600, encrypted when there is a
    /// passphrase. If a peer takes the number at the same moment, the next free one is used.
    /// The ring gains the key at once. Blocking: call it off the async runtime.
    pub fn create_issuer_key(&self, above: KeyId) -> Result<(KeyId, SigningKey), KeyError> {
        let ring = self.reload()?;
        let mut next = u16::from(ring.newest_issuer().0.0.max(above.0)) + 1;
        loop {
            let id = KeyId(u8::try_from(next).map_err(|_| KeyError::Exhausted)?);
            let path = key_path(&self.dir, "issuer", id);
            let seed = random_bytes()?;
            match write_private(
                &path,
                key_file_text(&path, &seed, self.pass.as_ref())?.as_bytes(),
            ) {
                Ok(()) => {
                    let key = SigningKey::from_bytes(&seed);
                    let mut grown = (*self.ring()).clone();
                    grown.keys.insert(id, key.clone());
                    if id > grown.newest.0 {
                        grown.newest = (id, key.clone());
                    }
                    self.replace(grown);
                    return Ok((id, key));
                }
                Err(e) if already_exists(&e) => next += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Remove issuer key file `id` that was made by [`Keys::create_issuer_key`] but could
    /// not be registered (nothing was signed with it), and read the directory again.
    /// Blocking.
    pub fn discard_issuer_key(&self, id: KeyId) -> Result<(), KeyError> {
        let path = key_path(&self.dir, "issuer", id);
        fs::remove_file(&path).map_err(io(&path))?;
        self.reload()?;
        Ok(())
    }
}

/// A 32-byte secret kept in `path` (hex, mode 0600), created on first use.
pub fn load_or_create_secret(path: &Path) -> Result<[u8; 32], KeyError> {
    load_or_create_secret_with(path, None)
}

/// [`load_or_create_secret`] with the file encrypted under `pass`.
pub fn load_or_create_secret_with(
    path: &Path,
    pass: Option<&Passphrase>,
) -> Result<[u8; 32], KeyError> {
    if !path.exists() {
        match write_private(
            path,
            key_file_text(path, &random_bytes()?, pass)?.as_bytes(),
        ) {
            Ok(()) => {}
            Err(e) if already_exists(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(read_key(path, pass)?.to_bytes())
}

/// Rewrite every plain key and secret file in `dir` encrypted under `pass`; the names of
/// the files converted. Each file is replaced whole (written aside, then renamed).
pub fn encrypt_dir(dir: &Path, pass: &Passphrase) -> Result<Vec<PathBuf>, KeyError> {
    let mut done = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "key" || x == "secret"))
        .collect();
    entries.sort();
    for path in entries {
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        if text.trim().starts_with(ENCRYPTED_PREFIX) {
            continue;
        }
        let seed = read_key(&path, None)?.to_bytes();
        let mut aside = path.as_os_str().to_owned();
        aside.push(".encrypting");
        let aside = PathBuf::from(aside);
        let _ = fs::remove_file(&aside);
        // The associated data is the final name, so encrypt for `path`, not `aside`.
        write_private(&aside, key_file_text(&path, &seed, Some(pass))?.as_bytes())?;
        fs::rename(&aside, &path).map_err(io(&path))?;
        done.push(path);
    }
    Ok(done)
}

fn read_key(path: &Path, pass: Option<&Passphrase>) -> Result<SigningKey, KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).map_err(io(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions(path.to_owned()));
        }
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    if let Some(rest) = text.trim().strip_prefix(ENCRYPTED_PREFIX) {
        return Ok(SigningKey::from_bytes(&decrypt_seed(path, rest, pass)?));
    }
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Format(path.to_owned()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KeyError::Format(path.to_owned()))?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_private_mode_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let a = KeyRing::load_or_create(dir.path()).unwrap();
        let b = KeyRing::load_or_create(dir.path()).unwrap();
        assert_eq!(
            a.newest_issuer().1.verifying_key(),
            b.newest_issuer().1.verifying_key()
        );
        assert_eq!(a.newest_issuer().0, KeyId(1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("issuer-01.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{a:?}").contains(&hex::encode(a.newest_issuer().1.to_bytes())));
        // The bundle key is a key of its own, kept with the same care.
        assert_ne!(
            a.bundle_signer().1.verifying_key(),
            a.newest_issuer().1.verifying_key()
        );
        assert_eq!(
            a.bundle_signer().1.verifying_key(),
            b.bundle_signer().1.verifying_key()
        );
        assert!(!format!("{a:?}").contains(&hex::encode(a.bundle_signer().1.to_bytes())));
    }

    #[test]
    fn instances_starting_together_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let rings: Vec<_> = (0..8)
            .map(|_| {
                let d = dir.path().to_owned();
                std::thread::spawn(move || {
                    let k = KeyRing::load_or_create(&d).unwrap();
                    let s = load_or_create_secret(&d.join("id-hash.secret")).unwrap();
                    (
                        k.newest_issuer().1.verifying_key(),
                        k.bundle_signer().1.verifying_key(),
                        s,
                    )
                })
            })
            .map(|t| t.join().unwrap())
            .collect();
        assert!(rings.windows(2).all(|w| w[0] == w[1]));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "issuer key, bundle key, secret: {names:?}");
    }

    #[test]
    fn refuses_bad_and_open_files() {
        let dir = tempfile::tempdir().unwrap();
        write_private(&dir.path().join("issuer-02.key"), b"nothex").unwrap();
        assert!(matches!(
            KeyRing::load_or_create(dir.path()),
            Err(KeyError::Format(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join("issuer-02.key");
            fs::write(&p, hex::encode([1u8; 32])).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                KeyRing::load_or_create(dir.path()),
                Err(KeyError::Permissions(_))
            ));
        }
    }

    #[test]
    fn passphrase_encrypted_files_round_trip_and_refuse_the_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let pass = Passphrase::new("correct horse battery staple").unwrap();
        let ring = KeyRing::load_or_create_with(dir.path(), Some(&pass)).unwrap();
        let secret =
            load_or_create_secret_with(&dir.path().join("audit.secret"), Some(&pass)).unwrap();
        let issuer = fs::read_to_string(dir.path().join("issuer-01.key")).unwrap();
        assert!(issuer.starts_with(ENCRYPTED_PREFIX), "{issuer}");
        let seed_hex = hex::encode(ring.newest_issuer().1.to_bytes());
        assert!(
            !issuer.contains(&seed_hex),
            "the seed must not be in the file"
        );

        let again = KeyRing::load_or_create_with(dir.path(), Some(&pass)).unwrap();
        assert_eq!(
            again.newest_issuer().1.to_bytes(),
            ring.newest_issuer().1.to_bytes()
        );
        assert_eq!(
            load_or_create_secret_with(&dir.path().join("audit.secret"), Some(&pass)).unwrap(),
            secret
        );

        let wrong = Passphrase::new("wrong").unwrap();
        let err = KeyRing::load_or_create_with(dir.path(), Some(&wrong)).unwrap_err();
        assert!(matches!(err, KeyError::Decrypt(_)), "{err}");
        let err = KeyRing::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::NeedPassphrase(_)), "{err}");
        assert!(err.to_string().contains("PASSGATE_KEY_PASSPHRASE"));
        assert!(!err.to_string().contains(&seed_hex));

        // A file copied over another key's name does not decrypt (the name is bound in).
        let other = tempfile::tempdir().unwrap();
        fs::copy(
            dir.path().join("issuer-01.key"),
            other.path().join("bundle-01.key"),
        )
        .unwrap();
        fs::copy(
            dir.path().join("issuer-01.key"),
            other.path().join("issuer-01.key"),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in ["bundle-01.key", "issuer-01.key"] {
                fs::set_permissions(other.path().join(f), fs::Permissions::from_mode(0o600))
                    .unwrap();
            }
        }
        let err = KeyRing::load_or_create_with(other.path(), Some(&pass)).unwrap_err();
        assert!(matches!(err, KeyError::Decrypt(p) if p.ends_with("bundle-01.key")));
    }

    #[test]
    fn plain_key_files_are_encrypted_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path()).unwrap();
        let secret = load_or_create_secret(&dir.path().join("id-hash.secret")).unwrap();
        let pass = Passphrase::new("a long passphrase").unwrap();
        let done = encrypt_dir(dir.path(), &pass).unwrap();
        assert_eq!(done.len(), 3, "{done:?}");
        assert!(
            encrypt_dir(dir.path(), &pass).unwrap().is_empty(),
            "a second run does nothing"
        );
        let again = KeyRing::load_or_create_with(dir.path(), Some(&pass)).unwrap();
        assert_eq!(
            again.newest_issuer().1.to_bytes(),
            ring.newest_issuer().1.to_bytes()
        );
        assert_eq!(
            again.bundle_signer().1.to_bytes(),
            ring.bundle_signer().1.to_bytes()
        );
        assert_eq!(
            load_or_create_secret_with(&dir.path().join("id-hash.secret"), Some(&pass)).unwrap(),
            secret
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("issuer-01.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(format!("{pass:?}").contains('…'));
    }
}
