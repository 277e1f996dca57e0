//! API keys: stored hashed, checked before a request reaches a handler, with a per-key rate
//! limit (token bucket) and a per-key quota of unfinished jobs.
//!
//! A key is presented as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Only its SHA-256
//! is configured, so a leaked keys file does not leak keys. When no key is configured (the
//! default, on loopback only) every request is let through; once any key is configured, every
//! `/api/…` request and the dashboard need one.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    pub id: String,
    /// Lowercase hex SHA-256 of the key.
    pub sha256: String,
    pub rate_per_minute: u32,
    pub concurrency: u32,
    pub revoked: bool,
}

#[derive(Clone, Debug, Default)]
pub struct KeyStore {
    by_hash: HashMap<String, KeyEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("API keys file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{origin} line {line}: {message} (expected `<id> sha256:<64 hex digits> [rate=N/min] [concurrency=N] [revoked]`)"
    )]
    Syntax {
        origin: String,
        line: usize,
        message: String,
    },
}

/// The stored form of a key: lowercase hex SHA-256.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl KeyStore {
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn load_file(&mut self, path: &Path, rate: u32, concurrency: u32) -> Result<(), KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.load_text(&path.display().to_string(), &text, rate, concurrency)
    }

    pub fn load_text(
        &mut self,
        origin: &str,
        text: &str,
        rate: u32,
        concurrency: u32,
    ) -> Result<(), KeyError> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let syntax = |message: String| KeyError::Syntax {
                origin: origin.to_owned(),
                line: i + 1,
                message,
            };
            let mut words = line.split_whitespace();
            let id = words.next().unwrap_or_default().to_owned();
            let hash = words
                .next()
                .and_then(|h| h.strip_prefix("sha256:"))
                .ok_or_else(|| syntax("missing `sha256:<hex>`".into()))?
                .to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(syntax(format!("`{hash}` is not 64 hex digits")));
            }
            let mut entry = KeyEntry {
                id,
                sha256: hash,
                rate_per_minute: rate,
                concurrency,
                revoked: false,
            };
            for w in words {
                if w == "revoked" {
                    entry.revoked = true;
                } else if let Some(v) = w.strip_prefix("rate=") {
                    entry.rate_per_minute = v
                        .trim_end_matches("/min")
                        .parse()
                        .map_err(|_| syntax(format!("bad rate `{v}`")))?;
                } else if let Some(v) = w.strip_prefix("concurrency=") {
                    entry.concurrency = v
                        .parse()
                        .map_err(|_| syntax(format!("bad concurrency `{v}`")))?;
                } else {
                    return Err(syntax(format!("unknown word `{w}`")));
                }
            }
            self.by_hash.insert(entry.sha256.clone(), entry);
        }
        Ok(())
    }

    pub fn lookup(&self, key: &str) -> Option<&KeyEntry> {
        self.by_hash.get(&hash_key(key))
    }
}

/// Why a request was turned away before reaching a handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// 401: no key, or a key that is not configured.
    Unauthenticated(&'static str),
    /// 403: a revoked key.
    Revoked(String),
    /// 429: over the key's rate; retry after this many seconds.
    RateLimited { key: String, retry_after_s: u64 },
}

/// Token buckets per key id.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes one token from `key`'s bucket (capacity = the per-minute rate, refilled
    /// continuously); `Err(seconds)` until the next token when empty.
    pub fn take(&self, key: &KeyEntry) -> Result<(), u64> {
        let cap = f64::from(key.rate_per_minute.max(1));
        let per_s = cap / 60.0;
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = b.entry(key.id.clone()).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * per_s).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_s).ceil().max(1.0) as u64)
        }
    }
}

/// Extracts the presented key from the headers.
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Decides whether a request may go on; the key entry when one was presented and accepted.
pub fn authorize(
    store: &KeyStore,
    limiter: &RateLimiter,
    headers: &axum::http::HeaderMap,
) -> Result<Option<KeyEntry>, Denied> {
    if store.is_empty() {
        return Ok(None);
    }
    let key = presented_key(headers).ok_or(Denied::Unauthenticated(
        "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
    ))?;
    let entry = store
        .lookup(key)
        .ok_or(Denied::Unauthenticated("the API key is not valid"))?;
    if entry.revoked {
        return Err(Denied::Revoked(entry.id.clone()));
    }
    limiter
        .take(entry)
        .map_err(|retry_after_s| Denied::RateLimited {
            key: entry.id.clone(),
            retry_after_s,
        })?;
    Ok(Some(entry.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_by_hash_and_revocation_is_kept() {
        let mut s = KeyStore::default();
        let text = format!(
            "# comment\nalice sha256:{} rate=2/min concurrency=3\nbob sha256:{} revoked\n",
            hash_key("alice-secret"),
            hash_key("bob-secret")
        );
        s.load_text("test", &text, 60, 10).unwrap();
        let a = s.lookup("alice-secret").unwrap();
        assert_eq!(
            (a.id.as_str(), a.rate_per_minute, a.concurrency),
            ("alice", 2, 3)
        );
        assert!(s.lookup("bob-secret").unwrap().revoked);
        assert!(s.lookup("mallory").is_none());
        let lim = RateLimiter::default();
        assert!(lim.take(a).is_ok());
        assert!(lim.take(a).is_ok());
        assert!(
            lim.take(a).is_err(),
            "a third request within the minute is refused"
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let mut s = KeyStore::default();
        let e = s.load_text("keys.txt", "x sha256:zz\n", 1, 1).unwrap_err();
        assert!(e.to_string().contains("keys.txt line 1"), "{e}");
    }
}
