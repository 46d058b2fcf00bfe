//! Flood control, as the mature IRC servers do it ("fakelag"): a connection may send a
//! burst of lines at once, after which the server reads its input no faster than a steady
//! rate. Nothing is dropped and nobody is disconnected: excess lines wait in the kernel's
//! socket buffer (and then the client's), so a flood costs the server no memory and cannot
//! starve the other clients of a room.

use std::time::Duration;

use tokio::time::Instant;

/// Per-connection pacing of input lines (a generic cell-rate algorithm).
pub struct FloodGate {
    /// Time one line costs; `None` when flood control is off.
    interval: Option<Duration>,
    /// How far ahead of real time the account may run: all of the burst but the line in hand.
    window: Duration,
    /// When the account would be empty again (the "theoretical arrival time").
    due: Instant,
    /// Whether the current wait has already been reported.
    reported: bool,
}

impl FloodGate {
    /// `burst` lines at once, then `rate` lines per second; a rate of 0 turns it off.
    pub fn new(burst: u32, rate: f64) -> FloodGate {
        let interval =
            (rate > 0.0 && rate.is_finite()).then(|| Duration::from_secs_f64(1.0 / rate));
        FloodGate {
            interval,
            window: interval.unwrap_or_default() * (burst.max(1) - 1),
            due: Instant::now(),
            reported: false,
        }
    }

    /// When the next line may be read, if that is later than `now`.
    pub fn wait_until(&self, now: Instant) -> Option<Instant> {
        self.interval?;
        match self.due.checked_sub(self.window) {
            Some(ready) if ready > now => Some(ready),
            _ => None,
        }
    }

    /// Charges one line read at `now`.
    pub fn charge(&mut self, now: Instant) {
        if let Some(interval) = self.interval {
            if self.due + interval <= now {
                // Quiet for a line's time past an empty account: what comes next is a new flood.
                self.reported = false;
            }
            self.due = self.due.max(now) + interval;
        }
    }

    /// True at the first wait of a flood (the client went quiet before it), so the log
    /// says "paced" once per flood rather than once per line.
    pub fn report(&mut self, now: Instant) -> bool {
        let first = !self.reported && self.wait_until(now).is_some();
        self.reported |= first;
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_free_then_lines_are_paced_at_the_rate() {
        let mut gate = FloodGate::new(3, 2.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(gate.wait_until(t0), None);
            gate.charge(t0);
        }
        // The burst is spent: the fourth line waits one interval (0.5 s).
        assert_eq!(gate.wait_until(t0), Some(t0 + Duration::from_millis(500)));
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(gate.wait_until(t1), None);
        gate.charge(t1);
        assert_eq!(gate.wait_until(t1), Some(t1 + Duration::from_millis(500)));
        // After a quiet spell the whole burst is available again.
        let t2 = t1 + Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(gate.wait_until(t2), None);
            gate.charge(t2);
        }
        assert!(gate.wait_until(t2).is_some());
    }

    #[test]
    fn rate_zero_turns_it_off() {
        let t0 = Instant::now();
        let mut gate = FloodGate::new(1, 0.0);
        for _ in 0..1000 {
            gate.charge(t0);
        }
        assert_eq!(gate.wait_until(t0), None);
        assert!(!gate.report(t0));
    }

    #[test]
    fn a_flood_is_reported_once() {
        let mut gate = FloodGate::new(1, 1.0);
        let t0 = Instant::now();
        gate.charge(t0);
        assert!(gate.report(t0));
        assert!(!gate.report(t0));
        // Paced lines of the same flood are not reported again.
        let paced = t0 + Duration::from_secs(1);
        assert!(!gate.report(paced));
        gate.charge(paced);
        assert!(!gate.report(paced));
        let later = t0 + Duration::from_secs(5);
        assert!(!gate.report(later));
        gate.charge(later);
        assert!(gate.report(later));
    }
}
