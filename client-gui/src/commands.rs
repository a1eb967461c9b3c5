//! What the user typed in the message box: a chat line or a command.

use cove_common::{InvalidInput, MessageText, RoomName, Username};

/// A parsed input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Send this text to the current conversation.
    Say(MessageText),
    /// `#exit`: leave the chat and close the app.
    Exit,
    /// `/join room`.
    Join(RoomName),
    /// `/leave` (the current room) or `/leave room`.
    Leave(Option<RoomName>),
    /// `/msg user text`: a direct message.
    Msg(Username, MessageText),
    /// `/help`.
    Help,
}

/// Why an input line was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A command missing its argument.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// An unknown `/command`.
    #[error("unknown command {0}; type /help for the list")]
    Unknown(String),
    /// A name or text breaking the rules.
    #[error("{0}")]
    Invalid(#[from] InvalidInput),
}

/// The help text shown for `/help`.
pub const HELP: &str = "Commands: /join room · /leave [room] · /msg user text · /help · #exit leaves the chat. Enter sends, Shift+Enter adds a line.";

/// Parses one input line.
pub fn parse(line: &str) -> Result<Input, InputError> {
    let trimmed = line.trim();
    if trimmed == "#exit" {
        return Ok(Input::Exit);
    }
    let Some(rest) = trimmed.strip_prefix('/') else {
        return Ok(Input::Say(MessageText::new(line.trim_end())?));
    };
    let (cmd, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let args = args.trim();
    match cmd {
        "join" | "j" => {
            if args.is_empty() {
                return Err(InputError::Usage("/join room"));
            }
            Ok(Input::Join(RoomName::new(args)?))
        }
        "leave" | "part" => {
            if args.is_empty() {
                Ok(Input::Leave(None))
            } else {
                Ok(Input::Leave(Some(RoomName::new(args)?)))
            }
        }
        "msg" | "m" => {
            let (user, text) = args
                .split_once(char::is_whitespace)
                .ok_or(InputError::Usage("/msg user text"))?;
            Ok(Input::Msg(
                Username::new(user)?,
                MessageText::new(text.trim())?,
            ))
        }
        "help" | "?" => Ok(Input::Help),
        other => Err(InputError::Unknown(format!("/{other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_lines_and_commands() {
        assert_eq!(parse("#exit").unwrap(), Input::Exit);
        assert_eq!(parse("  #exit ").unwrap(), Input::Exit);
        assert_eq!(
            parse("hello\nworld").unwrap(),
            Input::Say(MessageText::new("hello\nworld").unwrap())
        );
        assert_eq!(
            parse("/join rust").unwrap(),
            Input::Join(RoomName::new("rust").unwrap())
        );
        assert_eq!(parse("/leave").unwrap(), Input::Leave(None));
        assert_eq!(
            parse("/msg bob see you at 5").unwrap(),
            Input::Msg(
                Username::new("bob").unwrap(),
                MessageText::new("see you at 5").unwrap()
            )
        );
        assert_eq!(parse("/help").unwrap(), Input::Help);
    }

    #[test]
    fn bad_commands_say_why() {
        assert_eq!(parse("/join").unwrap_err(), InputError::Usage("/join room"));
        assert_eq!(
            parse("/msg bob").unwrap_err(),
            InputError::Usage("/msg user text")
        );
        assert!(matches!(parse("/dance").unwrap_err(), InputError::Unknown(c) if c == "/dance"));
        assert!(matches!(
            parse("/join ../x").unwrap_err(),
            InputError::Invalid(InvalidInput::NameCharacter { .. })
        ));
        assert!(matches!(
            parse("   ").unwrap_err(),
            InputError::Invalid(InvalidInput::TextEmpty)
        ));
    }
}
