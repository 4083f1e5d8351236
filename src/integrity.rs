//! Digests: parsing lockfile hashes (npm SRI strings, pip/Maven hex sha256) and hashing streams.
//!
//! A [`Digest`] is an algorithm plus the raw bytes; it names a file in the verified store. The
//! [`StreamHasher`] hashes bytes as they arrive so a download is verified without a second read.
//! It uses OpenSSL's SHA implementations (already linked for TLS): their assembly runs SHA-512
//! 1.1–2.2× faster than the portable `sha2` crate on this hardware (bench/README.md).

use std::fmt;

use base64::Engine as _;
use openssl::sha::{Sha1, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    Sha1,
    Sha256,
    Sha512,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Sha1 => "sha1",
            Alg::Sha256 => "sha256",
            Alg::Sha512 => "sha512",
        }
    }
    fn len(self) -> usize {
        match self {
            Alg::Sha1 => 20,
            Alg::Sha256 => 32,
            Alg::Sha512 => 64,
        }
    }
    /// sha1 is collision-broken: accepted for old npm lockfiles, reported as weak.
    pub fn is_weak(self) -> bool {
        self == Alg::Sha1
    }
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    pub alg: Alg,
    pub bytes: Vec<u8>,
}

impl Digest {
    /// From lowercase or uppercase hex, as pip and Maven write it.
    pub fn from_hex(alg: Alg, hex: &str) -> Option<Digest> {
        let hex = hex.trim();
        if hex.len() != alg.len() * 2 {
            return None;
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Digest { alg, bytes })
    }

    pub fn hex(&self) -> String {
        use fmt::Write as _;
        self.bytes
            .iter()
            .fold(String::with_capacity(self.bytes.len() * 2), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    /// The SRI form npm writes: `sha512-<base64>`.
    pub fn sri(&self) -> String {
        format!(
            "{}-{}",
            self.alg.name(),
            base64::engine::general_purpose::STANDARD.encode(&self.bytes)
        )
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.alg.name(), self.hex())
    }
}

/// In the notation of the lockfile it came from: npm's SRI for sha512/sha1, `sha256:<hex>` (pip,
/// Maven) otherwise.
impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.alg {
            Alg::Sha512 | Alg::Sha1 => f.write_str(&self.sri()),
            Alg::Sha256 => write!(f, "sha256:{}", self.hex()),
        }
    }
}

/// Parse an npm `integrity` value: one or more whitespace-separated SRI entries
/// (`sha512-<base64>[?opts]`). Unknown algorithms are skipped, as the SRI spec says; an entry of
/// a known algorithm with bad base64 or the wrong length is an error. Returns the strongest digest.
pub fn parse_sri(s: &str) -> Result<Digest, String> {
    let mut best: Option<Digest> = None;
    for token in s.split_whitespace() {
        let Some((alg, rest)) = token.split_once('-') else {
            return Err(format!(
                "`{token}` is not an SRI hash (expected alg-base64)"
            ));
        };
        let alg = match alg {
            "sha512" => Alg::Sha512,
            "sha256" => Alg::Sha256,
            "sha1" => Alg::Sha1,
            _ => continue,
        };
        let b64 = rest.split('?').next().unwrap_or(rest);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| format!("`{token}` has invalid base64"))?;
        if bytes.len() != alg.len() {
            return Err(format!("`{token}` has the wrong length for {}", alg.name()));
        }
        let d = Digest { alg, bytes };
        if best.as_ref().is_none_or(|b| d.alg > b.alg) {
            best = Some(d);
        }
    }
    best.ok_or_else(|| format!("`{s}` holds no sha1, sha256 or sha512 hash"))
}

/// Hashes a byte stream with one algorithm.
pub enum StreamHasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl StreamHasher {
    pub fn new(alg: Alg) -> StreamHasher {
        match alg {
            Alg::Sha1 => StreamHasher::Sha1(Sha1::new()),
            Alg::Sha256 => StreamHasher::Sha256(Sha256::new()),
            Alg::Sha512 => StreamHasher::Sha512(Sha512::new()),
        }
    }
    pub fn update(&mut self, data: &[u8]) {
        match self {
            StreamHasher::Sha1(h) => h.update(data),
            StreamHasher::Sha256(h) => h.update(data),
            StreamHasher::Sha512(h) => h.update(data),
        }
    }
    pub fn finish(self) -> Digest {
        let (alg, bytes) = match self {
            StreamHasher::Sha1(h) => (Alg::Sha1, h.finish().to_vec()),
            StreamHasher::Sha256(h) => (Alg::Sha256, h.finish().to_vec()),
            StreamHasher::Sha512(h) => (Alg::Sha512, h.finish().to_vec()),
        };
        Digest { alg, bytes }
    }
}

/// Hash a whole buffer.
pub fn hash(alg: Alg, data: &[u8]) -> Digest {
    let mut h = StreamHasher::new(alg);
    h.update(data);
    h.finish()
}

/// Hash a file in 256 KiB reads.
pub fn hash_file(alg: Alg, path: &std::path::Path) -> std::io::Result<Digest> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = StreamHasher::new(alg);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `echo -n hello | openssl dgst -sha512 -binary | base64`
    const HELLO_SHA512: &str = "sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==";

    #[test]
    fn sri_roundtrip_and_hash() {
        let d = parse_sri(HELLO_SHA512).unwrap();
        assert_eq!(d.alg, Alg::Sha512);
        assert_eq!(d.sri(), HELLO_SHA512);
        assert_eq!(hash(Alg::Sha512, b"hello"), d);
        assert_ne!(hash(Alg::Sha512, b"hellO"), d);
    }

    #[test]
    fn sri_picks_strongest_and_skips_unknown() {
        let s = format!(
            "sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00= md5-XUFAKrxLKna5cZ2REBfFkg== {HELLO_SHA512}"
        );
        assert_eq!(parse_sri(&s).unwrap().alg, Alg::Sha512);
        let weak = parse_sri("sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00=").unwrap();
        assert!(weak.alg.is_weak());
        assert_eq!(weak, hash(Alg::Sha1, b"hello"));
    }

    #[test]
    fn sri_rejects_garbage() {
        assert!(parse_sri("").is_err());
        assert!(parse_sri("md5-XUFAKrxLKna5cZ2REBfFkg==").is_err());
        assert!(parse_sri("sha512-notbase64!!").is_err());
        assert!(parse_sri("sha512-aGVsbG8=").is_err(), "wrong length");
        assert!(parse_sri("deadbeef").is_err());
    }

    #[test]
    fn hex_roundtrip() {
        let h = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let d = Digest::from_hex(Alg::Sha256, h).unwrap();
        assert_eq!(d.hex(), h);
        assert_eq!(d, hash(Alg::Sha256, b"hello"));
        assert_eq!(Digest::from_hex(Alg::Sha256, &h.to_uppercase()), Some(d));
        assert!(Digest::from_hex(Alg::Sha256, &h[1..]).is_none());
        assert!(Digest::from_hex(Alg::Sha256, &h.replace('2', "z")).is_none());
    }
}
