//! Service account JSON Web Tokens: signing and checking, with upstream's claims
//! (`pkg/serviceaccount/claims.go`).
//!
//! Expiry and not-before are checked against the server's clock, not the library's, so that
//! a server on a test clock judges tokens by the same time it stamps them with.

use super::ISSUER;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How long a token may be used past its `exp` or before its `nbf` (upstream's leeway).
const LEEWAY_SECS: i64 = 60;

/// The claims of a service account token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

/// Upstream's private claims: whose token it is and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    /// When a token whose lifetime the server extended (see [`super::request`]) should have
    /// been replaced: clients that use it later are stale, not refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// An object a token names, by name and UID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// Why a bearer token is not one of ours, or no longer good.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the service account key is not usable: {0}")]
    Key(String),
    #[error("signing the token: {0}")]
    Sign(String),
    #[error("not a valid service account token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// Signs and checks tokens with the server's service account key.
pub struct TokenSigner {
    /// The key, parsed once: a token per pod is signed, and parsing the PKCS#8 key (which
    /// `jsonwebtoken::encode` does for every token) costs three times the signature.
    signing: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
    decoding: DecodingKey,
    /// The key's ID in each token's header: a digest of the public key, as upstream's
    /// `keyIDFromPublicKey`, so that a verifier with several keys can tell which one signed.
    key_id: String,
    /// The public key as a JSON Web Key (for [`super::issuer`]).
    public_jwk: serde_json::Value,
    validation: Validation,
}

impl TokenSigner {
    /// A signer for the PKCS#8 PEM of an ECDSA P-256 key.
    pub fn from_pem(private_key_pem: &str) -> Result<TokenSigner, TokenError> {
        use base64::Engine;
        let key = rcgen::KeyPair::from_pem(private_key_pem)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let rng = ring::rand::SystemRandom::new();
        let signing = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .map_err(|e| TokenError::Key(e.to_string()))?;
        let decoding = DecodingKey::from_ec_pem(key.public_key_pem().as_bytes())
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            &rcgen::PublicKeyData::subject_public_key_info(&key),
        );
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let key_id = b64(digest.as_ref());
        // The uncompressed point: 0x04, then X and Y of 32 bytes each.
        let point = key.public_key_raw();
        let (x, y) = point
            .get(1..)
            .unwrap_or_default()
            .split_at(point.len().saturating_sub(1) / 2);
        let public_jwk = serde_json::json!({"use": "sig", "kty": "EC", "kid": key_id,
            "crv": "P-256", "alg": "ES256", "x": b64(x), "y": b64(y)});
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(TokenSigner {
            signing,
            rng,
            decoding,
            key_id,
            public_jwk,
            validation,
        })
    }

    /// The public key as a JSON Web Key.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// The signed token of `claims`.
    /// The signed token of `claims`: a JWS in compact form, as `jsonwebtoken::encode` makes
    /// it (the header and claims as JSON, each base64url-encoded, then the ES256 signature of
    /// both), with the key parsed once.
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        use base64::Engine;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let json = |e: serde_json::Error| TokenError::Sign(e.to_string());
        let mut token = b64(&serde_json::to_vec(&header).map_err(json)?);
        token.push('.');
        token.push_str(&b64(&serde_json::to_vec(claims).map_err(json)?));
        let signature = self
            .signing
            .sign(&self.rng, token.as_bytes())
            .map_err(|e| TokenError::Sign(e.to_string()))?;
        token.push('.');
        token.push_str(&b64(signature.as_ref()));
        Ok(token)
    }

    /// The claims of `token` if we signed it for our audience and it is good at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(TokenError::Invalid)?
            .claims;
        if now > claims.exp + LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if now + LEEWAY_SECS < claims.nbf {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

/// Whether `token` looks like a JSON Web Token (three base64url parts), so that a static
/// token is never taken for one.
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "system:serviceaccount:team:builder".into(),
            aud: vec![ISSUER.into()],
            exp,
            iat: exp - 3600,
            nbf: exp - 3600,
            jti: "j".into(),
            kubernetes: KubernetesClaims {
                namespace: "team".into(),
                serviceaccount: ObjectRef {
                    name: "builder".into(),
                    uid: "u1".into(),
                },
                pod: Some(ObjectRef {
                    name: "p".into(),
                    uid: "u2".into(),
                }),
                secret: None,
                node: None,
                warnafter: None,
            },
        }
    }

    fn signer() -> TokenSigner {
        let key = rcgen::KeyPair::generate().expect("key");
        TokenSigner::from_pem(&key.serialize_pem()).expect("signer")
    }

    #[test]
    fn a_signed_token_reads_back_until_it_expires() {
        let signer = signer();
        let token = signer.sign(&claims(10_000)).expect("signed");
        assert!(looks_like_jwt(&token));
        assert_eq!(signer.verify(&token, 9_000).expect("good"), claims(10_000));
        assert!(signer.verify(&token, 10_000 + LEEWAY_SECS).is_ok());
        assert!(matches!(
            signer.verify(&token, 10_001 + LEEWAY_SECS),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            signer.verify(&token, 10_000 - 3600 - LEEWAY_SECS - 1),
            Err(TokenError::NotYetValid)
        ));
    }

    #[test]
    fn a_token_is_what_jsonwebtoken_encodes() {
        // The header and claims as `jsonwebtoken::encode` writes them; ECDSA signatures
        // differ from one signing to the next, so the signature is checked by `verify`.
        let key = rcgen::KeyPair::generate().expect("key");
        let signer = TokenSigner::from_pem(&key.serialize_pem()).expect("signer");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(signer.key_id.clone());
        let theirs = jsonwebtoken::encode(
            &header,
            &claims(10_000),
            &jsonwebtoken::EncodingKey::from_ec_pem(key.serialize_pem().as_bytes()).expect("key"),
        )
        .expect("encoded");
        let ours = signer.sign(&claims(10_000)).expect("signed");
        let signed_part = |t: &str| t.rsplit_once('.').map(|(m, _)| m.to_string());
        assert_eq!(signed_part(&ours), signed_part(&theirs));
        assert_eq!(signer.verify(&theirs, 9_000).expect("good"), claims(10_000));
    }

    #[test]
    fn the_published_key_checks_the_tokens() {
        let signer = signer();
        let token = signer.sign(&claims(10_000)).expect("signed");
        let jwk = signer.public_jwk();
        assert_eq!(jwk["kid"], signer.key_id);
        let key = DecodingKey::from_ec_components(
            jwk["x"].as_str().expect("x"),
            jwk["y"].as_str().expect("y"),
        )
        .expect("key");
        let read = jsonwebtoken::decode::<Claims>(&token, &key, &signer.validation).expect("good");
        assert_eq!(read.claims, claims(10_000));
        assert_eq!(read.header.kid.as_deref(), Some(signer.key_id.as_str()));
    }

    #[test]
    fn another_key_s_token_or_another_audience_is_refused() {
        let token = signer().sign(&claims(10_000)).expect("signed");
        assert!(matches!(
            signer().verify(&token, 9_000),
            Err(TokenError::Invalid(_))
        ));
        let signer = signer();
        let mut other = claims(10_000);
        other.aud = vec!["vault".into()];
        let token = signer.sign(&other).expect("signed");
        assert!(matches!(
            signer.verify(&token, 9_000),
            Err(TokenError::Invalid(_))
        ));
        assert!(!looks_like_jwt("abcdef0123456789"));
    }
}
