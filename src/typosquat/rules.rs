//! Pure name comparison for the typosquat detector: normalisation, the lookup keys the index
//! stores, and `classify`, which says by which rule (if any) one name imitates another.
//!
//! Nothing here knows about corpora or policy; `index.rs` finds the few names worth comparing and
//! `mod.rs` decides which comparisons apply to a name.

use std::borrow::Cow;
use std::collections::HashSet;

use super::{Ecosystem, Rule};

/// What kind of name a candidate is compared with; it sets how short a name single edits apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Against {
    /// The popular corpus: thousands of names, many of them short and close to each other.
    Popular,
    /// The project's internal names, and the few (about 260) popular npm scopes.
    Internal,
    /// The popular corpus, for rules that flag only names the registry says are new (see
    /// `Detector::check_young`): single edits on short words and digit edits, which on their own
    /// land on unrelated real packages too often.
    Young,
}

impl Against {
    /// Shortest word on which one character removed, added or changed counts as a typo. The
    /// word is the run between separators where the edit falls (the whole name if it has none):
    /// package families vary in short words (`django-csp`/`django-cms`/`django-crm`,
    /// `google-cloud-iam`/`google-cloud-iap`), exactly like short names do.
    ///
    /// Measured on the embedded corpora: the share of popular names that already have another
    /// popular name one such edit away is, by length, 4: 18 % (npm) / 45 % (PyPI),
    /// 5: 16 % / 34 %, 6: 13 % / 18 %, 7: 6 % / 13 %, 8 and up: at most 9 %. Below 6 a name one
    /// edit from a popular one is about as likely to be an unrelated real package as a typo
    /// (`chai`/`chalk`, `numba`/`numpy`), so short names are left to the rules that do not depend
    /// on length (homoglyphs, separators, affixes). Internal names are a handful rather than
    /// thousands, so only names so short that an edit makes a common word (`api`/`apt`) are left out.
    fn min_edit_len(self) -> usize {
        match self {
            Against::Popular => 6,
            Against::Internal | Against::Young => 4,
        }
    }

    /// Shortest word on which two swapped neighbours count. Legitimate transposition
    /// pairs are rare: none among npm's popular names at any length; on PyPI 8 of 471 four-letter
    /// names (`tqdm`/`tdqm`, `pyod`/`pydo`), 2 of 716 five-letter ones and none longer. So from 5 on,
    /// which catches `axois` (axios), a case the single-edit threshold would miss.
    fn min_transpose_len(self) -> usize {
        match self {
            Against::Popular => 5,
            Against::Internal | Against::Young => 4,
        }
    }
}

/// Shortest stem an affix rule accepts: `d3` + `.js` is a real squat, a single letter is not a name.
const MIN_AFFIX_STEM: usize = 2;

/// Name affixes that impersonate "the same package for my platform". npm's come from the 2017
/// crossenv wave (`mysqljs`, `nodemailer.js`, `mssql-node`, `jquery.js`); PyPI's from
/// `python3-dateutil` and GuardDog's py/python swaps, but only with a separator: a bare `py`
/// prefix is how PyPI names things (`pykdtree`, `pysnowflake` next to `kdtree`, `snowflake`),
/// and on the held-out names it accounted for a fifth of the false positives.
fn affixes(eco: Ecosystem) -> (&'static [&'static str], &'static [&'static str]) {
    match eco {
        Ecosystem::Npm => (&["node-", "js-"], &["-js", ".js", "js", "-node"]),
        Ecosystem::Pypi => (
            &["python3-", "python-", "py3-", "py-"],
            &["-python3", "-python", "-py3", "-py"],
        ),
    }
}

/// The form names are compared in: PyPI names PEP 503-normalised (lowercase, runs of `-_.`
/// become `-`); npm names as written, trimmed (npm keeps a few legacy capitals such as
/// `JSONStream`, so case is not folded here).
pub(super) fn normalize(eco: Ecosystem, name: &str) -> String {
    let name = name.trim();
    match eco {
        Ecosystem::Npm => name.to_owned(),
        Ecosystem::Pypi => {
            let mut out = String::with_capacity(name.len());
            for ch in name.chars() {
                if is_separator(ch) {
                    if !out.ends_with('-') {
                        out.push('-');
                    }
                } else {
                    out.push(ch.to_ascii_lowercase());
                }
            }
            out
        }
    }
}

fn is_separator(ch: char) -> bool {
    matches!(ch, '-' | '_' | '.')
}

/// Lowercase with every separator removed: `cross-env`, `cross_env` and `crossenv` share it.
pub(super) fn separator_key(name: &str) -> String {
    separator_chars(name).collect()
}

fn separator_chars(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars()
        .filter(|&ch| !is_separator(ch))
        .map(|ch| ch.to_ascii_lowercase())
}

/// What a name looks like to a reader: `1`, `I` and `l` fold to `l`, `0` to `o`, `rn` to `m`,
/// `vv` to `w`. Computed on the name as typed, because PEP 503 lowercasing would turn the `I` of
/// `jeIlyfish` into an `i` that no longer looks like anything.
pub(super) fn skeleton(eco: Ecosystem, raw: &str) -> String {
    skeleton_chars(eco, raw).collect()
}

/// `skeleton` as an iterator, so comparisons need not allocate.
fn skeleton_chars(eco: Ecosystem, raw: &str) -> impl Iterator<Item = char> + '_ {
    let mut chars = raw
        .trim()
        .chars()
        .map(|ch| match ch {
            'I' | '1' | '|' => 'l',
            '0' => 'o',
            other => other.to_ascii_lowercase(),
        })
        .peekable();
    std::iter::from_fn(move || {
        let ch = chars.next()?;
        if eco == Ecosystem::Pypi && is_separator(ch) {
            // PEP 503: a run of separators is one `-`.
            while chars.next_if(|&next| is_separator(next)).is_some() {}
            return Some('-');
        }
        Some(match (ch, chars.peek()) {
            ('r', Some('n')) | ('v', Some('v')) => {
                chars.next();
                if ch == 'r' {
                    'm'
                } else {
                    'w'
                }
            }
            _ => ch,
        })
    })
}

/// The name with each one character removed, as `(prefix, suffix)` pairs (no allocation).
pub(super) fn deletions(name: &str) -> impl Iterator<Item = (&str, &str)> {
    name.char_indices()
        .map(move |(i, ch)| (&name[..i], &name[i + ch.len_utf8()..]))
}

/// Names that `name` may be an affixed or re-affixed copy of, as (prefix, stem, suffix) to be read
/// concatenated: the name with one known affix removed, alone and with each other known affix. The
/// index looks each up exactly; `classify` confirms. (A name missing a trailing digit, `urllib` for
/// `urllib3`, is found by the deletion keys.)
pub(super) fn affix_variants(eco: Ecosystem, name: &str) -> Vec<[&str; 3]> {
    let (prefixes, suffixes) = affixes(eco);
    let stems = prefixes
        .iter()
        .filter_map(|p| name.strip_prefix(p))
        .chain(suffixes.iter().filter_map(|s| name.strip_suffix(s)))
        .filter(|s| s.len() >= MIN_AFFIX_STEM);
    let mut out = Vec::new();
    for stem in stems {
        out.push(["", stem, ""]);
        out.extend(prefixes.iter().map(|p| [*p, stem, ""]));
        out.extend(suffixes.iter().map(|s| ["", stem, *s]));
    }
    out
}

/// How `candidate` imitates `target`, or `None` if it does not (or is `target`).
///
/// `raw` is the candidate as typed (for homoglyphs), `candidate` its normalised form, `target` a
/// normalised popular or internal name, and `against` says which (see its length thresholds). Rules are tried from the most deliberate-looking to the most accidental, so the
/// reason given is the most telling one.
pub(super) fn classify(
    eco: Ecosystem,
    raw: &str,
    candidate: &str,
    target: &str,
    against: Against,
) -> Option<Rule> {
    if candidate == target {
        return None;
    }
    if candidate.eq_ignore_ascii_case(target) {
        return Some(Rule::CaseChanged);
    }
    if separator_chars(candidate).eq(separator_chars(target)) {
        return Some(Rule::SeparatorChanged);
    }
    if skeleton_chars(eco, raw).eq(skeleton_chars(eco, target)) {
        let (expected, seen) = difference(target, raw.trim());
        return Some(Rule::Homoglyph { expected, seen });
    }
    let (c, t) = (lowercase(candidate), lowercase(target));
    if let Some(rule) = affix(eco, &c, &t) {
        return Some(rule);
    }
    let edit = single_edit(&c, &t)?;
    let min_len = match edit.rule {
        Rule::Transposed => against.min_transpose_len(),
        _ => against.min_edit_len(),
    };
    // Against popular names, two kinds of edit are how unrelated packages are named rather than
    // typos (measured on the held-out names): a different first letter (`ghooks`/`ahooks`,
    // `hickle`/`sickle`: people rarely mistype it) and digits added or changed (`angular2`,
    // `pypdf3`/`pypdf2`, `babel-preset-es2016`: forks and majors).
    let naming = match against {
        Against::Internal => false,
        // Young names: digits added or changed count (`boto33`); the first letter still does not.
        Against::Young => edit.at == 0,
        Against::Popular => edit.at == 0 || (edit.digits && edit.rule != Rule::CharRemoved),
    };
    (edit.word_len >= min_len && !naming).then_some(edit.rule)
}

/// Shortest popular name (separator key) the broad young-name rules compare with: shorter ones
/// are common words that new names contain by chance (`tar`, `vue`, `curl`).
const MIN_YOUNG_TARGET: usize = 5;

/// Shortest popular name the young-name rules compare with at all: a four-letter one only as a
/// whole word or by one edit (`hulp` for `gulp`).
const MIN_YOUNG_WORD: usize = 4;

/// The broad rules for names the registry says are new, compared with every unscoped popular
/// name (`keys`: separator key, name): what `classify` leaves to names alone is asked here on
/// separator keys, so a changed separator no longer hides an edit (`boby_parser`, `web3-eht`,
/// `reactbootstraps`); then a popular name's words in another order (`nmap-python`,
/// `libhtml5`), a popular name with words added (`plain-crypto-js`, `is-buffer-validator`,
/// `cschalk`), and two edits on a long name (`uglyfi-js`). The first letter must match for the
/// edit rules (people rarely mistype it). On an established name most of these are ordinary
/// naming (plugins are named after their host), so only young names meet them. Returns the
/// most telling match: by rule, then the popular name closest in length.
pub(super) fn young_rule(
    candidate: &str,
    keys: &[(String, String)],
    hosts: &HashSet<String>,
    common_words: &HashSet<String>,
) -> Option<(String, Rule)> {
    let key = separator_key(candidate);
    if key.len() < 4 || !key.is_ascii() {
        return None;
    }
    let mut tokens: Vec<&str> = candidate
        .split(is_separator)
        .filter(|t| !t.is_empty())
        .collect();
    // Where each word starts and ends in `key`.
    let mut bounds = Vec::with_capacity(tokens.len());
    let mut at = 0;
    for t in &tokens {
        bounds.push((at, at + t.len()));
        at += t.len();
    }
    let raw_tokens: Vec<String> = tokens.iter().map(|t| t.to_ascii_lowercase()).collect();
    // Which word lengths occur (bit n: a word of n letters), to skip most comparisons cheaply.
    let token_lens: u64 = raw_tokens
        .iter()
        .filter(|t| t.len() < 64)
        .fold(0, |m, t| m | 1 << t.len());
    tokens.sort_unstable();
    let ending = last_word(candidate);
    let letters = histogram(&key);
    let mut best: Option<(u8, usize, &str, Rule)> = None;
    for (target_key, target) in keys {
        let (lt, lk) = (target_key.len(), key.len());
        if lt < MIN_YOUNG_WORD || *target_key == key {
            continue;
        }
        // A four-letter popular name counts only as a whole word with a digit in it (`js-web3.prc`)
        // or a version number appended (`pytz3-dev`); plain short words (`util`, `core`) are how
        // everybody names things (`legit-util`).
        if lt < MIN_YOUNG_TARGET {
            let word = |t: &&str| {
                t.strip_prefix(target_key.as_str()).is_some_and(|rest| {
                    rest.len() <= 2
                        && rest.bytes().all(|b| b.is_ascii_digit())
                        && t.bytes().any(|b| b.is_ascii_digit())
                })
            };
            // ... or, when popular names do not use it as an ordinary word, as the first word:
            // the brand a package is named after (`viem-core`, `pino-sdk-v2`; not `type-xyz`).
            let first = raw_tokens.len() >= 2
                && raw_tokens[0] == *target_key
                && !common_words.contains(target_key);
            if lk > lt
                && tokens.len() >= 2
                && (first || tokens.iter().any(word))
                && !target.contains(is_separator)
                && !hosts.contains(target_key)
            {
                best = best.or(Some((2, lt, target, Rule::WordsAdded)));
            }
            if lt.abs_diff(lk) > 1 {
                continue;
            }
        }
        let found = if lt.abs_diff(lk) <= 1 {
            // An edit in the first letter is rarely a typo but a deliberate look-alike
            // (`4equest`, `eact`, `hulp`): on a very young name it counts, as a broad rule.
            single_edit(&key, target_key).map(|e| {
                if e.at > 0 && lt >= MIN_YOUNG_TARGET {
                    (0, e.rule)
                } else {
                    (1, Rule::FirstLetter)
                }
            })
        } else {
            None
        }
        .or_else(|| {
            (lt == lk && lt >= MIN_YOUNG_TARGET && letter_moved(&key, target_key))
                .then_some((1, Rule::LetterMoved))
        })
        .or_else(|| {
            (lt.abs_diff(lk) <= 1
                && letters_close(&letters, target_key)
                && reordered(candidate, &tokens, target, target_key))
            .then_some((1, Rule::Reordered))
        })
        .or_else(|| {
            let (stem, end) = ending.as_ref()?;
            (target_key.starts_with(stem.as_str()) && ending_swapped(stem, end, target))
                .then_some((3, Rule::EndingSwapped))
        })
        .or_else(|| {
            (lk > lt && words_added(&key, &bounds, target_key) && !hosts.contains(target_key))
                .then_some((2, Rule::WordsAdded))
        })
        .or_else(|| {
            // Words added to a popular name's core, its `js` ending dropped (`discord-selfbot-v14`
            // for `discord.js`).
            let core = core_of(target, target_key)?;
            (lk > core.len()
                && !hosts.contains(core)
                && !hosts.contains(target_key)
                && words_added(&key, &bounds, core))
            .then_some((2, Rule::WordsAdded))
        })
        .or_else(|| {
            // Words added to a mistyped popular name (`matplitlib-terminal`), or to the
            // mistyped core of a `*.js` one (`happy-dlscord.js`). Ranked after a popular name
            // present whole, which names the target better (`express-mongo-limit` is `express`
            // with words added, not `expresso`).
            let word = if target.contains(is_separator) {
                core_of(target, target_key)?
            } else {
                target_key.as_str()
            };
            let lw = word.len();
            (lw >= 6
                && lk > lw + 1
                && raw_tokens.len() >= 2
                && (lw - 1..=lw + 1).any(|l| l < 64 && token_lens & (1 << l) != 0)
                && raw_tokens.iter().any(|t| {
                    t.len().abs_diff(lw) <= 1 && single_edit(t, word).is_some_and(|e| e.at > 0)
                })
                && !hosts.contains(word)
                && !hosts.contains(target_key))
            .then_some((3, Rule::WordsAdded))
        })
        .or_else(|| {
            // The popular name cut short (`reque` for `requests`).
            (lk >= 5 && lt > lk && lt - lk <= 3 && target_key.starts_with(key.as_str()))
                .then_some((3, Rule::Truncated))
        })
        .or_else(|| {
            (lt >= 7
                && lt.abs_diff(lk) <= 2
                && key.as_bytes()[0] == target_key.as_bytes()[0]
                && within_two_edits(key.as_bytes(), target_key.as_bytes()))
            .then_some((3, Rule::TwoEdits))
        });
        if let Some((rank, rule)) = found {
            // Most telling rule first, then the popular name closest in length.
            let better = match &best {
                None => true,
                Some((r, l, _, _)) => rank < *r || (rank == *r && lt.abs_diff(lk) < l.abs_diff(lk)),
            };
            if better {
                best = Some((rank, lt, target, rule));
            }
        }
    }
    best.map(|(_, _, target, rule)| (target.to_owned(), rule))
}

/// The popular scoped package whose bare name (`bare_keys`: separator key, scoped name) `candidate`
/// is one edit from, the first letter kept (`claud-code`, `cloude-code` for
/// `@anthropic-ai/claude-code`).
pub(super) fn bare_edited<'a>(
    candidate: &str,
    bare_keys: &'a [(String, String)],
) -> Option<&'a str> {
    let key = separator_key(candidate);
    bare_keys
        .iter()
        .filter(|(k, _)| k.len().abs_diff(key.len()) <= 1)
        .find(|(k, _)| single_edit(&key, k).is_some_and(|e| e.at > 0))
        .map(|(_, scoped)| scoped.as_str())
}

/// A popular JavaScript name's core without its `js` word (`discord` for `discord.js`, as a
/// separator key), when six letters or more are left; `target_key` is `target`'s separator key.
/// (A name merely ending in the letters, `react_ujs`, has no such core; a PyPI `py` prefix leaves
/// an ordinary word more often than a brand: `pymodbus`, `pytrends`; measured on the PyPI sample.)
fn core_of<'a>(target: &str, target_key: &'a str) -> Option<&'a str> {
    let lower = target.to_ascii_lowercase();
    if ![".js", "-js", "_js"].iter().any(|e| lower.ends_with(e)) {
        return None;
    }
    let core = target_key.strip_suffix("js")?;
    (core.len() >= 6).then_some(core)
}

/// Whether `target_key` occurs in `key` as whole words (`plain-crypto-js`, `is-buffer-validator`),
/// a long one at the start or end of one word (`coloramapkgs`, `readmecolorama`), or inside one word with at
/// most three letters attached (`cschalk`, `achalk-next`); a match across words or deep inside
/// one (`investor-agent` holds `storage`, `subprocess` holds `proces`) is chance. `bounds`: each
/// word's (start, end) in `key`.
fn words_added(key: &str, bounds: &[(usize, usize)], target_key: &str) -> bool {
    key.match_indices(target_key).any(|(s, _)| {
        let e = s + target_key.len();
        let aligned = bounds.iter().any(|b| b.0 == s) && bounds.iter().any(|b| b.1 == e);
        // At a word's edge only a long name (eight letters: `colorama`, `bitcoinlib`) is telling;
        // shorter ones end ordinary compounds (`placement` holds `cement`).
        let edge = target_key.len() >= 8;
        let inside = bounds.iter().any(|&(ws, we)| {
            ws <= s && e <= we && ((edge && (ws == s || we == e)) || (we - ws) - (e - s) <= 3)
        });
        aligned || inside
    })
}

/// How often each byte occurs in `key`.
fn histogram(key: &str) -> [u8; 256] {
    let mut h = [0u8; 256];
    for b in key.bytes() {
        h[usize::from(b)] = h[usize::from(b)].saturating_add(1);
    }
    h
}

/// Whether `target_key`'s letters are `letters` give or take one edit (an L1 distance of at most
/// two): a cheap test before the reordering rule allocates.
fn letters_close(letters: &[u8; 256], target_key: &str) -> bool {
    let mut h = *letters;
    let mut extra = 0usize;
    for b in target_key.bytes() {
        let c = &mut h[usize::from(b)];
        if *c > 0 {
            *c -= 1;
        } else {
            extra += 1;
            if extra > 2 {
                return false;
            }
        }
    }
    extra + h.iter().map(|&c| usize::from(c)).sum::<usize>() <= 2
}

/// A name's words but the last (as a separator key) and its last word, lowercase.
fn last_word(name: &str) -> Option<(String, String)> {
    let i = name.rfind(is_separator)?;
    Some((
        separator_key(&name[..i]),
        name[i + 1..].to_ascii_lowercase(),
    ))
}

/// Whether a candidate made of `stem` and the short last word `end` (four letters at most) is
/// `target` with its own short last word replaced (`discord.dll`, `discord.app` for
/// `discord.js`), the rest (four letters at least) unchanged.
fn ending_swapped(stem: &str, end: &str, target: &str) -> bool {
    let Some((their_stem, their_end)) = last_word(target) else {
        return false;
    };
    stem == their_stem
        && stem.len() >= 4
        && end != their_end
        && (1..=4).contains(&end.len())
        && (1..=4).contains(&their_end.len())
}

/// Whether `candidate` (its words sorted: `tokens`) is `target` with its words in another order
/// (one of them maybe mistyped on a long name), or, without separators, a rotation of it
/// (`libhtml5` for `html5lib`).
fn reordered(candidate: &str, tokens: &[&str], target: &str, target_key: &str) -> bool {
    if !target.contains(is_separator) {
        let key = separator_key(candidate);
        return key.len() >= 6
            && key.len() == target_key.len()
            && format!("{target_key}{target_key}").contains(&key);
    }
    let mut theirs: Vec<&str> = target
        .split(is_separator)
        .filter(|t| !t.is_empty())
        .collect();
    theirs.sort_unstable();
    if theirs.len() < 2 || tokens.len() != theirs.len() {
        return false;
    }
    // The same words in another order, one of them maybe mistyped (`progerss-cli`).
    let (ours, theirs) = (tokens.concat(), theirs.concat());
    ours == theirs || (ours.len() >= 8 && single_edit(&ours, &theirs).is_some())
}

/// Whether the optimal string alignment distance between `a` and `b` is at most two (each of a
/// character added, removed, changed, or two neighbours swapped, counts one).
fn within_two_edits(a: &[u8], b: &[u8]) -> bool {
    const MAX: usize = 2;
    if a.len().abs_diff(b.len()) > MAX {
        return false;
    }
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        let mut row_min = usize::MAX;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
            row_min = row_min.min(v);
        }
        if row_min > MAX {
            return false;
        }
    }
    d[n][m] <= MAX
}

/// Affixes that, on a name the registry says is new, pass it off as a variant of a popular
/// package: npm `-npm`/`npm-`, `-lite`, a plural `s`; PyPI's bare `py`/`python` prefixes,
/// `-lite`, a plural `s`. On established names they are ordinary naming (`pykdtree`, `colors`).
pub(super) fn young_affixes(eco: Ecosystem) -> (&'static [&'static str], &'static [&'static str]) {
    match eco {
        Ecosystem::Npm => (&["npm-", "node"], &["-npm", "-lite", "s"]),
        Ecosystem::Pypi => (&["py", "python"], &["-lite", "s"]),
    }
}

/// A single edit between two names.
struct Edit {
    rule: Rule,
    /// Length of the word of the target (its run between separators) where the edit falls.
    word_len: usize,
    /// Position where the edit starts.
    at: usize,
    /// Whether the characters changed, added or removed are all digits.
    digits: bool,
}

fn lowercase(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// The differing middles of two names once their common start and end are removed, comparing
/// case-insensitively and treating all separators alike (so `jeIlyfish` vs `jellyfish` → `l`, `I`).
fn difference(expected: &str, seen: &str) -> (String, String) {
    let a: Vec<char> = expected.chars().collect();
    let b: Vec<char> = seen.chars().collect();
    let same = |x: char, y: char| {
        x.eq_ignore_ascii_case(&y) && x != 'I' && y != 'I'
            || x == y
            || is_separator(x) && is_separator(y)
    };
    let prefix = a.iter().zip(&b).take_while(|(x, y)| same(**x, **y)).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| same(**x, **y))
        .count();
    (
        a[prefix..a.len() - suffix].iter().collect(),
        b[prefix..b.len() - suffix].iter().collect(),
    )
}

/// A platform affix added or swapped, or version digits dropped. A platform affix *removed* is not
/// a rule: the bare name is usually another real package (`fetch`/`node-fetch`,
/// `sprintf`/`sprintf-js`, `socks`/`python-socks` on the held-out names), and no recorded
/// typosquat took that form.
fn affix(eco: Ecosystem, c: &str, t: &str) -> Option<Rule> {
    let (prefixes, suffixes) = affixes(eco);
    let stem_ok = |stem: &str| stem.len() >= MIN_AFFIX_STEM;
    for p in prefixes {
        if c.strip_prefix(p)
            .is_some_and(|rest| rest == t && stem_ok(t))
        {
            return Some(Rule::AffixAdded((*p).to_owned()));
        }
    }
    for s in suffixes {
        if c.strip_suffix(s)
            .is_some_and(|rest| rest == t && stem_ok(t))
        {
            return Some(Rule::AffixAdded((*s).to_owned()));
        }
    }
    // Version digits dropped (`urllib` for `urllib3`). Digits added are not a rule: forks and
    // majors are named that way (`angular2`, `pypdf3`, `django-mptt2`), and on the held-out names
    // that rule flagged legitimate packages only.
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(d) = t.strip_prefix(c).filter(|d| digits(d) && stem_ok(c)) {
        return Some(Rule::AffixRemoved(d.to_owned()));
    }
    for seen in prefixes {
        let Some(stem) = c.strip_prefix(seen).filter(|s| stem_ok(s)) else {
            continue;
        };
        if let Some(expected) = prefixes.iter().find(|e| t.strip_prefix(**e) == Some(stem)) {
            return Some(Rule::AffixReplaced {
                seen: (*seen).to_owned(),
                expected: (*expected).to_owned(),
            });
        }
    }
    for seen in suffixes {
        let Some(stem) = c.strip_suffix(seen).filter(|s| stem_ok(s)) else {
            continue;
        };
        if let Some(expected) = suffixes.iter().find(|e| t.strip_suffix(**e) == Some(stem)) {
            return Some(Rule::AffixReplaced {
                seen: (*seen).to_owned(),
                expected: (*expected).to_owned(),
            });
        }
    }
    None
}

/// One character removed, added or changed, or two neighbours swapped (Damerau distance 1).
fn single_edit(c: &str, t: &str) -> Option<Edit> {
    if c.is_ascii() && t.is_ascii() {
        edit_in(c.as_bytes(), t.as_bytes(), char::from)
    } else {
        let a: Vec<char> = c.chars().collect();
        let b: Vec<char> = t.chars().collect();
        edit_in(&a, &b, |ch| ch)
    }
}

/// Where `a` and `b` differ: the length of their shared start, and what each has between it and
/// their shared end.
fn differing<'a, T: PartialEq>(a: &'a [T], b: &'a [T]) -> (usize, &'a [T], &'a [T]) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (
        prefix,
        &a[prefix..a.len() - suffix],
        &b[prefix..b.len() - suffix],
    )
}

fn edit_in<T: Copy + PartialEq>(a: &[T], b: &[T], char_of: impl Fn(T) -> char) -> Option<Edit> {
    let (prefix, da, db) = differing(a, b);
    let rule = match (da.len(), db.len()) {
        (0, 1) => Rule::CharRemoved,
        (1, 0) => Rule::CharAdded,
        (1, 1) => Rule::CharChanged,
        (2, 2) if da[0] == db[1] && da[1] == db[0] => Rule::Transposed,
        _ => return None,
    };
    Some(Edit {
        rule,
        word_len: word_len(b, prefix, |x| is_separator(char_of(x))),
        at: prefix,
        digits: da.iter().chain(db).all(|&x| char_of(x).is_ascii_digit()),
    })
}

/// Whether `c` is `t` with one letter moved to another place, the first letter kept: what differs
/// between them, past their shared start and end, is the same letters rotated by one (`rceat` for
/// `react`, `degbu` for `debug`; two letters swapped side by side is [`Rule::Transposed`]).
fn letter_moved(c: &str, t: &str) -> bool {
    let (a, b) = (c.as_bytes(), t.as_bytes());
    if a.len() != b.len() || a.is_empty() || a[0] != b[0] {
        return false;
    }
    let (_, da, db) = differing(a, b);
    let n = da.len();
    n >= 3
        && ((da[0] == db[n - 1] && da[1..] == db[..n - 1])
            || (da[n - 1] == db[0] && da[..n - 1] == db[1..]))
}

/// Length of the separator-delimited word of `name` at (or, at a separator or the end, just
/// before) position `at`.
fn word_len<T: Copy>(name: &[T], at: usize, sep: impl Fn(T) -> bool) -> usize {
    let mut at = at.min(name.len().saturating_sub(1));
    if at > 0 && name.get(at).is_some_and(|&x| sep(x)) {
        at -= 1;
    }
    let start = name[..at]
        .iter()
        .rposition(|&x| sep(x))
        .map_or(0, |i| i + 1);
    let end = name[at..]
        .iter()
        .position(|&x| sep(x))
        .map_or(name.len(), |i| at + i);
    end - start
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPM: Ecosystem = Ecosystem::Npm;
    const PYPI: Ecosystem = Ecosystem::Pypi;

    fn popular(eco: Ecosystem, candidate: &str, target: &str) -> Option<Rule> {
        classify(
            eco,
            candidate,
            &normalize(eco, candidate),
            target,
            Against::Popular,
        )
    }

    #[test]
    fn pep503_normalisation() {
        assert_eq!(normalize(PYPI, "Python_Dateutil"), "python-dateutil");
        assert_eq!(normalize(PYPI, " zope.interface "), "zope-interface");
        assert_eq!(normalize(PYPI, "a-_.-b"), "a-b");
        assert_eq!(normalize(NPM, "JSONStream"), "JSONStream");
    }

    #[test]
    fn separator_games() {
        // crossenv (npm, 2017 "crossenv malware" wave); setup-tools (PyPI, PSRT incident 2017-09).
        assert_eq!(
            popular(NPM, "crossenv", "cross-env"),
            Some(Rule::SeparatorChanged)
        );
        assert_eq!(
            popular(NPM, "babelcli", "babel-cli"),
            Some(Rule::SeparatorChanged)
        );
        assert_eq!(
            popular(PYPI, "setup-tools", "setuptools"),
            Some(Rule::SeparatorChanged)
        );
        assert_eq!(
            popular(NPM, "discord-js", "discord.js"),
            Some(Rule::SeparatorChanged)
        );
    }

    #[test]
    fn homoglyphs_report_what_was_swapped() {
        // jeIlyfish (capital i): PyPI, December 2019, dateutil issue #984.
        assert_eq!(
            popular(PYPI, "jeIlyfish", "jellyfish"),
            Some(Rule::Homoglyph {
                expected: "l".into(),
                seen: "I".into()
            })
        );
        // 1odash is the seed's own example.
        assert_eq!(
            popular(NPM, "1odash", "lodash"),
            Some(Rule::Homoglyph {
                expected: "l".into(),
                seen: "1".into()
            })
        );
        assert_eq!(
            popular(NPM, "rnoment", "moment"),
            Some(Rule::Homoglyph {
                expected: "m".into(),
                seen: "rn".into()
            })
        );
        assert_eq!(
            popular(NPM, "vvebpack", "webpack"),
            Some(Rule::Homoglyph {
                expected: "w".into(),
                seen: "vv".into()
            })
        );
        assert_eq!(
            popular(PYPI, "b0to3", "boto3"),
            Some(Rule::Homoglyph {
                expected: "o".into(),
                seen: "0".into()
            })
        );
        assert_eq!(
            Rule::Homoglyph {
                expected: "l".into(),
                seen: "1".into()
            }
            .to_string(),
            "homoglyph (l/1)"
        );
    }

    #[test]
    fn affixes_added_removed_and_swapped() {
        // mysqljs, nodemailer.js, mssql-node, jquery.js: npm crossenv wave, 2017.
        assert_eq!(
            popular(NPM, "mysqljs", "mysql"),
            Some(Rule::AffixAdded("js".into()))
        );
        assert_eq!(
            popular(NPM, "nodemailer.js", "nodemailer"),
            Some(Rule::AffixAdded(".js".into()))
        );
        assert_eq!(
            popular(NPM, "mssql-node", "mssql"),
            Some(Rule::AffixAdded("-node".into()))
        );
        assert_eq!(
            popular(NPM, "d3.js", "d3"),
            Some(Rule::AffixAdded(".js".into()))
        );
        assert_eq!(
            popular(NPM, "fetch", "node-fetch"),
            None // the bare name is usually another package
        );
        // python3-dateutil: PyPI, December 2019.
        assert_eq!(
            popular(PYPI, "python3-dateutil", "python-dateutil"),
            Some(Rule::AffixReplaced {
                seen: "python3-".into(),
                expected: "python-".into()
            })
        );
        // Digits added are how forks and majors are named, not a rule.
        assert_eq!(popular(PYPI, "requests3", "requests"), None);
        assert_eq!(popular(PYPI, "django-mptt2", "django-mptt"), None);
        // A bare `py` prefix is PyPI's naming habit; with a separator it is a platform claim.
        assert_eq!(popular(PYPI, "pykdtree", "kdtree"), None);
        assert_eq!(
            popular(PYPI, "py-bcrypt", "bcrypt"),
            Some(Rule::AffixAdded("py-".into()))
        );
        assert_eq!(
            popular(PYPI, "boto", "boto3"),
            Some(Rule::AffixRemoved("3".into()))
        );
        assert_eq!(
            Rule::AffixAdded("-js".into()).to_string(),
            "affix -js added"
        );
    }

    #[test]
    fn a_moved_letter_is_a_rotation_of_what_differs() {
        assert!(letter_moved("rceat", "react"));
        assert!(letter_moved("degbu", "debug"));
        assert!(letter_moved("requireports", "requiresport"));
        // Two letters swapped side by side is a transposition, not this rule; the first letter
        // stays; the same letters in another order are not one move.
        assert!(!letter_moved("raect", "react"));
        assert!(!letter_moved("eract", "react"));
        assert!(!letter_moved("rtaec", "react"));
        assert!(!letter_moved("react", "react"));
        assert!(!letter_moved("reacts", "react"));
    }

    #[test]
    fn single_edits_on_long_enough_names() {
        // reqeusts, urlib3, djanga, colourama: PyPI incidents 2017-2019; electorn, jquerry: npm.
        assert_eq!(
            popular(PYPI, "reqeusts", "requests"),
            Some(Rule::Transposed)
        );
        assert_eq!(popular(NPM, "electorn", "electron"), Some(Rule::Transposed));
        assert_eq!(popular(PYPI, "urlib3", "urllib3"), Some(Rule::CharRemoved));
        assert_eq!(popular(NPM, "jquerry", "jquery"), Some(Rule::CharAdded));
        assert_eq!(
            popular(PYPI, "colourama", "colorama"),
            Some(Rule::CharAdded)
        );
        assert_eq!(popular(PYPI, "djanga", "django"), Some(Rule::CharChanged));
        assert_eq!(popular(NPM, "loadsh", "lodash"), Some(Rule::Transposed));
        // axois: OSSF MAL-2025-15245. Transpositions count from five letters, other edits from six.
        assert_eq!(popular(NPM, "axois", "axios"), Some(Rule::Transposed));
        assert_eq!(popular(NPM, "axio", "axios"), None);
        assert_eq!(popular(PYPI, "tdqm", "tqdm"), None);
        // The length that counts is the word's: families vary in short words.
        assert_eq!(popular(PYPI, "django-cap", "django-csp"), None);
        assert_eq!(popular(PYPI, "google-cloud-iap", "google-cloud-iam"), None);
        assert_eq!(
            popular(PYPI, "django-extension", "django-extensions"),
            Some(Rule::CharRemoved)
        );
        assert_eq!(
            popular(NPM, "discordi.js", "discord.js"),
            Some(Rule::CharAdded)
        );
    }

    #[test]
    fn short_names_and_unrelated_names_do_not_match() {
        // Five letters and below: one edit apart is normal for unrelated packages.
        assert_eq!(popular(NPM, "chai", "chalk"), None);
        assert_eq!(popular(PYPI, "numba", "numpy"), None);
        assert_eq!(popular(NPM, "preact", "react"), None);
        assert_eq!(popular(NPM, "ioredis", "redis"), None);
        assert_eq!(popular(PYPI, "requests", "requests"), None);
        assert_eq!(popular(PYPI, "reqeusts-oauth", "requests"), None);
        // The first letter is rarely mistyped: a name differing there is another package.
        assert_eq!(popular(NPM, "ghooks", "ahooks"), None);
        assert_eq!(popular(NPM, "mimer", "immer"), None);
        assert_eq!(popular(PYPI, "pinject", "inject"), None);
        assert_eq!(
            classify(NPM, "xpayments", "xpayments", "payments", Against::Internal),
            Some(Rule::CharAdded)
        );
        // Two edits are not one.
        assert_eq!(popular(NPM, "lodahss", "lodash"), None);
        // The internal threshold is lower than the popular one.
        assert_eq!(
            classify(NPM, "myorgs", "myorgs", "myorg", Against::Internal),
            Some(Rule::CharAdded)
        );
    }

    #[test]
    fn case_only_differences() {
        assert_eq!(
            popular(NPM, "jsonstream", "JSONStream"),
            Some(Rule::CaseChanged)
        );
    }

    #[test]
    fn affix_variants_reach_the_imitated_name() {
        let variants = |eco, name| -> Vec<String> {
            affix_variants(eco, name)
                .iter()
                .map(|parts| parts.concat())
                .collect()
        };
        assert!(variants(PYPI, "python3-dateutil").contains(&"python-dateutil".to_owned()));
        assert!(variants(NPM, "mssql-js").contains(&"mssql-node".to_owned()));
        assert!(variants(NPM, "mysqljs").contains(&"mysql".to_owned()));
        assert!(!variants(NPM, "d3.js").contains(&"d".to_owned()));
    }

    #[test]
    fn word_length_around_an_edit() {
        let len = |s: &str, at| word_len(&s.chars().collect::<Vec<_>>(), at, is_separator);
        assert_eq!(len("django-csp", 8), 3);
        assert_eq!(len("django-csp", 6), 6); // at the separator: the word before
        assert_eq!(len("django-csp", 10), 3); // at the end: the last word
        assert_eq!(len("requests", 0), 8);
        assert_eq!(len("", 0), 0);
    }

    #[test]
    fn skeletons() {
        assert_eq!(skeleton(PYPI, " Jea_-.rn1VVI "), "jea-mlwl");
        assert_eq!(skeleton(NPM, "vvv-rnrn"), "wv-mm");
        assert_eq!(skeleton(PYPI, "r-n"), "r-n");
    }

    #[test]
    fn non_ascii_names_compare_by_character() {
        assert_eq!(
            single_edit("ĺodash", "lodash").map(|e| e.rule),
            Some(Rule::CharChanged)
        );
    }

    #[test]
    fn deletions_cover_every_position() {
        let all: Vec<String> = deletions("abc").map(|(a, b)| format!("{a}{b}")).collect();
        assert_eq!(all, ["bc", "ac", "ab"]);
    }
}
