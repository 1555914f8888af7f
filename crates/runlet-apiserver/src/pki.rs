//! The server's own PKI: a CA, a serving certificate, an admin client certificate and the
//! client certificate the server presents to node agents for their logs
//! (`kube-apiserver-kubelet-client`, as kubeadm names it) and the key that signs service
//! account tokens (kubeadm's `sa.key`), generated at first start and kept under `DIR/tls/`,
//! plus the admin kubeconfig. Agents trust client certificates the CA signed
//! in group `system:masters`.
//!
//! Certificates are reused on later starts so kubeconfigs handed out stay valid; the serving
//! certificate is re-issued when the requested SANs change.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};

/// A PKI failure.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("reading or writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
}

/// PEM files of the server's PKI.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
    pub kubelet_client_cert_pem: String,
    pub kubelet_client_key_pem: String,
    /// The private key (PKCS#8, ECDSA P-256) service account tokens are signed with.
    pub service_account_key_pem: String,
}

/// The user name of the API server's client certificate towards node agents.
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
/// The group node agents require of a client certificate.
pub const KUBELET_CLIENT_GROUP: &str = "system:masters";

fn read(path: &Path) -> Result<Option<String>, PkiError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, contents).map_err(io)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn leaf(common_name: &str, organization: Option<&str>) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    params.distinguished_name = dn;
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params
}

/// Loads the PKI under `dir/tls`, generating whatever is missing. `sans` are the serving
/// certificate's names (DNS names or IP addresses).
pub fn load_or_create(dir: &Path, sans: &[String]) -> Result<Pki, PkiError> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|source| PkiError::Io {
        path: tls.clone(),
        source,
    })?;
    let paths = |name: &str| tls.join(name);

    let (ca_cert_pem, ca_key_pem) = match (read(&paths("ca.crt"))?, read(&paths("ca.key"))?) {
        (Some(c), Some(k)) => (c, k),
        _ => {
            let key = KeyPair::generate()?;
            let mut params = leaf("runlet-ca", None);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let cert = params.self_signed(&key)?;
            write(&paths("ca.crt"), &cert.pem(), false)?;
            write(&paths("ca.key"), &key.serialize_pem(), true)?;
            (cert.pem(), key.serialize_pem())
        }
    };
    let ca_key = KeyPair::from_pem(&ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, &ca_key)?;

    let sans_record = sans.join(",");
    let server = match (
        read(&paths("server.crt"))?,
        read(&paths("server.key"))?,
        read(&paths("server.sans"))?,
    ) {
        (Some(c), Some(k), Some(s)) if s == sans_record => (c, k),
        _ => {
            let key = KeyPair::generate()?;
            let mut params = leaf("runlet-apiserver", None);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            params.subject_alt_names = sans
                .iter()
                .map(|s| match s.parse::<std::net::IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => s.clone().try_into().map(SanType::DnsName),
                })
                .collect::<Result<_, _>>()?;
            let cert = params.signed_by(&key, &issuer)?;
            write(&paths("server.crt"), &cert.pem(), false)?;
            write(&paths("server.key"), &key.serialize_pem(), true)?;
            write(&paths("server.sans"), &sans_record, false)?;
            (cert.pem(), key.serialize_pem())
        }
    };

    let client = |name: &str, user: &str| -> Result<(String, String), PkiError> {
        let (cert_path, key_path) = (paths(&format!("{name}.crt")), paths(&format!("{name}.key")));
        if let (Some(c), Some(k)) = (read(&cert_path)?, read(&key_path)?) {
            return Ok((c, k));
        }
        let key = KeyPair::generate()?;
        let mut params = leaf(user, Some(KUBELET_CLIENT_GROUP));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer)?;
        write(&cert_path, &cert.pem(), false)?;
        write(&key_path, &key.serialize_pem(), true)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    let admin = client("admin", "admin")?;
    let kubelet_client = client("kubelet-client", KUBELET_CLIENT_USER)?;
    let service_account_key_pem = match read(&paths("sa.key"))? {
        Some(k) => k,
        None => {
            let key = KeyPair::generate()?.serialize_pem();
            write(&paths("sa.key"), &key, true)?;
            key
        }
    };

    Ok(Pki {
        ca_cert_pem,
        server_cert_pem: server.0,
        server_key_pem: server.1,
        admin_cert_pem: admin.0,
        admin_key_pem: admin.1,
        kubelet_client_cert_pem: kubelet_client.0,
        kubelet_client_key_pem: kubelet_client.1,
        service_account_key_pem,
    })
}

/// Writes the admin kubeconfig for `server_url` to `path`.
pub fn write_kubeconfig(path: &Path, server_url: &str, pki: &Pki) -> Result<(), PkiError> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let config = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: runlet
  cluster:
    server: {server_url}
    certificate-authority-data: {ca}
users:
- name: admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: runlet
  context:
    cluster: runlet
    user: admin
    namespace: default
current-context: runlet
",
        ca = b64(&pki.ca_cert_pem),
        cert = b64(&pki.admin_cert_pem),
        key = b64(&pki.admin_key_pem),
    );
    write(path, &config, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pki_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let first = load_or_create(dir.path(), &sans).expect("generate");
        let second = load_or_create(dir.path(), &sans).expect("reload");
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(first.server_cert_pem, second.server_cert_pem);
        let more = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "runlet.example".to_string(),
        ];
        let third = load_or_create(dir.path(), &more).expect("reissue");
        assert_eq!(
            first.ca_cert_pem, third.ca_cert_pem,
            "the CA survives a SAN change"
        );
        assert_ne!(
            first.server_cert_pem, third.server_cert_pem,
            "the serving cert is re-issued"
        );
    }
}
