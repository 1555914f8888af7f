//! Authentication: who is calling.
//!
//! Two sources, as the Kubernetes API server has them: a client certificate signed by our CA
//! (CN is the user name, O entries are groups), checked during the TLS handshake, and bearer
//! tokens from a static token file in Kubernetes' format (`token,user,uid,"group1,group2"`).
//! Authorization beyond "authenticated" comes later. A caller may act as another user with the
//! impersonation headers (`kubectl --as`).

use std::collections::HashMap;
use std::path::Path;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// The identity a TLS connection presented, if any; attached to every request on it.
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity(pub Option<User>);

/// Static bearer tokens.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    tokens: HashMap<String, User>,
}

/// A malformed token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: expected at least token,user,uid")]
    Malformed { path: String, line: usize },
}

impl TokenFile {
    /// Loads `path`; a missing file means no tokens.
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(source) => {
                return Err(TokenFileError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses the CSV text of a token file.
    pub fn parse(text: &str, path: &str) -> Result<Self, TokenFileError> {
        let mut tokens = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            if fields.len() < 3 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(TokenFileError::Malformed {
                    path: path.to_string(),
                    line: i + 1,
                });
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            tokens.insert(
                fields[0].clone(),
                User {
                    name: fields[1].clone(),
                    groups,
                },
            );
        }
        Ok(TokenFile { tokens })
    }

    pub fn insert(&mut self, token: &str, user: User) {
        self.tokens.insert(token.to_string(), user);
    }

    pub fn lookup(&self, token: &str) -> Option<&User> {
        self.tokens.get(token)
    }
}

/// Why a request's impersonation headers cannot be honoured.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("requested impersonation of groups, a uid or extra fields without impersonating a user")]
pub struct ImpersonationError;

/// The user a request acts as when it carries upstream's impersonation headers
/// (`Impersonate-User`, `Impersonate-Group`, as `kubectl --as=... --as-group=...` sends them):
/// `None` without them. The caller may impersonate anyone, as runlet lets every authenticated
/// caller do everything; the user is in `system:authenticated` (and a service account in its
/// groups) as upstream's impersonation filter adds.
pub fn impersonated(headers: &axum::http::HeaderMap) -> Result<Option<User>, ImpersonationError> {
    let text = |v: &axum::http::HeaderValue| v.to_str().ok().map(str::to_string);
    let name = headers.get("impersonate-user").and_then(text);
    let mut groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(text)
        .collect();
    let others = !groups.is_empty()
        || headers.contains_key("impersonate-uid")
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("impersonate-extra-"));
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return if others {
            Err(ImpersonationError)
        } else {
            Ok(None)
        };
    };
    if let Some(account) = name.strip_prefix("system:serviceaccount:")
        && let Some((namespace, _)) = account.split_once(':')
    {
        for group in [
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{namespace}"),
        ] {
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
    }
    if name != "system:anonymous" && !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    Ok(Some(User { name, groups }))
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

/// The user of a client certificate (DER): CN and O entries.
pub fn user_from_certificate(der: &[u8]) -> Option<User> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(User { name, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_reads_quoted_groups() {
        let f = TokenFile::parse(
            "secret,alice,1001,\"devs,ops\"\n# comment\nt2,bob,1002\n",
            "tokens.csv",
        )
        .expect("parses");
        assert_eq!(
            f.lookup("secret"),
            Some(&User {
                name: "alice".into(),
                groups: vec!["devs".into(), "ops".into()]
            })
        );
        assert_eq!(f.lookup("t2").map(|u| u.name.as_str()), Some("bob"));
        assert_eq!(f.lookup("nope"), None);
    }

    #[test]
    fn impersonation_headers_name_the_user_and_its_groups() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(impersonated(&headers), Ok(None));
        headers.append("impersonate-group", "devs".parse().expect("header"));
        assert_eq!(impersonated(&headers), Err(ImpersonationError));
        headers.insert("impersonate-user", "bob".parse().expect("header"));
        assert_eq!(
            impersonated(&headers),
            Ok(Some(User {
                name: "bob".into(),
                groups: vec!["devs".into(), "system:authenticated".into()]
            }))
        );
        let mut sa = axum::http::HeaderMap::new();
        sa.insert(
            "impersonate-user",
            "system:serviceaccount:ci:builder".parse().expect("header"),
        );
        assert_eq!(
            impersonated(&sa).ok().flatten().map(|u| u.groups),
            Some(vec![
                "system:serviceaccounts".to_string(),
                "system:serviceaccounts:ci".to_string(),
                "system:authenticated".to_string()
            ])
        );
    }

    #[test]
    fn malformed_token_line_names_the_line() {
        let err = TokenFile::parse("ok,u,1\nbad\n", "tokens.csv").expect_err("malformed");
        assert_eq!(
            err.to_string(),
            "tokens.csv line 2: expected at least token,user,uid"
        );
    }
}
