//! LIST: every room with its member count and topic.

use super::{Flow, Reject};
use crate::message::Message;
use crate::session::Session;

/// `LIST`
pub struct List;

impl List {
    /// Takes no required parameters; filters are ignored.
    pub fn parse_frames(_msg: &Message) -> Result<List, Reject> {
        Ok(List)
    }

    /// 321, one 322 per room, 323.
    pub fn apply(self, s: &mut Session) -> Flow {
        s.numeric("321", &["Room", "Users"], "Name");
        for room in s.ctx.state.list() {
            s.numeric("322", &[&room.name, &room.members.to_string()], &room.topic);
        }
        s.numeric("323", &[], "End of /LIST");
        Flow::Continue
    }
}
