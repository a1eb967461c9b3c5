//! `@name` mentions in message text, found the same way by the server
//! (which decides who is mentioned) and the app (which highlights them).
//!
//! A mention is `@` followed by a valid username (see [`crate::names`]),
//! with no name character right before the `@` (so `mail@alice.org` is
//! not one) and none right after the name. Names are matched ignoring
//! ASCII case, as accounts are.

use std::ops::Range;

/// Characters a name is made of.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Every `@name` of `text`: the byte range of the whole mention (`@`
/// included) and the name. A name may end in `.` or `-` only if a name
/// character follows, so "thanks @bob." mentions `bob`.
pub fn mentions(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let bytes = text.as_bytes();
    text.match_indices('@').filter_map(move |(at, _)| {
        if at > 0 && name_char(char::from(bytes[at - 1])) && bytes[at - 1].is_ascii() {
            return None;
        }
        let start = at + 1;
        let mut end = start;
        while end < bytes.len() && bytes[end].is_ascii() && name_char(char::from(bytes[end])) {
            end += 1;
        }
        // Trailing punctuation ends a sentence, not a name.
        while end > start && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let name = &text[start..end];
        crate::names::Username::new(name).ok()?;
        Some((at..end, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &str) -> Vec<&str> {
        mentions(t).map(|(_, n)| n).collect()
    }

    #[test]
    fn finds_names_after_at_signs_and_not_inside_words() {
        assert_eq!(names("@alice hi"), ["alice"]);
        assert_eq!(names("thanks @Bob. and @carol-!"), ["Bob", "carol"]);
        assert_eq!(names("mail me at x@alice.org"), Vec::<&str>::new());
        assert_eq!(names("@al is too short, @@bob counts"), ["bob"]);
        assert_eq!(names("(@dave) «@eve»"), ["dave", "eve"]);
        assert_eq!(
            names("café@zoe"),
            ["zoe"],
            "a letter outside ASCII is not a name character"
        );
        let (range, _) = mentions("hey @bob!").next().unwrap_or((0..0, ""));
        assert_eq!(&"hey @bob!"[range], "@bob");
    }
}
