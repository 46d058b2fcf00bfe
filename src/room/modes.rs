//! Room modes as plain data: the one table of supported letters (from which ISUPPORT,
//! RPL_MYINFO, HELP and protocol.md's table derive), the parser that turns
//! `MODE #room +kl-t key 10` into a list of changes, and the room's settable state.
//!
//! Nothing here does I/O or checks permissions: [`super::Room::apply_modes`] does that.

use std::time::Duration;

/// Which parameters a mode letter takes: the CHANMODES classes, plus membership prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeClass {
    /// Type A: a list of masks; a parameter to add or remove, none to list.
    List,
    /// Type B: a parameter both to set and to unset (`k`).
    AlwaysParam,
    /// Type C: a parameter only when set (`l`).
    ParamWhenSet,
    /// Type D: a flag, never a parameter.
    Flag,
    /// A membership prefix (`o`, `v`): a nick to give or take it.
    Prefix,
}

/// One supported room mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    Ban,
    BanExcept,
    InviteExcept,
    Key,
    Limit,
    IdleKick,
    InviteOnly,
    Moderated,
    NoExternal,
    Secret,
    TopicLock,
    Op,
    Voice,
}

/// A mode letter with its class and the one-line description HELP and protocol.md show.
pub struct ModeDef {
    pub mode: Mode,
    pub letter: char,
    pub class: ModeClass,
    pub help: &'static str,
}

/// Every room mode this server supports, in the order ISUPPORT lists them.
pub const ROOM_MODES: &[ModeDef] = &[
    ModeDef {
        mode: Mode::Ban,
        letter: 'b',
        class: ModeClass::List,
        help: "+b <mask>: ban nick!user@host masks from joining and speaking",
    },
    ModeDef {
        mode: Mode::BanExcept,
        letter: 'e',
        class: ModeClass::List,
        help: "+e <mask>: exempt masks from the bans",
    },
    ModeDef {
        mode: Mode::InviteExcept,
        letter: 'I',
        class: ModeClass::List,
        help: "+I <mask>: masks that may join an invite-only (+i) room uninvited",
    },
    ModeDef {
        mode: Mode::Key,
        letter: 'k',
        class: ModeClass::AlwaysParam,
        help: "+k <key>: joining needs the key (JOIN #room key)",
    },
    ModeDef {
        mode: Mode::Limit,
        letter: 'l',
        class: ModeClass::ParamWhenSet,
        help: "+l <count>: at most this many members",
    },
    ModeDef {
        mode: Mode::IdleKick,
        letter: 'W',
        class: ModeClass::ParamWhenSet,
        help: "+W <minutes>: kick members idle this long (5, or 90s, 2h); room operators exempt",
    },
    ModeDef {
        mode: Mode::InviteOnly,
        letter: 'i',
        class: ModeClass::Flag,
        help: "+i: invite only (INVITE, or a +I mask)",
    },
    ModeDef {
        mode: Mode::Moderated,
        letter: 'm',
        class: ModeClass::Flag,
        help: "+m: moderated: only operators and voiced members speak",
    },
    ModeDef {
        mode: Mode::NoExternal,
        letter: 'n',
        class: ModeClass::Flag,
        help: "+n: no messages from outside the room (on by default)",
    },
    ModeDef {
        mode: Mode::Secret,
        letter: 's',
        class: ModeClass::Flag,
        help: "+s: secret: hidden from LIST, NAMES and WHOIS of non-members",
    },
    ModeDef {
        mode: Mode::TopicLock,
        letter: 't',
        class: ModeClass::Flag,
        help: "+t: only operators set the topic (on by default)",
    },
    ModeDef {
        mode: Mode::Op,
        letter: 'o',
        class: ModeClass::Prefix,
        help: "+o <nick>: make a member a room operator (@)",
    },
    ModeDef {
        mode: Mode::Voice,
        letter: 'v',
        class: ModeClass::Prefix,
        help: "+v <nick>: give a member voice (+), to speak in a moderated room",
    },
];

/// Most parameter-taking changes applied from one MODE line (ISUPPORT MODES).
pub const MAX_PARAM_MODES: usize = 6;
/// Most entries in each of a room's b, e and I lists (ISUPPORT MAXLIST).
pub const MAX_LIST_ENTRIES: usize = 100;
/// Longest room key, in bytes (ISUPPORT KEYLEN).
pub const MAX_KEY_BYTES: usize = 32;
/// Shortest and longest idle time `+W` accepts.
pub const IDLE_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600));

impl Mode {
    /// The table entry of this mode.
    pub fn def(self) -> &'static ModeDef {
        ROOM_MODES
            .iter()
            .find(|d| d.mode == self)
            .expect("every mode is in the table")
    }

    /// The mode's letter.
    pub fn letter(self) -> char {
        self.def().letter
    }

    fn from_letter(letter: char) -> Option<&'static ModeDef> {
        ROOM_MODES.iter().find(|d| d.letter == letter)
    }
}

fn letters(class: ModeClass) -> String {
    ROOM_MODES
        .iter()
        .filter(|d| d.class == class)
        .map(|d| d.letter)
        .collect()
}

/// ISUPPORT `CHANMODES=A,B,C,D`, generated from the table.
pub fn chanmodes_isupport() -> String {
    format!(
        "CHANMODES={},{},{},{}",
        letters(ModeClass::List),
        letters(ModeClass::AlwaysParam),
        letters(ModeClass::ParamWhenSet),
        letters(ModeClass::Flag)
    )
}

/// ISUPPORT `PREFIX=(ov)@+`.
pub fn prefix_isupport() -> &'static str {
    "PREFIX=(ov)@+"
}

/// Every room mode letter (RPL_MYINFO's channel modes).
pub fn all_letters() -> String {
    let mut all: Vec<char> = ROOM_MODES.iter().map(|d| d.letter).collect();
    all.sort_unstable();
    all.into_iter().collect()
}

/// The letters that take a parameter (RPL_MYINFO's last field).
pub fn param_letters() -> String {
    let mut all: Vec<char> = ROOM_MODES
        .iter()
        .filter(|d| d.class != ModeClass::Flag)
        .map(|d| d.letter)
        .collect();
    all.sort_unstable();
    all.into_iter().collect()
}

/// One requested change: `+k key`, `-t`, `+o bob`; a list mode without argument is a
/// request to see the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModeChange {
    pub add: bool,
    pub mode: Mode,
    pub arg: Option<String>,
}

impl ModeChange {
    /// Whether this asks for a list (`MODE #room b`) rather than changing anything.
    pub fn is_list_query(&self) -> bool {
        self.mode.def().class == ModeClass::List && self.arg.is_none()
    }
}

/// A part of a MODE line that could not become a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseIssue {
    /// ERR_UNKNOWNMODE.
    Unknown(char),
    /// A mode that needs a parameter came without one (ERR_NEEDMOREPARAMS).
    MissingParam(char),
}

/// Parses `+kl-t` and its parameters the way CHANMODES describes, keeping at most
/// [`MAX_PARAM_MODES`] changes that use a parameter (extra ones are dropped, as
/// InspIRCd does).
pub fn parse_changes(modestring: &str, args: &[String]) -> (Vec<ModeChange>, Vec<ParseIssue>) {
    let mut changes = Vec::new();
    let mut issues = Vec::new();
    let mut args = args.iter();
    let mut add = true;
    let mut with_param = 0;
    for letter in modestring.chars() {
        match letter {
            '+' => add = true,
            '-' => add = false,
            _ => {
                let Some(def) = Mode::from_letter(letter) else {
                    issues.push(ParseIssue::Unknown(letter));
                    continue;
                };
                let takes_param = match def.class {
                    ModeClass::Flag => false,
                    ModeClass::ParamWhenSet => add,
                    ModeClass::AlwaysParam if !add => false,
                    _ => true,
                };
                // An empty parameter is still a parameter (`+k :` is a bad key, not a
                // missing one); for a list it means "show the list".
                let arg = if takes_param || def.class == ModeClass::AlwaysParam {
                    args.next()
                        .filter(|a| !(a.is_empty() && def.class == ModeClass::List))
                        .cloned()
                } else {
                    None
                };
                if takes_param && arg.is_none() && def.class != ModeClass::List {
                    issues.push(ParseIssue::MissingParam(letter));
                    continue;
                }
                if arg.is_some() {
                    with_param += 1;
                    if with_param > MAX_PARAM_MODES {
                        continue;
                    }
                }
                changes.push(ModeChange {
                    add,
                    mode: def.mode,
                    arg,
                });
            }
        }
    }
    (changes, issues)
}

/// A room's settable modes other than lists and memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomModes {
    pub invite_only: bool,
    pub moderated: bool,
    pub no_external: bool,
    pub secret: bool,
    pub topic_lock: bool,
    pub key: Option<String>,
    pub limit: Option<usize>,
    pub idle_kick: Option<Duration>,
}

impl Default for RoomModes {
    /// `+nt`, what a new room gets, as on every mature server.
    fn default() -> Self {
        RoomModes {
            invite_only: false,
            moderated: false,
            no_external: true,
            secret: false,
            topic_lock: true,
            key: None,
            limit: None,
            idle_kick: None,
        }
    }
}

impl RoomModes {
    /// The flag a flag mode controls.
    pub fn flag_mut(&mut self, mode: Mode) -> Option<&mut bool> {
        Some(match mode {
            Mode::InviteOnly => &mut self.invite_only,
            Mode::Moderated => &mut self.moderated,
            Mode::NoExternal => &mut self.no_external,
            Mode::Secret => &mut self.secret,
            Mode::TopicLock => &mut self.topic_lock,
            _ => return None,
        })
    }

    /// The value of a flag mode.
    pub fn flag(&self, mode: Mode) -> Option<bool> {
        Some(match mode {
            Mode::InviteOnly => self.invite_only,
            Mode::Moderated => self.moderated,
            Mode::NoExternal => self.no_external,
            Mode::Secret => self.secret,
            Mode::TopicLock => self.topic_lock,
            _ => return None,
        })
    }

    /// RPL_CHANNELMODEIS's mode string and parameters, e.g. `+klnt` `sesame` `10`; the key
    /// shows as `<key>` to those who may not see it.
    pub fn describe(&self, show_key: bool) -> (String, Vec<String>) {
        let mut letters = String::from("+");
        let mut params = Vec::new();
        for def in ROOM_MODES {
            let (on, param) = match def.mode {
                Mode::Key => (
                    self.key.is_some(),
                    self.key.as_ref().map(|k| {
                        if show_key {
                            k.clone()
                        } else {
                            "<key>".to_string()
                        }
                    }),
                ),
                Mode::Limit => (self.limit.is_some(), self.limit.map(|l| l.to_string())),
                Mode::IdleKick => (self.idle_kick.is_some(), self.idle_kick.map(format_idle)),
                m => (self.flag(m).unwrap_or(false), None),
            };
            if on {
                letters.push(def.letter);
                params.extend(param);
            }
        }
        (letters, params)
    }
}

/// Parses `+W`'s parameter: minutes (`5`), or a number with `s`, `m` or `h`.
pub fn parse_idle(text: &str) -> Option<Duration> {
    let (digits, unit) = match text.char_indices().last()? {
        (i, 's') => (&text[..i], 1),
        (i, 'm') => (&text[..i], 60),
        (i, 'h') => (&text[..i], 3600),
        _ => (text, 60),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
        return None;
    }
    let d = Duration::from_secs(digits.parse::<u64>().ok()? * unit);
    (IDLE_RANGE.0..=IDLE_RANGE.1).contains(&d).then_some(d)
}

/// The canonical form of an idle time: whole minutes as a bare number, else seconds.
pub fn format_idle(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(60) {
        (secs / 60).to_string()
    } else {
        format!("{secs}s")
    }
}

/// Checks a room key: printable, no spaces or commas, at most [`MAX_KEY_BYTES`].
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && !key.starts_with(':')
        && !key
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == ',')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn isupport_comes_from_the_table() {
        assert_eq!(chanmodes_isupport(), "CHANMODES=beI,k,lW,imnst");
        assert_eq!(all_letters(), "IWbeiklmnostv");
        assert_eq!(param_letters(), "IWbeklov");
    }

    #[test]
    fn parameters_follow_the_chanmodes_classes() {
        let (c, i) = parse_changes("+kl-t", &args(&["key", "10"]));
        assert!(i.is_empty());
        assert_eq!(
            c,
            vec![
                ModeChange {
                    add: true,
                    mode: Mode::Key,
                    arg: Some("key".into())
                },
                ModeChange {
                    add: true,
                    mode: Mode::Limit,
                    arg: Some("10".into())
                },
                ModeChange {
                    add: false,
                    mode: Mode::TopicLock,
                    arg: None
                },
            ]
        );
        // -l takes nothing; -k consumes one if given; a bare b lists.
        let (c, i) = parse_changes("-lk+b", &args(&["x"]));
        assert!(i.is_empty());
        assert_eq!(c[1].arg.as_deref(), Some("x"));
        assert!(c[2].is_list_query());
        let (c, i) = parse_changes("+oZ", &[]);
        assert!(c.is_empty());
        assert_eq!(
            i,
            vec![ParseIssue::MissingParam('o'), ParseIssue::Unknown('Z')]
        );
        let many = args(&["a", "b", "c", "d", "e", "f", "g", "h"]);
        let (c, _) = parse_changes("+vvvvvvvv", &many);
        assert_eq!(c.len(), MAX_PARAM_MODES);
    }

    #[test]
    fn describe_hides_the_key_from_outsiders() {
        let mut m = RoomModes {
            key: Some("sesame".into()),
            limit: Some(10),
            ..RoomModes::default()
        };
        assert_eq!(m.describe(true), ("+klnt".into(), args(&["sesame", "10"])));
        assert_eq!(m.describe(false).1, args(&["<key>", "10"]));
        m.idle_kick = parse_idle("90s");
        assert_eq!(m.describe(true).0, "+klWnt");
        assert_eq!(m.describe(true).1[2], "90s");
    }

    #[test]
    fn idle_times() {
        assert_eq!(parse_idle("5"), Some(Duration::from_secs(300)));
        assert_eq!(parse_idle("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_idle("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_idle("0"), None);
        assert_eq!(parse_idle("x"), None);
        assert_eq!(parse_idle("m"), None);
        assert_eq!(parse_idle("-5"), None);
        assert_eq!(format_idle(Duration::from_secs(300)), "5");
        assert_eq!(format_idle(Duration::from_secs(90)), "90s");
    }
}
