//! A tiny backtracking matcher for the Region patterns in botocore's partition
//! table (`^(us|eu|ap)\-\w+\-\d+$` and the like), with Python `re.match`
//! semantics: anchored at the start, `$` also before a final newline.
//!
//! Supported: literals, `\` escapes (`\w`, `\d`, `\s`, escaped punctuation),
//! `.`, `^`, `$`, groups `(...)` / `(?:...)` with `|`, and the greedy
//! quantifiers `*`, `+`, `?`. Anything else makes [`Pattern::compile`] return
//! `None` (the caller then falls back to the partition's explicit Region list;
//! the SDK-generated test table catches any resulting difference).

#[derive(Debug)]
enum Atom {
    Literal(char),
    Any,
    Word,
    Digit,
    Space,
    Start,
    End,
    Group(Vec<Vec<Piece>>),
}

#[derive(Debug)]
struct Piece {
    atom: Atom,
    min: u32,
    max: Option<u32>,
}

#[derive(Debug)]
pub(super) struct Pattern(Vec<Piece>);

impl Pattern {
    pub(super) fn compile(src: &str) -> Option<Pattern> {
        let chars: Vec<char> = src.chars().collect();
        let mut pos = 0;
        let mut alts = parse_alternatives(&chars, &mut pos, false)?;
        if alts.len() == 1 {
            alts.pop().map(Pattern)
        } else {
            Some(Pattern(vec![Piece {
                atom: Atom::Group(alts),
                min: 1,
                max: Some(1),
            }]))
        }
    }

    /// Whether the pattern matches at the start of `text` (Python `re.match`).
    pub(super) fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        match_seq(&self.0, &chars, 0, &|_| true)
    }
}

fn parse_alternatives(chars: &[char], pos: &mut usize, in_group: bool) -> Option<Vec<Vec<Piece>>> {
    let mut alts: Vec<Vec<Piece>> = vec![Vec::new()];
    loop {
        let Some(&c) = chars.get(*pos) else {
            // An unclosed group is a syntax error.
            return if in_group { None } else { Some(alts) };
        };
        *pos += 1;
        let atom = match c {
            ')' if in_group => return Some(alts),
            ')' => return None,
            '|' => {
                alts.push(Vec::new());
                continue;
            }
            '*' | '+' | '?' => {
                let piece = alts.last_mut()?.last_mut()?;
                if piece.min != 1
                    || piece.max != Some(1)
                    || matches!(piece.atom, Atom::Start | Atom::End)
                {
                    return None; // lazy/possessive quantifiers, quantified anchors
                }
                (piece.min, piece.max) = match c {
                    '*' => (0, None),
                    '+' => (1, None),
                    _ => (0, Some(1)),
                };
                continue;
            }
            '(' => {
                if chars.get(*pos) == Some(&'?') {
                    if chars.get(*pos + 1) != Some(&':') {
                        return None; // named groups, lookarounds, flags
                    }
                    *pos += 2;
                }
                Atom::Group(parse_alternatives(chars, pos, true)?)
            }
            '\\' => {
                let e = *chars.get(*pos)?;
                *pos += 1;
                match e {
                    'w' => Atom::Word,
                    'd' => Atom::Digit,
                    's' => Atom::Space,
                    e if e.is_ascii_alphanumeric() => return None, // \b, \A, \1, ...
                    e => Atom::Literal(e),
                }
            }
            '^' => Atom::Start,
            '$' => Atom::End,
            '.' => Atom::Any,
            '[' | ']' | '{' | '}' => return None,
            c => Atom::Literal(c),
        };
        alts.last_mut()?.push(Piece {
            atom,
            min: 1,
            max: Some(1),
        });
    }
}

fn match_seq(seq: &[Piece], s: &[char], i: usize, k: &dyn Fn(usize) -> bool) -> bool {
    match seq.split_first() {
        None => k(i),
        Some((piece, rest)) => match_piece(piece, 0, s, i, &|j| match_seq(rest, s, j, k)),
    }
}

/// Greedy repetition of `piece`, `count` times matched so far.
fn match_piece(piece: &Piece, count: u32, s: &[char], i: usize, k: &dyn Fn(usize) -> bool) -> bool {
    if piece.max.is_none_or(|max| count < max) {
        let more = |j: usize| {
            if j == i {
                // An empty match cannot make progress: stop repeating.
                count + 1 >= piece.min && k(j)
            } else {
                match_piece(piece, count + 1, s, j, k)
            }
        };
        if match_atom(&piece.atom, s, i, &more) {
            return true;
        }
    }
    count >= piece.min && k(i)
}

fn match_atom(atom: &Atom, s: &[char], i: usize, k: &dyn Fn(usize) -> bool) -> bool {
    let next = s.get(i).copied();
    let one = |pred: &dyn Fn(char) -> bool| next.is_some_and(pred) && k(i + 1);
    match atom {
        Atom::Literal(c) => one(&|n| n == *c),
        Atom::Any => one(&|n| n != '\n'),
        // Python's str patterns are Unicode-aware.
        Atom::Word => one(&|n| n.is_alphanumeric() || n == '_'),
        Atom::Digit => one(&|n| n.is_numeric()),
        Atom::Space => one(&|n| n.is_whitespace()),
        Atom::Start => i == 0 && k(i),
        Atom::End => (i == s.len() || (i + 1 == s.len() && s[i] == '\n')) && k(i),
        Atom::Group(alts) => alts.iter().any(|alt| match_seq(alt, s, i, k)),
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::compile(pattern)
            .expect("pattern compiles")
            .matches(text)
    }

    #[test]
    fn botocore_region_patterns() {
        let aws = r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$";
        assert!(m(aws, "us-east-1"));
        assert!(m(aws, "me-west-1"));
        assert!(m(aws, "ap-southeast-7"));
        assert!(m(aws, "us-east-1\n"));
        assert!(!m(aws, "us-gov-west-1"));
        assert!(!m(aws, "us-iso-east-1"));
        assert!(!m(aws, "cn-north-1"));
        assert!(!m(aws, "us-east-1 "));
        assert!(!m(aws, "xus-east-1"));
        assert!(m(r"^us\-gov\-\w+\-\d+$", "us-gov-west-1"));
        assert!(m(r"^eusc\-(de)\-\w+\-\d+$", "eusc-de-east-1"));
        assert!(m(r"^us\-isob\-\w+\-\d+$", "us-isob-east-1"));
        assert!(!m(r"^us\-isob\-\w+\-\d+$", "us-iso-east-1"));
    }

    #[test]
    fn quantifiers_alternation_and_prefix_match() {
        assert!(m("a(?:b|cd)*e?", "acdbbx"));
        assert!(m("ab", "abc"), "re.match only anchors at the start");
        assert!(!m("ab$", "abc"));
        assert!(m("(a|ab)c", "abc"), "backtracks into the group");
        assert!(m("x*y", "y"));
        assert!(!m("x+y", "y"));
        assert!(m("a.c", "abc"));
    }

    #[test]
    fn rejects_unsupported_syntax() {
        for p in ["[a-z]+", "a{2}", "(?P<x>a)", r"\bfoo", "a+?", "(a", "a)"] {
            assert!(Pattern::compile(p).is_none(), "{p}");
        }
    }
}
