//! Money: an amount in integer minor units beside its currency.
//!
//! Python code that writes `price * 1.075` with floats gets `21.489999999999998`; careful Python
//! code uses `decimal.Decimal`. Here an amount is an `i64` of minor units (cents; yen, which have
//! none smaller) beside its [`Currency`]: sums and products are exact, checked for overflow, and
//! refuse to mix currencies. Phase 6 prices bookings with it; the shop, products and orders.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The currencies the workspace's examples sell in (ISO 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    Eur,
    Usd,
    Jpy,
}

impl Currency {
    /// `EUR`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Eur => "EUR",
            Currency::Usd => "USD",
            Currency::Jpy => "JPY",
        }
    }

    /// The currency whose code is `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        [Currency::Eur, Currency::Usd, Currency::Jpy]
            .into_iter()
            .find(|currency| currency.code() == code)
    }

    /// Digits after the decimal point: 2 for euros and dollars, 0 for yen.
    pub fn decimals(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            Currency::Eur | Currency::Usd => 2,
        }
    }
}

/// An amount of a currency, in its minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Cents for EUR and USD, yen for JPY.
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    /// `12.50 EUR`, `1500 JPY`: as a person reads it.
    pub fn display(self) -> String {
        let decimals = self.currency.decimals();
        if decimals == 0 {
            return format!("{} {}", self.amount_minor, self.currency.code());
        }
        let unit = 10_i64.pow(decimals);
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let amount = self.amount_minor.unsigned_abs();
        let unit = unit.unsigned_abs();
        format!(
            "{sign}{}.{:0width$} {}",
            amount / unit,
            amount % unit,
            self.currency.code(),
            width = decimals as usize
        )
    }
}

impl Money {
    /// `self + other`, when both are of one currency and the sum fits.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        (self.currency == other.currency).then_some(())?;
        Some(Money::new(
            self.amount_minor.checked_add(other.amount_minor)?,
            self.currency,
        ))
    }

    /// `self × count`, when it fits.
    pub fn times(self, count: u32) -> Option<Money> {
        Some(Money::new(
            self.amount_minor.checked_mul(i64::from(count))?,
            self.currency,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(Money::new(1250, Currency::Eur).display(), "12.50 EUR");
        assert_eq!(Money::new(5, Currency::Usd).display(), "0.05 USD");
        assert_eq!(Money::new(1500, Currency::Jpy).display(), "1500 JPY");
        assert_eq!(Money::new(-1, Currency::Eur).display(), "-0.01 EUR");
    }

    #[test]
    fn sums_keep_to_one_currency_and_never_overflow() {
        let euros = Money::new(1250, Currency::Eur);
        assert_eq!(euros.times(3), Some(Money::new(3750, Currency::Eur)));
        assert_eq!(
            euros.checked_add(euros),
            Some(Money::new(2500, Currency::Eur))
        );
        assert_eq!(euros.checked_add(Money::new(1, Currency::Jpy)), None);
        assert_eq!(Money::new(i64::MAX, Currency::Usd).times(2), None);
    }
}
