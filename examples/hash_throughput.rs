//! Verified-store hashing throughput: how fast lockgate's streaming hasher digests bytes, per
//! algorithm, in the 256 KiB chunks the store uses. Run by bench/npm.sh (target ≥ 500 MB/s).

#[allow(dead_code)]
#[path = "../src/integrity.rs"]
mod integrity;

use std::time::Instant;

fn main() {
    let chunk = vec![0x5au8; 256 * 1024];
    let total: usize = 1 << 30;
    for alg in [integrity::Alg::Sha512, integrity::Alg::Sha256, integrity::Alg::Sha1] {
        let start = Instant::now();
        let mut h = integrity::StreamHasher::new(alg);
        for _ in 0..total / chunk.len() {
            h.update(&chunk);
        }
        let d = h.finish();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "verified-store hashing, {}: {:.0} MB/s ({} MiB in {:.2} s, digest {}…)",
            alg.name(),
            total as f64 / secs / 1e6,
            total >> 20,
            secs,
            &d.hex()[..8]
        );
    }
}
