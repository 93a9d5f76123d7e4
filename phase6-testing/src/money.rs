//! Money: amounts in integer minor units with their currency, and a booking's price.
//!
//! Python code that writes `price * 1.075` with floats gets `21.489999999999998`; careful Python
//! code uses `decimal.Decimal` with `ROUND_HALF_UP`. Here an amount is an `i64` of minor units (cents;
//! yen, which have none smaller) beside its [`Currency`], and the one place that divides, the fee,
//! says how it rounds. No float is involved anywhere, so `proptest` can state the rule exactly.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::bugs::{self, Bug};

/// The workspace's: phase 6 and the shop count money alike.
pub use common::money::{Currency, Money};

/// The booking fee: 7.5 %, in basis points (hundredths of a percent).
pub const FEE_BASIS_POINTS: i64 = 750;

/// What a booking costs, line by line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    /// The price of one seat.
    pub price: Money,
    pub seats: u32,
    /// `price × seats`.
    pub tickets: Money,
    /// [`FEE_BASIS_POINTS`] of the tickets, rounded half up to a minor unit.
    pub fee: Money,
    /// `tickets + fee`: what is charged.
    pub total: Money,
}

/// The quote for `seats` seats at `price` each. Prices are at most 100 000 000 minor units and
/// bookings at most a few thousand seats (both validated), so nothing here can overflow: the
/// products are computed in `i128` all the same, and saturate rather than wrap.
pub fn quote(price: Money, seats: u32) -> Quote {
    let tickets = i128::from(price.amount_minor) * i128::from(seats);
    let scaled = tickets * i128::from(FEE_BASIS_POINTS);
    let fee = if bugs::planted(Bug::MoneyRounding) {
        scaled / 10_000
    } else {
        // Half up: add half the divisor before dividing. Amounts are never negative here.
        (scaled + 5_000) / 10_000
    };
    let money = |amount: i128| Money::new(saturate(amount), price.currency);
    Quote {
        price,
        seats,
        tickets: money(tickets),
        fee: money(fee),
        total: money(tickets + fee),
    }
}

fn saturate(amount: i128) -> i64 {
    i64::try_from(amount).unwrap_or(if amount < 0 { i64::MIN } else { i64::MAX })
}
