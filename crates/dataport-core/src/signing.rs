//! Signed download URLs (SPEC §9).
//!
//! `sig = base64url(HMAC-SHA256(key[kid], "GET\n<job>/<part>\n<exp>"))`. Keys are configuration
//! shared by all nodes and rotatable by key id: new URLs are signed with the first key, and any
//! configured key verifies. Verification is constant-time (`Mac::verify_slice`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use dataport_types::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// One signing key.
#[derive(Clone)]
pub struct SigningKey {
    pub id: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).field("secret", &"[redacted]").finish()
    }
}

/// Signs and verifies download URLs.
#[derive(Clone, Debug)]
pub struct UrlSigner {
    keys: Vec<SigningKey>,
}

/// Why a signed URL was refused. All variants become the same 403 on the wire.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("unknown key id")]
    UnknownKey,
    #[error("malformed signature")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
    #[error("expired")]
    Expired,
}

/// The query of a signed URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub expires: i64,
    pub key_id: String,
    pub sig: String,
}

impl UrlSigner {
    /// A signer; the first key signs. `keys` must not be empty.
    pub fn new(keys: Vec<SigningKey>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys })
    }

    fn mac(key: &SigningKey, job: &str, part: u32, expires: i64) -> HmacSha256 {
        #[allow(clippy::expect_used)] // HMAC accepts keys of any length
        let mut mac = HmacSha256::new_from_slice(&key.secret).expect("HMAC takes any key length");
        mac.update(format!("GET\n{job}/{part}\n{expires}").as_bytes());
        mac
    }

    /// Signs part `part` of `job`, valid until `expires`.
    pub fn sign(&self, job: &str, part: u32, expires: Timestamp) -> Signature {
        let key = &self.keys[0];
        let exp = expires.unix_seconds();
        let sig = URL_SAFE_NO_PAD.encode(Self::mac(key, job, part, exp).finalize().into_bytes());
        Signature { expires: exp, key_id: key.id.clone(), sig }
    }

    /// HMAC-SHA256 of `input` under the signing key, for `purpose` (a label of our own: a URL
    /// signature's input starts with `GET\n`, these with `purpose` and a NUL, so neither can stand
    /// for the other). Every node derives the same value, since they share the keys.
    pub fn keyed_digest(&self, purpose: &str, input: &[u8]) -> [u8; 32] {
        #[allow(clippy::expect_used)] // HMAC accepts keys of any length
        let mut mac = HmacSha256::new_from_slice(&self.keys[0].secret).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(input);
        mac.finalize().into_bytes().into()
    }

    /// Checks a signature at time `now`.
    pub fn verify(&self, job: &str, part: u32, signature: &Signature, now: Timestamp) -> Result<(), SignatureError> {
        let key = self.keys.iter().find(|k| k.id == signature.key_id).ok_or(SignatureError::UnknownKey)?;
        let sig = URL_SAFE_NO_PAD.decode(signature.sig.as_bytes()).map_err(|_| SignatureError::Malformed)?;
        Self::mac(key, job, part, signature.expires).verify_slice(&sig).map_err(|_| SignatureError::BadSignature)?;
        if signature.expires <= now.unix_seconds() {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(vec![
            SigningKey { id: "k2".into(), secret: b"new secret".to_vec() },
            SigningKey { id: "k1".into(), secret: b"old secret".to_vec() },
        ])
        .expect("keys")
    }

    #[test]
    fn verifies_own_signatures_and_rejects_every_tampering() {
        let s = signer();
        let now = Timestamp::from_micros(1_000_000_000_000);
        let sig = s.sign("job", 0, now.plus_seconds(60));
        assert_eq!(s.verify("job", 0, &sig, now), Ok(()));
        assert_eq!(s.verify("job", 1, &sig, now), Err(SignatureError::BadSignature));
        assert_eq!(s.verify("jab", 0, &sig, now), Err(SignatureError::BadSignature));
        let later = Signature { expires: sig.expires + 1, ..sig.clone() };
        assert_eq!(s.verify("job", 0, &later, now), Err(SignatureError::BadSignature));
        let wrong_kid = Signature { key_id: "k1".into(), ..sig.clone() };
        assert_eq!(s.verify("job", 0, &wrong_kid, now), Err(SignatureError::BadSignature));
        let unknown = Signature { key_id: "k9".into(), ..sig.clone() };
        assert_eq!(s.verify("job", 0, &unknown, now), Err(SignatureError::UnknownKey));
        let garbage = Signature { sig: "!!".into(), ..sig.clone() };
        assert_eq!(s.verify("job", 0, &garbage, now), Err(SignatureError::Malformed));
        assert_eq!(s.verify("job", 0, &sig, now.plus_seconds(60)), Err(SignatureError::Expired));
    }

    #[test]
    fn rotated_keys_still_verify() {
        let old = UrlSigner::new(vec![SigningKey { id: "k1".into(), secret: b"old secret".to_vec() }]).expect("key");
        let now = Timestamp::from_micros(0);
        let sig = old.sign("job", 3, now.plus_seconds(10));
        assert_eq!(signer().verify("job", 3, &sig, now), Ok(()));
    }
}
