//! State changes as data: every change a command makes to who is connected and which rooms
//! exist is an [`Op`], applied in one place ([`Op::apply`]).
//!
//! A single server applies an op as soon as the command makes it. A cluster node publishes
//! it to the network's stream instead, and every node (the one that made it included)
//! applies it when it comes back in stream order, so every node holds the same state and
//! announces the same events in the same order (see [`crate::cluster`]). That is why an
//! op carries everything its outcome depends on (the sender's room limit, the relayed
//! line with its time) and nothing that only one node has (queues, sockets).

use serde::{Deserialize, Serialize};

use super::{ClientId, Joined, ModesChanged, RoomError, State, StateError};
use crate::caps::Cap;
use crate::outbox::Outbox;
use crate::relay::Relay;
use crate::room::modes::ModeChange;

/// One change to the shared state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A new, unregistered connection. Its queue exists only on the node it is on.
    Connect {
        id: ClientId,
        host: String,
        #[serde(skip)]
        outbox: Option<Outbox>,
    },
    /// NICK: sets or changes a nick (433 if taken anywhere).
    Nick { id: ClientId, nick: String },
    /// Registration completes with USER's user name and real name.
    Register {
        id: ClientId,
        user: String,
        realname: String,
    },
    /// The connection ended (QUIT, error, KILL): its rooms see it QUIT with `reason`.
    Disconnect { id: ClientId, reason: String },
    /// AWAY, set or cleared.
    Away { id: ClientId, text: Option<String> },
    /// SETNAME.
    Realname { id: ClientId, realname: String },
    /// User MODE `+i`, `+w`, `+B`, `-o`.
    UserModes {
        id: ClientId,
        changes: Vec<(bool, char)>,
    },
    /// OPER succeeded under `name`.
    Oper { id: ClientId, name: String },
    /// KILL: the node holding `nick` closes its connection.
    Kill { nick: String, quit: String },
    /// WALLOPS: `line` goes to every `+w` client.
    Wallops { line: String },
    /// JOIN one room, under its rules and the joiner's room limit.
    Join {
        id: ClientId,
        room: String,
        key: Option<String>,
        max_rooms: usize,
    },
    /// PART.
    Part {
        id: ClientId,
        room: String,
        reason: Option<String>,
    },
    /// KICK.
    Kick {
        id: ClientId,
        room: String,
        nick: String,
        reason: String,
    },
    /// INVITE.
    Invite {
        id: ClientId,
        nick: String,
        room: String,
    },
    /// TOPIC with a new text (empty clears it).
    Topic {
        id: ClientId,
        room: String,
        text: String,
    },
    /// MODE on a room.
    RoomModes {
        id: ClientId,
        room: String,
        changes: Vec<ModeChange>,
    },
    /// A private message (or TAGMSG, with `needs`) to a nick.
    ToNick {
        nick: String,
        relay: Relay,
        needs: Option<Cap>,
    },
    /// An unarchived line to a room's members (TAGMSG), except the sender.
    ToRoom {
        room: String,
        relay: Relay,
        except: ClientId,
        needs: Option<Cap>,
    },
    /// STATUSMSG to a room's operators (and voiced members with `voiced`).
    ToRank {
        room: String,
        voiced: bool,
        relay: Relay,
        except: ClientId,
    },
    /// Room mode `+W`: the member's node found it idle past the room's limit.
    IdleKick {
        room_key: String,
        id: ClientId,
        server: String,
    },
    /// A node left the network (it stopped heartbeating, or restarted): every client of its
    /// run `tag` QUITs with `reason`. Only cluster nodes publish it.
    NodeGone { tag: u64, reason: String },
}

/// What applying an op did, for the command that asked.
pub enum Outcome {
    /// Nothing to report.
    Done,
    /// The connection is in the state under this id.
    Connected(ClientId),
    /// NICK: `NickInUse` means 433.
    Nick(Result<(), StateError>),
    /// The user modes actually changed (`+iw`), for the MODE echo.
    UserModes(String),
    /// KILL: the victim's nick, or 401.
    Kill(Result<String, StateError>),
    /// JOIN: what the joiner sees next; `None` if it was already a member.
    Join(Result<Option<Joined>, RoomError>),
    /// PART and TOPIC.
    Room(Result<(), RoomError>),
    /// KICK: the room's display name.
    Kick(Result<String, RoomError>),
    /// INVITE: the invitee's nick, the room and the invitee's away text.
    Invite(Result<(String, String, Option<String>), RoomError>),
    /// MODE on a room: what changed and the lists asked for.
    Modes(Result<ModesChanged, RoomError>),
    /// A private message: the target's away text, or why it was not delivered.
    ToNick(Result<Option<String>, StateError>),
}

impl Op {
    /// Applies the op to `state`, announcing it to the clients whose queues are here.
    pub fn apply(self, state: &State) -> Outcome {
        match self {
            Op::Connect { id, host, outbox } => {
                state.connect_as(id, host, outbox.unwrap_or_else(Outbox::elsewhere));
                Outcome::Connected(id)
            }
            Op::Nick { id, nick } => Outcome::Nick(state.set_nick(id, &nick)),
            Op::Register { id, user, realname } => {
                state.register(id, user, realname);
                Outcome::Done
            }
            Op::Disconnect { id, reason } => {
                state.disconnect(id, &reason);
                Outcome::Done
            }
            Op::Away { id, text } => {
                state.set_away(id, text);
                Outcome::Done
            }
            Op::Realname { id, realname } => {
                state.set_realname(id, &realname);
                Outcome::Done
            }
            Op::UserModes { id, changes } => Outcome::UserModes(state.set_user_modes(id, &changes)),
            Op::Oper { id, name } => {
                state.set_oper(id, &name);
                Outcome::Done
            }
            Op::Kill { nick, quit } => Outcome::Kill(state.kill(&nick, &quit)),
            Op::Wallops { line } => {
                state.wallops(&bytes::Bytes::from(line));
                Outcome::Done
            }
            Op::Join {
                id,
                room,
                key,
                max_rooms,
            } => Outcome::Join(state.join(id, &room, key.as_deref(), max_rooms)),
            Op::Part { id, room, reason } => {
                Outcome::Room(state.part(id, &room, reason.as_deref()))
            }
            Op::Kick {
                id,
                room,
                nick,
                reason,
            } => Outcome::Kick(state.kick(id, &room, &nick, &reason)),
            Op::Invite { id, nick, room } => Outcome::Invite(state.invite(id, &nick, &room)),
            Op::Topic { id, room, text } => Outcome::Room(state.set_topic(id, &room, &text)),
            Op::RoomModes { id, room, changes } => {
                Outcome::Modes(state.change_room_modes(id, &room, changes))
            }
            Op::ToNick { nick, relay, needs } => {
                Outcome::ToNick(state.deliver_to_nick(&nick, &relay, needs))
            }
            Op::ToRoom {
                room,
                relay,
                except,
                needs,
            } => {
                state.deliver_to_room(&room, &relay, except, needs);
                Outcome::Done
            }
            Op::ToRank {
                room,
                voiced,
                relay,
                except,
            } => {
                state.deliver_to_rank(&room, voiced, &relay, except);
                Outcome::Done
            }
            Op::IdleKick {
                room_key,
                id,
                server,
            } => {
                state.kick_idle(&server, &room_key, id);
                Outcome::Done
            }
            Op::NodeGone { tag, reason } => {
                state.drop_run(tag, &reason);
                Outcome::Done
            }
        }
    }

    /// The command name a failure to publish this op is reported under (`FAIL JOIN …`).
    pub fn command(&self) -> &'static str {
        match self {
            Op::Connect { .. } | Op::Register { .. } => "USER",
            Op::Nick { .. } => "NICK",
            Op::Disconnect { .. } | Op::NodeGone { .. } => "QUIT",
            Op::Away { .. } => "AWAY",
            Op::Realname { .. } => "SETNAME",
            Op::UserModes { .. } | Op::RoomModes { .. } => "MODE",
            Op::Oper { .. } => "OPER",
            Op::Kill { .. } => "KILL",
            Op::Wallops { .. } => "WALLOPS",
            Op::Join { .. } => "JOIN",
            Op::Part { .. } => "PART",
            Op::Kick { .. } | Op::IdleKick { .. } => "KICK",
            Op::Invite { .. } => "INVITE",
            Op::Topic { .. } => "TOPIC",
            Op::ToNick { .. } | Op::ToRoom { .. } | Op::ToRank { .. } => "PRIVMSG",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_survive_the_wire() {
        let relay = Relay::at(
            bytes::Bytes::from_static(b":a!u@h PRIVMSG bob :hi\r\n"),
            "2026-11-26T10:00:00.000Z".into(),
        )
        .with_msgid("id1".into())
        .from_bot(true);
        let op = Op::ToNick {
            nick: "bob".into(),
            relay,
            needs: Some(Cap::MessageTags),
        };
        let json = serde_json::to_string(&op).unwrap();
        let back: Op = serde_json::from_str(&json).unwrap();
        let Op::ToNick { nick, relay, needs } = back else {
            panic!("wrong op back: {json}");
        };
        assert_eq!(nick, "bob");
        assert_eq!(needs, Some(Cap::MessageTags));
        let mut caps = crate::caps::Caps::NONE;
        caps.set(Cap::MessageTags, true);
        caps.set(Cap::ServerTime, true);
        assert_eq!(
            &relay.for_caps(caps)[..],
            b"@bot;msgid=id1;time=2026-11-26T10:00:00.000Z :a!u@h PRIVMSG bob :hi\r\n"
        );
    }

    #[test]
    fn a_connect_carries_no_queue() {
        let (outbox, _rx) = Outbox::new(1024);
        let op = Op::Connect {
            id: 7,
            host: "h".into(),
            outbox: Some(outbox),
        };
        let json = serde_json::to_string(&op).unwrap();
        assert!(!json.contains("outbox"), "{json}");
        let back: Op = serde_json::from_str(&json).unwrap();
        assert!(matches!(
            back,
            Op::Connect {
                id: 7,
                outbox: None,
                ..
            }
        ));
    }
}
