//! The light markup of message text, as chat apps read it: `*bold*` (or
//! `**bold**`), `_italic_`, `` `code` `` within a line, blocks of code
//! between ```` ``` ```` fences, and links ([`links`]). Parsing only: what it
//! looks like is the UI's business.
//!
//! A marker opens at the start of a word and closes at the end of one
//! (the character before an opening marker is no letter or digit, the one
//! after it no space; the reverse for the closing one), within one line,
//! so `snake_case_name`, `2*3*4` and `a * b` stay as typed. Bold and
//! italic may hold each other, code and links; code holds nothing but its
//! text; links may sit in bold or italic text. Markers never count inside
//! a link. The text shown is the text typed minus the markers that were
//! read as such.

pub mod links;

use std::ops::Range;

pub use links::Link;

/// How a stretch of text is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Between `*`s (or `**`s).
    pub bold: bool,
    /// Between `_`s.
    pub italic: bool,
    /// Between backticks: in a monospace font, as typed.
    pub code: bool,
}

/// A stretch of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Its bytes in the message's text.
    pub range: Range<usize>,
    /// Its style.
    pub style: Style,
    /// The address it opens, if it is a link.
    pub link: Option<String>,
}

/// A block of a message: text, or code on a block of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Text, as spans in order.
    Text(Vec<Span>),
    /// The bytes of a fenced block of code (without its fences, the line
    /// breaks next to them, or a language name after the opening fence).
    Code(Range<usize>),
}

/// What opens and closes a block of code.
const FENCE: &str = "```";

/// A message's text as blocks: fenced code, and the text around it.
pub fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    // The start of the text not in a block yet, and where to look for the
    // next fence.
    let (mut at, mut from) = (0, 0);
    while let Some(open) = text[from..].find(FENCE).map(|i| i + from) {
        let body = open + FENCE.len();
        let Some(close) = text[body..].find(FENCE).map(|i| i + body) else {
            break;
        };
        let code = code_body(text, body..close);
        if text[code.clone()].trim().is_empty() {
            // Nothing between the fences: they are text.
            from = close + FENCE.len();
            continue;
        }
        push_text(
            text,
            at..without_newline_at_end(text, at..open),
            &mut blocks,
        );
        blocks.push(Block::Code(code));
        at = after_newline(text, close + FENCE.len());
        from = at;
    }
    push_text(text, at..text.len(), &mut blocks);
    blocks
}

/// The end of `range` without one line break at its end.
fn without_newline_at_end(text: &str, range: Range<usize>) -> usize {
    let s = &text[range.clone()];
    let kept = s
        .strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .unwrap_or(s);
    range.start + kept.len()
}

/// `at`, past one line break if one starts there.
fn after_newline(text: &str, at: usize) -> usize {
    let s = &text[at..];
    let rest = s
        .strip_prefix("\r\n")
        .or_else(|| s.strip_prefix('\n'))
        .unwrap_or(s);
    at + (s.len() - rest.len())
}

/// The code between two fences: without a language name alone on the
/// fence's line (```` ```rust ````), nor the line breaks next to the
/// fences.
fn code_body(text: &str, range: Range<usize>) -> Range<usize> {
    let mut start = range.start;
    let s = &text[range.clone()];
    if let Some(nl) = s.find('\n') {
        let first = s[..nl].trim_end_matches('\r');
        let named = !first.is_empty()
            && first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_' | '.'));
        if named && !s[nl + 1..].trim().is_empty() {
            start += nl;
        }
    }
    let start = after_newline(text, start);
    start..without_newline_at_end(text, start..range.end).max(start)
}

/// Adds the text block of `range`, unless it is only blank.
fn push_text(text: &str, range: Range<usize>, blocks: &mut Vec<Block>) {
    if !text[range.clone()].trim().is_empty() {
        blocks.push(Block::Text(inline(text, range)));
    }
}

/// The spans of the text in `range` (bold, italic, code, links).
pub fn inline(text: &str, range: Range<usize>) -> Vec<Span> {
    let links = links::find(&text[range.clone()])
        .into_iter()
        .map(|l| Link {
            range: l.range.start + range.start..l.range.end + range.start,
            url: l.url,
        })
        .collect();
    let mut p = Inline {
        text,
        links,
        spans: Vec::new(),
    };
    // Markers pair within a line.
    let mut start = range.start;
    for line in text[range].split_inclusive('\n') {
        let end = start + line.len();
        p.run(start..end, Style::default());
        start = end;
    }
    p.spans
}

/// What a marker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bold,
    Italic,
    Code,
}

/// The inline parser of one text block.
struct Inline<'a> {
    text: &'a str,
    links: Vec<Link>,
    spans: Vec<Span>,
}

impl Inline<'_> {
    /// The link that starts at byte `at`, if any.
    fn link_at(&self, at: usize) -> Option<&Link> {
        self.links.iter().find(|l| l.range.start == at)
    }

    fn before(&self, at: usize) -> Option<char> {
        self.text[..at].chars().next_back()
    }

    fn after(&self, at: usize) -> Option<char> {
        self.text[at..].chars().next()
    }

    /// The marker at `at` if it may open a stretch in `style`: its length
    /// and what it does.
    fn opener(&self, at: usize, style: Style) -> Option<(usize, Kind)> {
        let c = self.after(at)?;
        let (len, kind) = match c {
            '*' if self.text[at..].starts_with("**") => (2, Kind::Bold),
            '*' => (1, Kind::Bold),
            '_' => (1, Kind::Italic),
            '`' => (1, Kind::Code),
            _ => return None,
        };
        let nested = match kind {
            Kind::Bold => style.bold,
            Kind::Italic => style.italic,
            Kind::Code => style.code,
        };
        let word_start = self
            .before(at)
            .is_none_or(|p| !p.is_alphanumeric() && p != c);
        let next = self.after(at + len);
        let starts_word = next.is_some_and(|n| !n.is_whitespace() && n != c);
        (!nested && word_start && starts_word).then_some((len, kind))
    }

    /// Where the marker `c` (`len` times) opened before `from` closes,
    /// before `end`: at the end of a word, not inside a link.
    fn closer(&self, from: usize, end: usize, c: char, len: usize) -> Option<usize> {
        let mut at = from;
        while at < end {
            if let Some(l) = self.link_at(at) {
                at = l.range.end;
                continue;
            }
            let ch = self.after(at)?;
            if ch == c
                && at > from
                && at + len <= end
                && self.text[at..at + len].chars().all(|x| x == c)
                && self
                    .before(at)
                    .is_some_and(|p| !p.is_whitespace() && p != c)
                && self
                    .after(at + len)
                    .is_none_or(|n| !n.is_alphanumeric() && n != c)
            {
                return Some(at);
            }
            at += ch.len_utf8();
        }
        None
    }

    /// The spans of `range`, shown in `style` unless marked otherwise.
    fn run(&mut self, range: Range<usize>, style: Style) {
        let mut at = range.start;
        let mut plain = at;
        while at < range.end {
            if let Some(l) = self.link_at(at) {
                at = l.range.end;
                continue;
            }
            let Some(c) = self.after(at) else {
                break;
            };
            if let Some((len, kind)) = self.opener(at, style)
                && let Some(close) = self.closer(at + len, range.end, c, len)
            {
                self.plain(plain..at, style);
                let inner = at + len..close;
                match kind {
                    Kind::Code => self.spans.push(Span {
                        range: inner,
                        style: Style {
                            code: true,
                            ..style
                        },
                        link: None,
                    }),
                    Kind::Bold => self.run(
                        inner,
                        Style {
                            bold: true,
                            ..style
                        },
                    ),
                    Kind::Italic => self.run(
                        inner,
                        Style {
                            italic: true,
                            ..style
                        },
                    ),
                }
                at = close + len;
                plain = at;
                continue;
            }
            at += c.len_utf8();
        }
        self.plain(plain..range.end, style);
    }

    /// `range` in `style`, its links as links.
    fn plain(&mut self, range: Range<usize>, style: Style) {
        let mut at = range.start;
        let inside: Vec<Link> = self
            .links
            .iter()
            .filter(|l| l.range.start >= range.start && l.range.end <= range.end)
            .cloned()
            .collect();
        for l in inside {
            self.push(at..l.range.start, style, None);
            self.push(l.range.clone(), style, Some(l.url));
            at = l.range.end;
        }
        self.push(at..range.end, style, None);
    }

    fn push(&mut self, range: Range<usize>, style: Style, link: Option<String>) {
        if range.is_empty() {
            return;
        }
        // Runs of plain text in one style make one span.
        if link.is_none()
            && let Some(last) = self.spans.last_mut()
            && last.link.is_none()
            && last.style == style
            && last.range.end == range.start
        {
            last.range.end = range.end;
            return;
        }
        self.spans.push(Span { range, style, link });
    }
}

#[cfg(test)]
mod tests;
