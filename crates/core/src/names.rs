//! Azure's naming rules for IoT hubs and device (or module) identities, and the names of the
//! policies every new hub starts with.
//!
//! The rules are checked locally so that a user learns what is wrong while typing, before any
//! request reaches Azure. The sandbox enforces the same rules through these same functions.

use std::fmt;

/// The shared access policies Azure gives every new hub, with their rights as ARM lists them.
pub const DEFAULT_HUB_POLICIES: [(&str, &str); 5] = [
    (
        "iothubowner",
        "RegistryWrite, ServiceConnect, DeviceConnect",
    ),
    ("service", "ServiceConnect"),
    ("device", "DeviceConnect"),
    ("registryRead", "RegistryRead"),
    ("registryReadWrite", "RegistryWrite"),
];

/// The longest device or module ID Azure accepts.
pub const MAX_IDENTITY_LEN: usize = 128;
/// The characters Azure accepts in device and module IDs besides ASCII letters and digits.
pub const IDENTITY_PUNCTUATION: &str = "-.%_*?!(),:=@$'";
/// Hub names are 3 to 50 characters long.
pub const HUB_NAME_LEN: std::ops::RangeInclusive<usize> = 3..=50;

/// What is wrong with a name; the caller says which name it was (see [`NameKind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    TooShort {
        len: usize,
        min: usize,
    },
    TooLong {
        len: usize,
        max: usize,
    },
    /// `position` counts characters from 1, as a person would.
    InvalidChar {
        ch: char,
        position: usize,
    },
    StartsWithHyphen,
    EndsWithHyphen,
}

/// Which kind of name a [`NameProblem`] is about, so messages can say what is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Hub,
    Device,
    Module,
}

impl NameKind {
    fn label(self) -> &'static str {
        match self {
            NameKind::Hub => "hub name",
            NameKind::Device => "device ID",
            NameKind::Module => "module ID",
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            NameKind::Hub => "letters, digits and hyphens",
            NameKind::Device | NameKind::Module => {
                "letters, digits and the characters - . % _ * ? ! ( ) , : = @ $ '"
            }
        }
    }
}

/// A [`NameProblem`] together with the kind of name, which is what people read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    pub kind: NameKind,
    pub problem: NameProblem,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.kind.label();
        match &self.problem {
            NameProblem::Empty => write!(f, "The {label} is empty; enter one."),
            NameProblem::TooShort { len, min } => {
                write!(f, "The {label} has {len} characters; it needs at least {min}.")
            }
            NameProblem::TooLong { len, max } => {
                write!(f, "The {label} has {len} characters; Azure allows at most {max}. Shorten it.")
            }
            NameProblem::InvalidChar { ch, position } => write!(
                f,
                "The {label} contains {} at position {position}, which Azure does not allow. Use only {}.",
                describe_char(*ch),
                self.kind.allowed()
            ),
            NameProblem::StartsWithHyphen => {
                write!(f, "The {label} starts with a hyphen; it must start with a letter or digit.")
            }
            NameProblem::EndsWithHyphen => {
                write!(f, "The {label} ends with a hyphen; it must end with a letter or digit.")
            }
        }
    }
}

impl std::error::Error for NameError {}

/// Names a character so that invisible ones (spaces, tabs) are visible in a message.
fn describe_char(ch: char) -> String {
    match ch {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c if !c.is_ascii() => format!("'{c}' (U+{:04X}, not plain ASCII)", c as u32),
        c => format!("'{c}'"),
    }
}

/// Checks a device ID: case-sensitive, at most 128 ASCII letters, digits and
/// `- . % _ * ? ! ( ) , : = @ $ '`.
pub fn check_device_id(id: &str) -> Result<(), NameError> {
    check_identity(id, NameKind::Device)
}

/// Checks a module ID; the rules are those of device IDs.
pub fn check_module_id(id: &str) -> Result<(), NameError> {
    check_identity(id, NameKind::Module)
}

fn check_identity(id: &str, kind: NameKind) -> Result<(), NameError> {
    let fail = |problem| Err(NameError { kind, problem });
    if id.is_empty() {
        return fail(NameProblem::Empty);
    }
    if let Some((index, ch)) = id
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || IDENTITY_PUNCTUATION.contains(*c)))
    {
        return fail(NameProblem::InvalidChar {
            ch,
            position: index + 1,
        });
    }
    if id.len() > MAX_IDENTITY_LEN {
        return fail(NameProblem::TooLong {
            len: id.len(),
            max: MAX_IDENTITY_LEN,
        });
    }
    Ok(())
}

/// Checks a hub name: 3 to 50 ASCII letters, digits and hyphens, not starting or ending with
/// a hyphen (it is the first label of the hub's DNS name).
pub fn check_hub_name(name: &str) -> Result<(), NameError> {
    let fail = |problem| {
        Err(NameError {
            kind: NameKind::Hub,
            problem,
        })
    };
    if name.is_empty() {
        return fail(NameProblem::Empty);
    }
    if let Some((index, ch)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return fail(NameProblem::InvalidChar {
            ch,
            position: index + 1,
        });
    }
    let len = name.len();
    if len < *HUB_NAME_LEN.start() {
        return fail(NameProblem::TooShort {
            len,
            min: *HUB_NAME_LEN.start(),
        });
    }
    if len > *HUB_NAME_LEN.end() {
        return fail(NameProblem::TooLong {
            len,
            max: *HUB_NAME_LEN.end(),
        });
    }
    if name.starts_with('-') {
        return fail(NameProblem::StartsWithHyphen);
    }
    if name.ends_with('-') {
        return fail(NameProblem::EndsWithHyphen);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_type_in_dot_notation_is_a_valid_device_id() {
        assert_eq!(
            check_device_id("io.microshare.contact.unpacked.event"),
            Ok(())
        );
        assert_eq!(check_device_id("a-b.c%d_e*f?g!h(i)j,k:l=m@n$o'p"), Ok(()));
    }

    #[test]
    fn device_id_rejects_plus_and_hash_with_position() {
        let err = check_device_id("sensor+1").unwrap_err();
        assert_eq!(
            err.problem,
            NameProblem::InvalidChar {
                ch: '+',
                position: 7
            }
        );
        assert_eq!(
            err.to_string(),
            "The device ID contains '+' at position 7, which Azure does not allow. Use only \
             letters, digits and the characters - . % _ * ? ! ( ) , : = @ $ '."
        );
        assert!(check_device_id("room#2").is_err());
    }

    #[test]
    fn device_id_length_limit_is_128() {
        assert_eq!(check_device_id(&"a".repeat(128)), Ok(()));
        assert_eq!(
            check_device_id(&"a".repeat(129)).unwrap_err().to_string(),
            "The device ID has 129 characters; Azure allows at most 128. Shorten it."
        );
    }

    #[test]
    fn invisible_characters_are_named() {
        assert_eq!(
            check_module_id("my module").unwrap_err().to_string(),
            "The module ID contains a space at position 3, which Azure does not allow. Use only \
             letters, digits and the characters - . % _ * ? ! ( ) , : = @ $ '."
        );
        let err = check_device_id("caf\u{e9}").unwrap_err();
        assert!(
            err.to_string()
                .contains("'\u{e9}' (U+00E9, not plain ASCII)"),
            "{err}"
        );
    }

    #[test]
    fn hub_name_rules() {
        assert_eq!(check_hub_name("my-hub-01"), Ok(()));
        assert_eq!(check_hub_name("abc"), Ok(()));
        assert_eq!(check_hub_name(&"h".repeat(50)), Ok(()));
        let problem = |n: &str| check_hub_name(n).unwrap_err().problem;
        assert_eq!(problem(""), NameProblem::Empty);
        assert_eq!(problem("ab"), NameProblem::TooShort { len: 2, min: 3 });
        assert_eq!(
            problem(&"h".repeat(51)),
            NameProblem::TooLong { len: 51, max: 50 }
        );
        assert_eq!(
            problem("my_hub"),
            NameProblem::InvalidChar {
                ch: '_',
                position: 3
            }
        );
        assert_eq!(problem("-hub"), NameProblem::StartsWithHyphen);
        assert_eq!(problem("hub-"), NameProblem::EndsWithHyphen);
        assert_eq!(
            check_hub_name("hub-").unwrap_err().to_string(),
            "The hub name ends with a hyphen; it must end with a letter or digit."
        );
    }
}
