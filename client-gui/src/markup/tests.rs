use super::*;

/// The spans of one line of text, written out: plain text as it is,
/// others as `[tags:text]` (b bold, i italic, c code, l link).
fn spans(text: &str) -> String {
    written(text, &inline(text, 0..text.len()))
}

fn written(text: &str, spans: &[Span]) -> String {
    let mut out = String::new();
    for s in spans {
        let mut tags = String::new();
        for (on, t) in [
            (s.style.bold, 'b'),
            (s.style.italic, 'i'),
            (s.style.code, 'c'),
            (s.link.is_some(), 'l'),
        ] {
            if on {
                tags.push(t);
            }
        }
        let t = &text[s.range.clone()];
        if tags.is_empty() {
            out.push_str(t);
        } else {
            out.push_str(&format!("[{tags}:{t}]"));
        }
    }
    out
}

/// The blocks of `text`, written out: text blocks as [`written`], code
/// blocks as `{code}`, one per line.
fn blocks(text: &str) -> Vec<String> {
    parse(text)
        .iter()
        .map(|b| match b {
            Block::Text(s) => written(text, s),
            Block::Code(r) => format!("{{{}}}", &text[r.clone()]),
        })
        .collect()
}

#[test]
fn bold_italic_and_code() {
    assert_eq!(
        spans("a *bold* and _italic_ and `code` word"),
        "a [b:bold] and [i:italic] and [c:code] word"
    );
    assert_eq!(spans("**bold** too"), "[b:bold] too");
    assert_eq!(spans("*two words*"), "[b:two words]");
    assert_eq!(spans("(*bold*), _it_!"), "([b:bold]), [i:it]!");
}

#[test]
fn markers_inside_words_or_beside_spaces_are_text() {
    for text in [
        "snake_case_name",
        "2*3*4",
        "a * b * c",
        "* not bold *",
        "*not closed",
        "x*y* z",
        "_a_b",
        "__init__",
        "it's `` empty",
        "**",
        "a ** b",
        "price: 5*",
    ] {
        assert_eq!(spans(text), text, "{text:?} is plain");
    }
    assert_eq!(spans("_snake_case_name_"), "[i:snake_case_name]");
    assert_eq!(spans("my_var and _it_"), "my_var and [i:it]");
}

#[test]
fn markers_pair_within_a_line() {
    assert_eq!(spans("*a\nb*"), "*a\nb*");
    assert_eq!(spans("*a*\n_b_"), "[b:a]\n[i:b]");
}

#[test]
fn bold_and_italic_nest_code_holds_only_text() {
    assert_eq!(spans("*bold _both_ bold*"), "[b:bold ][bi:both][b: bold]");
    assert_eq!(spans("_*both*_"), "[bi:both]");
    assert_eq!(spans("`*not bold* _x_`"), "[c:*not bold* _x_]");
    assert_eq!(spans("*use `a*b` now*"), "[b:use ][bc:a*b][b: now]");
    assert_eq!(
        spans("*a *b* c*"),
        "[b:a *b] c*",
        "no bold in bold: the first closer wins"
    );
}

#[test]
fn links_in_text_and_in_formatting() {
    assert_eq!(
        spans("see https://example.org/a_b_c."),
        "see [l:https://example.org/a_b_c]."
    );
    assert_eq!(
        spans("_see https://x.org/a_b_"),
        "[i:see ][il:https://x.org/a_b]"
    );
    assert_eq!(spans("*www.x.org*"), "[bl:www.x.org]");
    assert_eq!(
        spans("`https://x.org` is code"),
        "[c:https://x.org] is code"
    );
    // Markers inside a link are part of it.
    assert_eq!(
        spans("https://x.org/_a_/*b*/c ok"),
        "[l:https://x.org/_a_/*b*/c] ok"
    );
    let s = inline("go www.x.org", 0.."go www.x.org".len());
    assert_eq!(s[1].link.as_deref(), Some("https://www.x.org"));
}

#[test]
fn fenced_code_is_a_block_of_its_own() {
    assert_eq!(
        blocks("look:\n```\nfn main() {\n    *x* = 1;\n}\n```\nthat's *it*"),
        ["look:", "{fn main() {\n    *x* = 1;\n}}", "that's [b:it]"]
    );
    assert_eq!(blocks("```ls -l```"), ["{ls -l}"]);
    assert_eq!(
        blocks("```rust\nlet x = 1;\n```"),
        ["{let x = 1;}"],
        "a language name is not code"
    );
    assert_eq!(
        blocks("```\nrust\n```"),
        ["{rust}"],
        "a word alone is the code"
    );
    assert_eq!(blocks("a ```b``` c"), ["a ", "{b}", " c"]);
    assert_eq!(blocks("```a```\n```b```"), ["{a}", "{b}"]);
    assert_eq!(blocks("one ``` fence"), ["one ``` fence"]);
    assert_eq!(blocks("`````` empty"), ["`````` empty"]);
    assert_eq!(
        blocks("crlf:\r\n```\r\nx\r\n```\r\nend"),
        ["crlf:", "{x}", "end"]
    );
}

#[test]
fn plain_text_is_one_span_and_nothing_is_lost() {
    assert_eq!(
        inline("line 15 plain", 0..13),
        [Span {
            range: 0..13,
            style: Style::default(),
            link: None
        }]
    );
    // Every byte is in a span or is a marker read as one.
    let text = "a *b* _c_ `d` https://e.org ```f``` g";
    let mut kept = String::new();
    for b in parse(text) {
        match b {
            Block::Text(s) => s.iter().for_each(|s| kept.push_str(&text[s.range.clone()])),
            Block::Code(r) => kept.push_str(&text[r]),
        }
    }
    assert_eq!(kept, "a b c d https://e.org f g");
}
