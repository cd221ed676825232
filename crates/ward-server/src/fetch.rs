//! Fetching media by URL for HMA's `url=` parameters, only from an allowlist of hosts.
//!
//! HMA fetches whatever URL a caller names, which lets any caller make the server request
//! its own network (server-side request forgery: cloud metadata endpoints, admin ports).
//! ward fetches nothing unless [`ServerConfig::fetch_allow_hosts`] names hosts, and then:
//!
//! - only `http` and `https`, no user name or password in the URL;
//! - the host must be on the list, compared exactly (case-insensitive), so an IP literal or
//!   another name for an internal address passes only if the operator listed it; an entry
//!   `host` allows the scheme's default port, `host:port` that port only;
//! - **every redirect is checked the same way** (a listed host redirecting to
//!   `169.254.169.254` is refused), at most 5 of them;
//! - the body is read up to [`ServerConfig::max_body_bytes`], under the request time limit.
//!
//! A refusal is a 400 that says which rule, in HMA's error shape on HMA's routes.

use std::time::Duration;

use axum::body::Bytes;
use reqwest::redirect::{Attempt, Policy};
use reqwest::Url;

use crate::error::ApiError;
use crate::ServerConfig;

/// Fetches allowed URLs. Cheap to share: one connection pool.
pub(crate) struct Fetcher {
    client: Option<reqwest::Client>,
    allow: AllowList,
    max_bytes: usize,
}

/// Hosts (and ports) that may be fetched from.
#[derive(Clone, Debug, Default)]
struct AllowList(Vec<(String, Option<u16>)>);

impl AllowList {
    fn new(entries: &[String]) -> AllowList {
        let parse = |e: &str| -> Option<(String, Option<u16>)> {
            let e = e.trim().to_ascii_lowercase();
            if e.is_empty() {
                return None;
            }
            // `[::1]:8080`, `host:8080`, `host`, `[::1]`.
            if let Some(rest) = e.strip_prefix('[') {
                let (host, after) = rest.split_once(']')?;
                let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
                return Some((format!("[{host}]"), port));
            }
            match e.rsplit_once(':') {
                Some((h, p)) if p.parse::<u16>().is_ok() => Some((h.to_owned(), p.parse().ok())),
                _ => Some((e, None)),
            }
        };
        AllowList(entries.iter().filter_map(|e| parse(e)).collect())
    }

    /// Why `url` may not be fetched, or `None` when it may.
    fn refusal(&self, url: &Url) -> Option<String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Some(format!(
                "scheme '{}' is not fetched (http and https only)",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Some("URLs with credentials are not fetched".to_owned());
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return Some("the URL has no host".to_owned());
        };
        let port = url.port();
        let ok = self.0.iter().any(|(h, p)| {
            *h == host
                && match p {
                    None => port.is_none(),
                    Some(p) => url.port_or_known_default() == Some(*p),
                }
        });
        (!ok).then(|| {
            let shown = match port {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            format!("host '{shown}' is not on this server's fetch allowlist")
        })
    }
}

impl Fetcher {
    /// A fetcher for `config`'s allowlist; with an empty list it refuses every URL.
    pub(crate) fn new(config: &ServerConfig) -> Fetcher {
        let allow = AllowList::new(&config.fetch_allow_hosts);
        let client = (!allow.0.is_empty()).then(|| {
            let policy_allow = allow.clone();
            let policy = Policy::custom(move |attempt: Attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("more than 5 redirects");
                }
                match policy_allow.refusal(attempt.url()) {
                    None => attempt.follow(),
                    Some(why) => attempt.error(format!("redirect refused: {why}")),
                }
            });
            reqwest::Client::builder()
                .redirect(policy)
                .connect_timeout(Duration::from_secs(5))
                .timeout(config.request_timeout)
                .user_agent(concat!("ward/", env!("CARGO_PKG_VERSION")))
                .build()
        });
        let client = match client {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                tracing::error!(error = %e, "cannot build the HTTP client: no URL will be fetched");
                None
            }
            None => None,
        };
        Fetcher {
            client,
            allow,
            max_bytes: config.max_body_bytes,
        }
    }

    /// The bytes at `url`, if the allowlist lets it (and each redirect) be fetched.
    pub(crate) async fn fetch(&self, url: &str) -> Result<Bytes, ApiError> {
        let unsafe_url =
            |why: &str| ApiError::bad_request(format!("Invalid or unsafe URL provided: {why}"));
        let Some(client) = &self.client else {
            return Err(unsafe_url(
                "this ward fetches no URL (no allowlist of hosts is configured: \
                 ward serve --fetch-allow-host HOST); upload the file with POST instead",
            ));
        };
        let parsed = Url::parse(url).map_err(|e| unsafe_url(&format!("not a URL ({e})")))?;
        if let Some(why) = self.allow.refusal(&parsed) {
            return Err(unsafe_url(&why));
        }
        let failed = |e: reqwest::Error| {
            // The redirect policy's refusal comes back as the error's source.
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            if e.is_redirect() {
                unsafe_url(&msg)
            } else {
                ApiError::bad_request(format!("cannot fetch the URL: {msg}"))
            }
        };
        let mut resp = client.get(parsed).send().await.map_err(failed)?;
        if !resp.status().is_success() {
            return Err(ApiError::bad_request(format!(
                "cannot fetch the URL: the server answered {}",
                resp.status()
            )));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_large(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        if body.is_empty() {
            return Err(ApiError::bad_request("the file at the URL is empty"));
        }
        Ok(Bytes::from(body))
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::bad_request(format!(
        "the file at the URL is over this server's limit of {max} bytes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(list: &[&str], url: &str) -> Option<String> {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        AllowList::new(&list).refusal(&Url::parse(url).unwrap())
    }

    #[test]
    fn allowlist_is_exact_on_host_and_port() {
        let list = ["cdn.example.com", "media.example.org:8443", "[::1]:9000"];
        assert_eq!(refusal(&list, "https://cdn.example.com/a.jpg"), None);
        assert_eq!(refusal(&list, "http://CDN.Example.com/a.jpg"), None);
        assert_eq!(refusal(&list, "https://media.example.org:8443/x"), None);
        assert_eq!(refusal(&list, "http://[::1]:9000/x"), None);
        for bad in [
            "https://cdn.example.com.evil.net/a.jpg",
            "https://evil.net/cdn.example.com",
            "https://cdn.example.com:8080/a.jpg",
            "https://media.example.org/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1/",
            "file:///etc/passwd",
            "ftp://cdn.example.com/a.jpg",
            "https://user:pw@cdn.example.com/a.jpg",
        ] {
            assert!(refusal(&list, bad).is_some(), "{bad} was allowed");
        }
        assert!(refusal(&[], "https://cdn.example.com/").is_some());
    }
}
