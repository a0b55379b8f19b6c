//! The burn rate: what is running now and what it costs an hour, in exact
//! dollars; what burn-watch does about it. Pure.
//!
//! | concern | module |
//! |---|---|
//! | exact dollars, rounding, how amounts are shown | [`usd`] |
//! | what a running resource is charged for: products of the price list | [`usage`] |
//! | the priced survey, its totals, the month projected | [`status`] |
//! | burn-watch's decision: stop, tell once per crossing, when to ask Cost Explorer | [`watch`] |
//!
//! The built-in table of prices the survey falls back to is
//! [`prices`](crate::domain::prices).

pub mod status;
pub mod usage;
pub mod usd;
pub mod watch;
