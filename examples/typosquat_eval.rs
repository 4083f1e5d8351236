//! Evaluates the typosquat detector on `bench/typosquat/` and prints its figures: recall on real
//! typosquats, false positives on the popular lists themselves, on legitimate near-names and on
//! legitimate names held out of the corpus, and speed. Run by `bench/typosquat-eval.sh` (release build); extra arguments `npm|pypi FILE` also
//! report how many names of FILE (one per line) would be flagged, with the first few findings.

#[allow(dead_code)]
#[path = "../src/typosquat/mod.rs"]
mod typosquat;

use std::collections::HashSet;
use std::time::{Duration, Instant};
use std::{env, fs, process};

use typosquat::{Corpus, Detector, Ecosystem};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    let full = format!("{ROOT}/{path}");
    fs::read_to_string(&full).unwrap_or_else(|e| {
        eprintln!("typosquat_eval: cannot read {full}: {e}");
        process::exit(2);
    })
}

/// Tab-separated rows, `#` comments and blank lines skipped.
fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
        .collect()
}

fn eco_name(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Npm => "npm",
        Ecosystem::Pypi => "pypi",
    }
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Recall: each (name, imitates) must flag; a flag naming another target counts, but is listed.
/// `file`: `typosquats` (the cases the rules were written from) or `typosquats-holdout` (cases
/// collected after the rules were written and not used to change them). A squat is new when it
/// is published, so the age-gated rules (`check_young`, applied when the registry says a name
/// is less than two years old) count too; both figures are printed.
fn recall(eco: Ecosystem, detector: &Detector, file: &str) {
    let path = format!("bench/typosquat/{}-{file}.tsv", eco_name(eco));
    if !std::path::Path::new(&format!("{ROOT}/{path}")).exists() {
        return;
    }
    let text = read(&path);
    let set = rows(&text);
    let mut caught = 0;
    let mut strict = 0;
    for row in &set {
        let (name, imitates) = (row[0], row[1]);
        let offline = detector.check(name);
        strict += usize::from(offline.is_some());
        match offline.or_else(|| detector.check_young(name)) {
            Some(f) => {
                caught += 1;
                let note = if f.resembles == imitates {
                    String::new()
                } else {
                    format!("  (expected {imitates})")
                };
                println!(
                    "    caught  {name:<18} ~ {:<16} {}{note}",
                    f.resembles, f.rule
                );
            }
            None => println!("    MISSED  {name:<18} ~ {imitates}"),
        }
    }
    println!(
        "{}: recall on real typosquats ({file}): {caught}/{} = {:.1} % with registry age ({strict}/{} = {:.1} % by name alone)",
        eco_name(eco),
        set.len(),
        pct(caught, set.len()),
        set.len(),
        pct(strict, set.len())
    );
}

/// Every popular name checked against the corpus it belongs to: must never flag.
fn popular_self_check(eco: Ecosystem, detector: &Detector) {
    let text = read(&format!("data/typosquat/{}.txt", eco_name(eco)));
    let names: Vec<&str> = text.lines().collect();
    let flagged: Vec<_> = names.iter().filter_map(|n| detector.check(n)).collect();
    println!(
        "{}: false positives on the popular list itself: {}/{}",
        eco_name(eco),
        flagged.len(),
        names.len()
    );
    for f in flagged.iter().take(10) {
        println!("    FLAGGED {} ~ {} ({})", f.name, f.resembles, f.rule);
    }
}

/// Share of `names` (legitimate ones) that flag, with the first few findings.
/// Also counts the names only the age-gated rules flag: those are refused only while the
/// registry says the name is less than two years old.
fn false_positives(label: &str, detector: &Detector, names: &[&str]) {
    let flagged: Vec<_> = names.iter().filter_map(|n| detector.check(n)).collect();
    for f in flagged.iter().take(60) {
        println!("    FLAGGED {} ~ {} ({})", f.name, f.resembles, f.rule);
    }
    let young: Vec<_> = names
        .iter()
        .filter(|n| detector.check(n).is_none())
        .filter_map(|n| detector.check_young(n))
        .collect();
    for f in young.iter().take(20) {
        println!("    IF-NEW  {} ~ {} ({})", f.name, f.resembles, f.rule);
    }
    println!(
        "{label}: {}/{} flagged = {:.1} % (plus {} = {:.1} % by the age-gated rules, refused only if under two years old)",
        flagged.len(),
        names.len(),
        pct(flagged.len(), names.len()),
        young.len(),
        pct(young.len(), names.len())
    );
}

fn near_names(detector_for: impl Fn(Ecosystem) -> &'static Detector) {
    let text = read("bench/typosquat/near-names.tsv");
    let set = rows(&text);
    for kind in ["popular", "outside"] {
        let group: Vec<_> = set.iter().filter(|row| row[3] == kind).collect();
        let mut flagged = 0;
        for row in &group {
            let eco = if row[0] == "npm" {
                Ecosystem::Npm
            } else {
                Ecosystem::Pypi
            };
            if let Some(f) = detector_for(eco).check(row[1]) {
                flagged += 1;
                println!(
                    "    FLAGGED {} {} ~ {} ({}); legitimate: {}",
                    row[0], row[1], f.resembles, f.rule, row[4]
                );
            }
        }
        println!(
            "false positives on legitimate near-names ({kind}): {flagged}/{} = {:.1} %",
            group.len(),
            pct(flagged, group.len())
        );
    }
}

/// The lowest-ranked legitimate names of the source lists (`holdout-*.txt`, written by the corpus
/// script) removed from the corpus and checked against the rest: the false-positive rate a
/// legitimate package just outside the popular list meets.
fn holdout(eco: Ecosystem) {
    let held = read(&format!("bench/typosquat/holdout-{}.txt", eco_name(eco)));
    let held: HashSet<&str> = held.lines().collect();
    let corpus = read(&format!("data/typosquat/{}.txt", eco_name(eco)));
    let rest: String = corpus
        .lines()
        .filter(|n| !held.contains(n))
        .flat_map(|n| [n, "\n"])
        .collect();
    let popular: &'static Corpus = Box::leak(Box::new(Corpus::new(eco, &rest)));
    let (namespaces, names) = internal(eco);
    let detector = Detector::with_popular(popular, eco, &namespaces, &names, &[]);
    let mut held: Vec<&str> = held.into_iter().collect();
    held.sort_unstable();
    false_positives(
        &format!(
            "{}: false positives on {} legitimate names held out of the corpus",
            eco_name(eco),
            held.len()
        ),
        &detector,
        &held,
    );
}

/// Ten thousand names, half popular and half a popular name with two letters swapped, checked
/// several times; prints the best and median run.
fn speed(eco: Ecosystem, detector: &Detector) {
    let text = read(&format!("data/typosquat/{}.txt", eco_name(eco)));
    let mut names: Vec<String> = Vec::with_capacity(10_000);
    for name in text.lines().cycle() {
        if names.len() == 10_000 {
            break;
        }
        names.push(name.to_owned());
        let mut chars: Vec<char> = name.chars().collect();
        if chars.len() > 3 {
            let mid = chars.len() / 2;
            chars.swap(mid - 1, mid);
        }
        names.push(chars.into_iter().collect());
    }
    let mut runs: Vec<Duration> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let flagged = names.iter().filter(|n| detector.check(n).is_some()).count();
            std::hint::black_box(flagged);
            start.elapsed()
        })
        .collect();
    runs.sort();
    let median = runs[runs.len() / 2];
    println!(
        "{}: 10,000 names checked in {:.1} ms (best {:.1} ms) = {:.0} names/s",
        eco_name(eco),
        median.as_secs_f64() * 1e3,
        runs[0].as_secs_f64() * 1e3,
        10_000.0 / median.as_secs_f64()
    );
}

/// The internal namespace and name every evaluated detector knows.
fn internal(eco: Ecosystem) -> (Vec<String>, Vec<String>) {
    match eco {
        Ecosystem::Npm => (
            vec!["@myorg".to_owned()],
            vec!["@myorg/payments-client".to_owned()],
        ),
        Ecosystem::Pypi => (
            vec!["myorg-".to_owned()],
            vec!["myorg-payments-client".to_owned()],
        ),
    }
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let build = |eco| {
        let (namespaces, names) = internal(eco);
        let start = Instant::now();
        let detector = Detector::new(eco, &namespaces, &names, &[]);
        let first = start.elapsed();
        let start = Instant::now();
        let _again = Detector::new(eco, &namespaces, &names, &[]);
        println!(
            "{}: first Detector::new (parses and indexes the corpus) {:.1} ms, later ones {:.3} ms",
            eco_name(eco),
            first.as_secs_f64() * 1e3,
            start.elapsed().as_secs_f64() * 1e3
        );
        &*Box::leak(Box::new(detector))
    };
    let npm = build(Ecosystem::Npm);
    let pypi = build(Ecosystem::Pypi);
    let detector_for = |eco| match eco {
        Ecosystem::Npm => npm,
        Ecosystem::Pypi => pypi,
    };

    if let [eco, file] = args.as_slice() {
        let eco = if eco == "npm" {
            Ecosystem::Npm
        } else {
            Ecosystem::Pypi
        };
        let text = fs::read_to_string(file).unwrap_or_else(|e| {
            eprintln!("typosquat_eval: cannot read {file}: {e}");
            process::exit(2);
        });
        let names: Vec<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
        false_positives(file, detector_for(eco), &names);
        return;
    }

    for file in ["typosquats", "typosquats-holdout"] {
        for eco in [Ecosystem::Npm, Ecosystem::Pypi] {
            recall(eco, detector_for(eco), file);
        }
    }
    for eco in [Ecosystem::Npm, Ecosystem::Pypi] {
        popular_self_check(eco, detector_for(eco));
    }
    near_names(detector_for);
    for eco in [Ecosystem::Npm, Ecosystem::Pypi] {
        holdout(eco);
    }
    for eco in [Ecosystem::Npm, Ecosystem::Pypi] {
        speed(eco, detector_for(eco));
    }
}
