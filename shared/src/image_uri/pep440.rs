//! Just enough of PEP 440 (as implemented by Python's `packaging.version`) to
//! compare two framework versions: the SDK uses it to pick the newest version
//! of a config when no version is given.

use std::cmp::Ordering;

/// `NegInf < Val(_) < Inf`, like packaging's infinity sentinels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    NegInf,
    Val(T),
    Inf,
}

/// One segment of a local version label: numbers sort above words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Word(String),
    Number(u128),
}

/// The comparison key of a parsed version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Version {
    epoch: u128,
    release: Vec<u128>,
    pre: Bound<(String, u128)>,
    post: Bound<u128>,
    dev: Bound<u128>,
    local: Bound<Vec<LocalPart>>,
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn number(&mut self) -> Option<u128> {
        let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n = self.rest()[..digits].parse().ok()?;
        self.pos += digits;
        Some(n)
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn eat_separator(&mut self) -> bool {
        self.eat("-") || self.eat("_") || self.eat(".")
    }

    /// An optional separator, one of `labels`, an optional separator and an
    /// optional number; the cursor is left untouched when no label follows.
    fn labelled(&mut self, labels: &[&str]) -> Option<(String, Option<u128>)> {
        let start = self.pos;
        self.eat_separator();
        let Some(label) = labels.iter().find(|l| self.rest().starts_with(**l)) else {
            self.pos = start;
            return None;
        };
        self.pos += label.len();
        // packaging takes the separator after a label even without a number.
        self.eat_separator();
        Some((label.to_string(), self.number()))
    }
}

impl Version {
    /// Parses like `packaging.version.Version(text)`; `None` where it would
    /// raise `InvalidVersion`.
    pub(super) fn parse(text: &str) -> Option<Version> {
        let lower = text.trim().to_ascii_lowercase();
        let mut c = Cursor { s: &lower, pos: 0 };
        c.eat("v");

        let mut epoch = 0;
        let first = c.number()?;
        let mut release = vec![first];
        if c.eat("!") {
            epoch = first;
            release = vec![c.number()?];
        }
        loop {
            let save = c.pos;
            if !c.eat(".") {
                break;
            }
            match c.number() {
                Some(n) => release.push(n),
                None => {
                    c.pos = save;
                    break;
                }
            }
        }

        // Longest spellings first, so "preview" is not read as "pre" + "view".
        let pre = c
            .labelled(&["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"])
            .map(|(label, n)| {
                let label = match label.as_str() {
                    "alpha" | "a" => "a",
                    "beta" | "b" => "b",
                    _ => "rc",
                };
                (label.to_string(), n.unwrap_or(0))
            });

        let save = c.pos;
        let post = if c.eat("-") {
            match c.number() {
                Some(n) => Some(n),
                None => {
                    c.pos = save;
                    c.labelled(&["post", "rev", "r"])
                        .map(|(_, n)| n.unwrap_or(0))
                }
            }
        } else {
            c.labelled(&["post", "rev", "r"])
                .map(|(_, n)| n.unwrap_or(0))
        };

        let dev = c.labelled(&["dev"]).map(|(_, n)| n.unwrap_or(0));

        let local = if c.eat("+") {
            let parts: Vec<&str> = c.rest().split(['-', '_', '.']).collect();
            let valid = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric());
            if !parts.iter().all(valid) {
                return None;
            }
            c.pos = c.s.len();
            let parts = parts
                .iter()
                .map(|p| match p.parse::<u128>() {
                    Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => LocalPart::Number(n),
                    _ => LocalPart::Word(p.to_string()),
                })
                .collect();
            Some(parts)
        } else {
            None
        };

        if !c.rest().is_empty() {
            return None;
        }

        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        let pre = match (&pre, &post, &dev) {
            (None, None, Some(_)) => Bound::NegInf,
            (None, _, _) => Bound::Inf,
            (Some(p), _, _) => Bound::Val(p.clone()),
        };
        Some(Version {
            epoch,
            release,
            pre,
            post: post.map_or(Bound::NegInf, Bound::Val),
            dev: dev.map_or(Bound::Inf, Bound::Val),
            local: local.map_or(Bound::NegInf, Bound::Val),
        })
    }
}

/// `Version(a) >= Version(b)`, or `None` if either is not a valid version.
pub(super) fn greater_or_equal(a: &str, b: &str) -> Option<bool> {
    let (a, b) = (Version::parse(a)?, Version::parse(b)?);
    Some(a.cmp(&b) != Ordering::Less)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn orders_like_packaging() {
        let ordered = [
            "0.4.0",
            "0.20.0",
            "1.0.dev1",
            "1.0a1",
            "1.0b2",
            "1.0rc1",
            "1.0",
            "1.0.post1",
            "1.0-2",
            "1.0.1",
            "1.9",
            "1.9-0",
            "1.10",
            "2.0.0",
            "2.20.0",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v(" V2.1 "), v("2.1"));
        assert_eq!(v("1.0.post."), v("1.0.post0"));
        assert_eq!(v("1.0_r"), v("1.0.post0"));
        assert_eq!(v("01.02"), v("1.2"));
        assert!(v("1.0+abc") > v("1.0"));
        assert!(v("1.0+1") > v("1.0+abc"));
    }

    #[test]
    fn rejects_what_packaging_rejects() {
        for bad in [
            "",
            "latest",
            "1.x",
            "1.4-2-py312",
            "1..0",
            "1.0+",
            "abc",
            "1.0-",
            "1.0.",
            "1!",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad:?} should not parse");
        }
        assert_eq!(greater_or_equal("2.6.0", "0.4.0"), Some(true));
        assert_eq!(greater_or_equal("0.20.0", "1.9-0"), Some(false));
        assert_eq!(greater_or_equal("1", "latest"), None);
    }
}
