//! The refresh path (`POST /auth/refresh`), counted.

use crate::counters::{Counted, counted};
use crate::functions::event;
use crate::stack::Ctx;

/// Warm refreshes after the first.
pub const WARM_REFRESHES: usize = 30;

pub struct Refresh(pub Counted);

pub async fn run(ctx: &Ctx) -> Refresh {
    eprintln!("bench: refresh path");
    let ev = event(&ctx.host, "POST", "/auth/refresh", Some(&ctx.alice), true);
    Refresh(counted(ctx, "refresh", &ev, WARM_REFRESHES).await)
}
