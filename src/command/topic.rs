//! TOPIC: read or set a room's topic (only room operators may set it while `+t`).

use super::{Flow, Reject, required};
use crate::message::{Message, line};
use crate::names::canonical_room;
use crate::session::Session;
use crate::state::{Op, Outcome};

/// Longest topic kept, in bytes (announced as TOPICLEN).
pub const TOPIC_LEN: usize = 390;

/// `TOPIC <room>` reads; `TOPIC <room> <text>` sets; `TOPIC <room> :` clears.
pub struct Topic {
    room: String,
    text: Option<String>,
}

impl Topic {
    /// Needs a room (461 otherwise).
    pub fn parse_frames(msg: &Message) -> Result<Topic, Reject> {
        Ok(Topic {
            room: required(msg, 0, "TOPIC <#room> [new topic]")?.to_string(),
            text: msg.params.get(1).cloned(),
        })
    }

    /// Reads (331/332+333) or sets the topic (announced to members); 403/442/482 on errors.
    pub async fn apply(self, s: &mut Session) -> Flow {
        let Ok(name) = canonical_room(&self.room) else {
            s.numeric("403", &[&self.room], "No such room");
            return Flow::Continue;
        };
        match self.text {
            None => match s.ctx.state.topic(s.id, &name) {
                Err(e) => super::room_error(s, &self.room, &e),
                Ok((room, None)) => s.numeric("331", &[&room], "No topic is set"),
                Ok((room, Some(topic))) => {
                    s.numeric("332", &[&room], &topic.text);
                    let at = topic.set_at.to_string();
                    s.send(line(
                        &s.ctx.settings.server_name,
                        "333",
                        &[s.target(), &room, &topic.set_by, &at],
                        None,
                    ));
                }
            },
            Some(mut text) => {
                crate::message::truncate_to(&mut text, TOPIC_LEN);
                let op = Op::Topic {
                    id: s.id,
                    room: name.clone(),
                    text,
                };
                if let Some(Outcome::Room(Err(e))) = s.change(op).await {
                    super::room_error(s, &name, &e);
                }
            }
        }
        Flow::Continue
    }
}
