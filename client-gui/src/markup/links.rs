//! Links in message text: `http://` and `https://` addresses, and bare
//! `www.` hosts (opened as `https://`), as a reader would delimit them: a
//! link starts at the beginning of a word and ends at a space, and
//! punctuation that ends the sentence around it (`.`, `,`, `!`, `?`, a
//! closing bracket with no opening one in the link…) is not part of it.
//!
//! The text shown is always the address opened: no other text can stand
//! for a link.

use std::ops::Range;

/// A link found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its bytes in the text.
    pub range: Range<usize>,
    /// The address to open (`https://` put in front of a bare `www.`).
    pub url: String,
}

/// How a link may start, in lower case; `true` when the scheme is given.
const STARTS: [(&str, bool); 3] = [("https://", true), ("http://", true), ("www.", false)];

/// Characters that end a link: spaces, and what usually brackets one.
fn ends_link(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`')
}

/// Characters that end a sentence (or a formatted stretch of it) rather
/// than the link they follow.
fn trailing(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | ':'
            | ';'
            | '!'
            | '?'
            | '\''
            | '*'
            | '_'
            | '~'
            | '»'
            | '”'
            | '’'
            | '…'
            | '。'
            | '、'
    )
}

/// Whether a link may start right after `prev`: at the start of a word
/// (so not in `mail@www.example.org` or `xhttp://`).
fn may_start_after(prev: Option<char>) -> bool {
    prev.is_none_or(|c| !c.is_alphanumeric() && !matches!(c, '@' | '.' | '/' | ':' | '-' | '_'))
}

/// The end of the link that starts at `start`, after dropping trailing
/// punctuation and closing brackets with no opening one in the link.
fn trimmed_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let mut end = start + rest.find(ends_link).unwrap_or(rest.len());
    loop {
        let link = &text[start..end];
        let Some(last) = link.chars().next_back() else {
            return end;
        };
        let unbalanced = |open: char, close: char| {
            last == close && link.matches(close).count() > link.matches(open).count()
        };
        if trailing(last) || unbalanced('(', ')') || unbalanced('[', ']') {
            end -= last.len_utf8();
        } else {
            return end;
        }
    }
}

/// The link starting at byte `at`, if one does.
fn link_at(text: &str, at: usize) -> Option<Link> {
    let rest = &text[at..];
    for (start, scheme) in STARTS {
        let Some(head) = rest.get(..start.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(start) {
            continue;
        }
        let end = trimmed_end(text, at);
        // Something must follow: "https://" alone, or "www." ending a
        // sentence (its dot trimmed, so shorter than "www."), is no link.
        let host = text.get(at + start.len()..end)?;
        let named = if scheme {
            host.chars().any(char::is_alphanumeric)
        } else {
            host.chars().next().is_some_and(char::is_alphanumeric)
        };
        if !named {
            return None;
        }
        let shown = &text[at..end];
        let url = if scheme {
            shown.to_owned()
        } else {
            format!("https://{shown}")
        };
        return Some(Link {
            range: at..end,
            url,
        });
    }
    None
}

/// Every link of `text`, in order.
pub fn find(text: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut prev = None;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        if matches!(c, 'h' | 'H' | 'w' | 'W')
            && may_start_after(prev)
            && let Some(link) = link_at(text, at)
        {
            // On after the link.
            at = link.range.end;
            prev = text[..at].chars().next_back();
            links.push(link);
            continue;
        }
        prev = Some(c);
        at += c.len_utf8();
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The links of `text` as (shown, opened).
    fn links(text: &str) -> Vec<(&str, String)> {
        find(text)
            .into_iter()
            .map(|l| (&text[l.range], l.url))
            .collect()
    }

    fn one(text: &str) -> String {
        let found = links(text);
        assert_eq!(found.len(), 1, "{text:?}: {found:?}");
        found[0].0.to_owned()
    }

    #[test]
    fn finds_http_https_and_www() {
        assert_eq!(
            links("see https://example.org/a?b=c#d and http://x.io"),
            [
                (
                    "https://example.org/a?b=c#d",
                    "https://example.org/a?b=c#d".into()
                ),
                ("http://x.io", "http://x.io".into())
            ]
        );
        assert_eq!(
            links("www.rust-lang.org/learn"),
            [(
                "www.rust-lang.org/learn",
                "https://www.rust-lang.org/learn".into()
            )]
        );
        assert_eq!(one("HTTPS://EXAMPLE.ORG"), "HTTPS://EXAMPLE.ORG");
        assert_eq!(one("WWW.example.org"), "WWW.example.org");
    }

    #[test]
    fn trailing_punctuation_is_not_part_of_the_link() {
        for (text, link) in [
            ("go to https://example.org.", "https://example.org"),
            ("https://example.org, then", "https://example.org"),
            ("really https://example.org/x!", "https://example.org/x"),
            ("is it www.example.org?", "www.example.org"),
            ("what?! https://a.io/b?!.", "https://a.io/b"),
            ("(see https://example.org)", "https://example.org"),
            ("(https://example.org/a).", "https://example.org/a"),
            ("“https://example.org”", "https://example.org"),
            ("<https://example.org>", "https://example.org"),
            ("*https://example.org*", "https://example.org"),
            ("`https://example.org`", "https://example.org"),
        ] {
            assert_eq!(one(text), link, "in {text:?}");
        }
    }

    #[test]
    fn balanced_brackets_and_inner_punctuation_stay() {
        assert_eq!(
            one("https://en.wikipedia.org/wiki/Rust_(programming_language)"),
            "https://en.wikipedia.org/wiki/Rust_(programming_language)"
        );
        assert_eq!(
            one("(https://en.wikipedia.org/wiki/Rust_(language))"),
            "https://en.wikipedia.org/wiki/Rust_(language)"
        );
        assert_eq!(
            one("https://example.org/a.b,c;d/e?x=1&y=2"),
            "https://example.org/a.b,c;d/e?x=1&y=2"
        );
        assert_eq!(one("https://example.org/a_b_"), "https://example.org/a_b");
        assert_eq!(one("http://[::1]:8080/x"), "http://[::1]:8080/x");
    }

    #[test]
    fn not_links() {
        for text in [
            "https://",
            "https:// example.org",
            "www.",
            "www..",
            "www!",
            "https://.",
            "the www. prefix",
            "mail@www.example.org",
            "xhttps://example.org",
            "a.www.example.org",
            "ftp://example.org",
            "http:/example.org",
            "wwwexample.org",
        ] {
            assert_eq!(links(text), [], "in {text:?}");
        }
    }

    #[test]
    fn several_links_and_multibyte_text_around_them() {
        let text = "é https://a.io/ü → www.b.org, «https://c.org»";
        assert_eq!(
            links(text),
            [
                ("https://a.io/ü", "https://a.io/ü".into()),
                ("www.b.org", "https://www.b.org".into()),
                ("https://c.org", "https://c.org".into()),
            ]
        );
        assert_eq!(
            links("https://a.io/https://b.io"),
            [(
                "https://a.io/https://b.io",
                "https://a.io/https://b.io".into()
            )],
            "one link, not two"
        );
    }
}
