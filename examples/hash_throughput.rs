//! Verified-store hashing throughput: how fast lockgate's streaming hasher digests bytes, in the
//! 256 KiB chunks the store uses — one stream, and all cores at once (the store verifies parallel
//! downloads on every runtime worker). Run by bench/npm.sh; target ≥ 500 MB/s.

#[allow(dead_code)]
#[path = "../src/integrity.rs"]
mod integrity;

use std::time::Instant;

use integrity::{Alg, StreamHasher};

/// Hash `bytes` in 256 KiB chunks on `threads` threads at once; returns MB/s over all of them.
fn throughput(alg: Alg, bytes: usize, threads: usize) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let chunk = vec![0x5au8; 256 * 1024];
                let mut h = StreamHasher::new(alg);
                for _ in 0..bytes / chunk.len() {
                    h.update(&chunk);
                }
                h.finish()
            });
        }
    });
    (bytes * threads) as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bytes = 512 << 20;
    for alg in [Alg::Sha512, Alg::Sha256, Alg::Sha1] {
        // Best of three: this measures the hasher, not the neighbours on a shared machine.
        let one = (0..3)
            .map(|_| throughput(alg, bytes, 1))
            .fold(0.0, f64::max);
        let all = (0..3)
            .map(|_| throughput(alg, bytes, cores))
            .fold(0.0, f64::max);
        println!(
            "verified-store hashing, {}: {one:.0} MB/s one stream, {all:.0} MB/s on {cores} cores",
            alg.name()
        );
    }
}
