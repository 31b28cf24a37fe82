//! The pseudonymisation key and the keyed pseudonyms made with it.
//!
//! The key is 32 random bytes kept by the user in a file (`utfall key new`).
//! A client's id is HMAC-SHA256(key, "client:" + the 12-digit personnummer),
//! a household's HMAC-SHA256(key, "household:" + the source id), truncated to
//! 80 bits and written as hex. Without the key a pseudonym cannot be linked
//! back to a personnummer, not even by trying every possible number.

use std::fs;
use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use utfall_register::schema::Pseudonym;

type HmacSha256 = Hmac<Sha256>;

/// Hex characters kept from the HMAC (80 bits).
const PSEUDONYM_HEX: usize = 20;

#[derive(Clone)]
pub struct Key {
    mac: HmacSha256,
    id: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: cannot read the key file: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not a utfall key (expected 64 hexadecimal characters made by `utfall key new`)")]
    Format { path: String },
    #[error("{path}: {source}")]
    Write { path: String, source: std::io::Error },
}

impl Key {
    pub fn from_bytes(bytes: &[u8; 32]) -> Key {
        let id = hex::encode(&Sha256::new().chain_update(b"utfall-key-id:").chain_update(bytes).finalize()[..8]);
        Key { mac: HmacSha256::new_from_slice(bytes).expect("HMAC takes any key length"), id }
    }

    pub fn read(path: &Path) -> Result<Key, KeyError> {
        let p = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|source| KeyError::Read { path: p.clone(), source })?;
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Format { path: p.clone() })?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Format { path: p })?;
        Ok(Key::from_bytes(&bytes))
    }

    /// Write a new random key to `path` (readable by the owner only). Refuses to overwrite.
    pub fn create(path: &Path) -> Result<Key, KeyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let bytes: [u8; 32] = rand::random();
        let p = path.display().to_string();
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| KeyError::Write { path: p.clone(), source })?;
        writeln!(f, "{}", hex::encode(bytes)).map_err(|source| KeyError::Write { path: p, source })?;
        Ok(Key::from_bytes(&bytes))
    }

    /// A fingerprint that names the key without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn pseudonym(&self, prefix: char, domain: &[u8], value: &[u8]) -> String {
        let tag = self.mac.clone().chain_update(domain).chain_update(value).finalize().into_bytes();
        let mut s = String::with_capacity(PSEUDONYM_HEX + 1);
        s.push(prefix);
        s.push_str(&hex::encode(&tag[..PSEUDONYM_HEX / 2]));
        s
    }

    /// The client id for a personnummer in its canonical 12-digit form.
    pub fn client(&self, canonical_pnr: &str) -> String {
        self.pseudonym('K', b"client:", canonical_pnr.as_bytes())
    }

    /// The pseudonym of a source id that could point at a person, in its
    /// own key domain: a household (`H...`) or a caseworker (`W...`).
    pub fn pseudonymised(&self, domain: Pseudonym, source_id: &str) -> String {
        match domain {
            Pseudonym::Household => self.pseudonym('H', b"household:", source_id.as_bytes()),
            Pseudonym::Caseworker => self.pseudonym('W', b"caseworker:", source_id.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = Key::from_bytes(&[1; 32]);
        let b = Key::from_bytes(&[2; 32]);
        assert_eq!(a.client("test-input"), a.client("test-input"));
        assert_ne!(a.client("test-input"), b.client("test-input"));
        let (household, caseworker) =
            (a.pseudonymised(Pseudonym::Household, "test-input"), a.pseudonymised(Pseudonym::Caseworker, "test-input"));
        assert_ne!(a.client("test-input"), household);
        assert_ne!(household[1..], caseworker[1..]);
        assert_eq!(a.client("x").len(), 21);
        // Independent check of the construction with the hmac crate's test vector style.
        let mut m = HmacSha256::new_from_slice(&[1; 32]).unwrap();
        m.update(b"client:test-input");
        let expect = hex::encode(&m.finalize().into_bytes()[..10]);
        assert_eq!(a.client("test-input"), format!("K{expect}"));
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let k = Key::create(&path).unwrap();
        assert_eq!(Key::read(&path).unwrap().id(), k.id());
        assert!(Key::create(&path).is_err(), "never overwrites a key");
        fs::write(dir.path().join("bad.key"), "not hex").unwrap();
        assert!(matches!(Key::read(&dir.path().join("bad.key")), Err(KeyError::Format { .. })));
    }
}
