//! Wall-clock laps: how the trainer's step profile and `netsieve bench` time their parts
//! (`web_time`, so `performance.now()` in the page).

use web_time::Instant;

/// Seconds between successive calls of [`Lap::lap`].
pub struct Lap(Instant);

impl Lap {
    pub fn start() -> Lap {
        Lap(Instant::now())
    }

    /// Seconds since the start or the last lap.
    pub fn lap(&mut self) -> f64 {
        let now = Instant::now();
        let s = now.duration_since(self.0).as_secs_f64();
        self.0 = now;
        s
    }
}
