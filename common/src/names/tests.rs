use super::*;

#[test]
fn usernames_follow_the_rules() {
    for ok in ["bob", "alice_1", "A.b-c", &"x".repeat(32)] {
        assert!(Username::new(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        Username::new("ab").unwrap_err(),
        InvalidInput::NameLength { got: 2 }
    );
    assert_eq!(
        Username::new("x".repeat(33)).unwrap_err(),
        InvalidInput::NameLength { got: 33 }
    );
    assert_eq!(
        Username::new("../x").unwrap_err(),
        InvalidInput::NameCharacter { found: '/' }
    );
    assert_eq!(
        Username::new("...").unwrap_err(),
        InvalidInput::NameLeadingDot
    );
    assert_eq!(
        Username::new("bob smith").unwrap_err(),
        InvalidInput::NameCharacter { found: ' ' }
    );
    assert_eq!(
        Username::new("zoë").unwrap_err(),
        InvalidInput::NameCharacter { found: 'ë' }
    );
}

#[test]
fn names_compare_ignoring_case() {
    let a = Username::new("Alice").unwrap();
    let b = Username::new("aLICE").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.key(), "alice");
    assert_eq!(a.as_str(), "Alice");
    let set: std::collections::HashSet<_> = [a, b].into_iter().collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn serde_validates() {
    let err = serde_json::from_str::<Username>("\"../etc\"").unwrap_err();
    assert!(err.to_string().contains("letters, digits"), "{err}");
    let u: Username = serde_json::from_str("\"carol\"").unwrap();
    assert_eq!(u.as_str(), "carol");
}

#[test]
fn message_text_rules() {
    assert!(MessageText::new("hi\nthere\tfriend").is_ok());
    assert_eq!(MessageText::new("  ").unwrap_err(), InvalidInput::TextEmpty);
    assert_eq!(
        MessageText::new("a\u{7}b").unwrap_err(),
        InvalidInput::TextControl { code: 7 }
    );
    assert!(MessageText::new("é".repeat(4000)).is_ok());
    assert_eq!(
        MessageText::new("é".repeat(4001)).unwrap_err(),
        InvalidInput::TextLength { got: 4001 }
    );
}

#[test]
fn a_message_must_show_something_and_cannot_reorder_itself() {
    for blank in [
        "\u{200B}",
        "\u{200B}\u{200D} \u{FEFF}",
        "\u{3164}\n\u{FE0F}",
    ] {
        assert_eq!(
            MessageText::new(blank).unwrap_err(),
            InvalidInput::TextEmpty,
            "{blank:?}"
        );
    }
    // Invisible characters among visible ones are fine (emoji sequences
    // use joiners and variation selectors).
    assert!(MessageText::new("👩\u{200D}💻 \u{2764}\u{FE0F}").is_ok());
    assert!(MessageText::new("שלום \u{200F}123").is_ok());
    assert_eq!(
        MessageText::new("pay \u{202E}gnp.exe").unwrap_err(),
        InvalidInput::TextBidiControl { code: 0x202E }
    );
    assert_eq!(
        MessageText::new("x \u{2067}y\u{2069}").unwrap_err(),
        InvalidInput::TextBidiControl { code: 0x2067 }
    );
}

#[test]
fn password_rules_and_redaction() {
    assert_eq!(
        Password::new("short").unwrap_err(),
        InvalidInput::PasswordLength { got: 5 }
    );
    assert!(Password::new("x".repeat(1024)).is_ok());
    assert!(Password::new("x".repeat(1025)).is_err());
    let p = Password::new("hunter2hunter2").unwrap();
    assert!(!format!("{p:?}").contains("hunter"));
}

#[test]
fn client_ids() {
    assert!(ClientMsgId::new("c-1").is_ok());
    assert!(ClientMsgId::new("").is_err());
    assert!(ClientMsgId::new("a b").is_err());
    assert!(ClientMsgId::new("x".repeat(65)).is_err());
}

#[test]
fn search_text_is_bounded_and_matches_ignoring_case() {
    assert!(SearchText::new("x".repeat(SEARCH_TEXT_MAX_CHARS)).is_ok());
    for bad in [
        "",
        "  ",
        "\u{200b}",
        "a\nb",
        &"x".repeat(SEARCH_TEXT_MAX_CHARS + 1),
    ] {
        assert_eq!(SearchText::new(bad).unwrap_err(), InvalidInput::SearchText);
    }
    let m = SearchText::new("ZOË").unwrap().matcher();
    assert!(m.matches("ask zoë about it"));
    assert!(!m.matches("ask zoe about it"));
    assert_eq!(m.find("ask Zoë about it"), Some(4..8));
    assert_eq!(m.find("nothing"), None);
    // Lowering changes lengths: the range is in the original text.
    let m = SearchText::new("i̇x").unwrap().matcher();
    assert_eq!(m.find("aİx"), Some(1..4));
}

#[test]
fn cursors_are_short_printable_ascii() {
    assert!(HistoryCursor::new("0000000000001a2b00000003").is_ok());
    assert!(HistoryCursor::new("x".repeat(HISTORY_CURSOR_MAX_LEN)).is_ok());
    for bad in ["", "a b", "é", &"x".repeat(HISTORY_CURSOR_MAX_LEN + 1)] {
        assert_eq!(HistoryCursor::new(bad).unwrap_err(), InvalidInput::Cursor);
    }
}
