//! The one scalar function the check SQL needs beyond DataFusion's own:
//! `fmt_money(amount)` writes an exact amount the way a finance analyst reads it
//! (`48,000.00`), for the `detail` sentences. [`all`] is the single list, so
//! a session, a Ballista scheduler and every executor register the same set.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use rust_decimal::{Decimal, RoundingStrategy};
use std::sync::Arc;

/// Registers every revleak function on a session.
pub fn register(ctx: &SessionContext) {
    for udf in all() {
        ctx.register_udf(udf);
    }
}

/// Every revleak function: what a session, a Ballista scheduler and each
/// executor register.
pub fn all() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(FmtMoney::new())]
}

/// Formats an amount with thousands separators and two decimals, rounded half
/// away from zero; null stays null.
pub fn format_money(amount: Decimal) -> String {
    let mut text = String::with_capacity(24);
    write_money(&mut text, amount);
    text
}

/// [`format_money`] into `out`: the report writes tens of millions of amounts,
/// so without a string of its own or a trip through `Decimal`'s `Display`.
pub fn write_money(out: &mut String, amount: Decimal) {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        out.push('-');
    }
    // two decimals, but for amounts too large for them: there rescale keeps
    // what it can (the text then shows that many)
    let scale = rounded.scale() as usize;
    let mut buffer = [0u8; DIGITS];
    // a digit before the point at least: `0.05` is 005 cents
    let digits = digits_of(rounded.mantissa().unsigned_abs(), scale + 1, &mut buffer);
    let (units, cents) = digits.split_at(digits.len() - scale);
    let cents = if scale == 0 { b"00".as_slice() } else { cents };
    push_grouped(out, units);
    out.push('.');
    out.push_str(std::str::from_utf8(cents).expect("ASCII digits"));
}

/// ASCII `digits` with a comma before each group of three from the right
/// (`12345` → `12,345`): how amounts and counts are shown.
pub fn push_grouped(out: &mut String, digits: &[u8]) {
    for (i, digit) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(*digit as char);
    }
}

/// `amount` as `Decimal`'s `Display` writes it (`-0.50`, `12`, every digit of
/// its scale), into `out`.
pub fn write_decimal(out: &mut String, amount: Decimal) {
    if amount.is_sign_negative() {
        out.push('-');
    }
    let scale = amount.scale() as usize;
    let mut buffer = [0u8; DIGITS];
    let mantissa = amount.mantissa().unsigned_abs();
    // Display writes no digit for a zero mantissa but the scale's zeros (and
    // `0` for a zero of scale 0)
    let least = if mantissa == 0 { scale.max(1) } else { scale };
    let digits = digits_of(mantissa, least, &mut buffer);
    let (whole, fraction) = digits.split_at(digits.len() - scale);
    let ascii = |d| std::str::from_utf8(d).expect("ASCII digits");
    if whole.is_empty() {
        out.push('0');
    } else {
        out.push_str(ascii(whole));
    }
    if scale > 0 {
        out.push('.');
        out.push_str(ascii(fraction));
    }
}

/// Room for a `Decimal`'s mantissa (29 digits) and its scale's leading zeros.
const DIGITS: usize = 40;

/// The decimal digits of `n`, left-padded with zeros to at least `least`.
fn digits_of(n: u128, least: usize, buffer: &mut [u8; DIGITS]) -> &[u8] {
    let mut start = DIGITS;
    // (u128 division is done in software: amounts fit u64)
    let (mut high, mut low) = match u64::try_from(n) {
        Ok(low) => (0u128, low),
        Err(_) => (
            n / 10_000_000_000_000_000_000,
            (n % 10_000_000_000_000_000_000) as u64,
        ),
    };
    while low > 0 || (high > 0 && DIGITS - start < 19) {
        start -= 1;
        buffer[start] = b'0' + (low % 10) as u8;
        low /= 10;
    }
    while high > 0 {
        start -= 1;
        buffer[start] = b'0' + (high % 10) as u8;
        high /= 10;
    }
    while DIGITS - start < least {
        start -= 1;
        buffer[start] = b'0';
    }
    &buffer[start..]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FmtMoney {
    signature: Signature,
}

impl FmtMoney {
    fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FmtMoney {
    fn name(&self) -> &str {
        "fmt_money"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Decimal128(p, s)] => Ok(vec![DataType::Decimal128(*p, *s)]),
            [DataType::Decimal256(_, s)] => Ok(vec![DataType::Decimal128(38, (*s).min(18))]),
            [DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64]
            | [DataType::Null] => Ok(vec![DataType::Decimal128(38, 2)]),
            [other] => plan_err!("fmt_money takes an exact amount (a decimal), not {other}"),
            _ => plan_err!("fmt_money takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("fmt_money takes one argument");
        };
        let array = arg.to_array(args.number_rows)?;
        let DataType::Decimal128(_, scale) = array.data_type() else {
            return exec_err!("fmt_money: expected a decimal, got {}", array.data_type());
        };
        let scale = u32::try_from(*scale).unwrap_or(0);
        let decimals = array.as_primitive::<Decimal128Type>();
        let mut out = StringBuilder::with_capacity(decimals.len(), decimals.len() * 12);
        for i in 0..decimals.len() {
            if decimals.is_null(i) {
                out.append_null();
            } else {
                out.append_value(format_money(Decimal::from_i128_with_scale(
                    decimals.value(i),
                    scale,
                )));
            }
        }
        let result: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands_and_rounds_half_away_from_zero() {
        assert_eq!(format_money(Decimal::new(4800000, 2)), "48,000.00");
        assert_eq!(format_money(Decimal::new(-1234567895, 3)), "-1,234,567.90");
        assert_eq!(format_money(Decimal::new(5, 3)), "0.01");
        assert_eq!(format_money(Decimal::new(999, 0)), "999.00");
        assert_eq!(format_money(Decimal::new(-4, 3)), "0.00");
    }

    /// `format_money` as it was first written, through `Decimal`'s text.
    fn money_through_text(amount: Decimal) -> String {
        let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(2);
        let text = rounded.abs().to_string();
        let (units, cents) = text.split_once('.').unwrap_or((&text, "00"));
        let mut grouped = String::new();
        for (i, ch) in units.chars().enumerate() {
            if i > 0 && (units.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
            "-"
        } else {
            ""
        };
        format!("{sign}{grouped}.{cents}")
    }

    #[test]
    fn money_and_decimals_are_written_as_their_text_would_be() {
        let mantissas: Vec<i128> = [
            0i128,
            1,
            4,
            5,
            9,
            10,
            49,
            50,
            99,
            100,
            101,
            999,
            1_000,
            12_345,
            999_995,
            1_000_000,
            123_456_789_012,
            i64::MAX as i128,
            10i128.pow(27),
            79_228_162_514_264_337_593_543_950_335, // the largest mantissa
        ]
        .into_iter()
        .flat_map(|m| [m, -m])
        .collect();
        let mut seen = 0;
        for mantissa in mantissas {
            for scale in 0..=28 {
                let Ok(amount) = Decimal::try_from_i128_with_scale(mantissa, scale) else {
                    continue;
                };
                let mut negative_zero = amount;
                if amount.is_zero() {
                    negative_zero.set_sign_negative(true);
                }
                for amount in [amount, negative_zero] {
                    // rounding the largest amounts overflows either way
                    if let Ok(money) = std::panic::catch_unwind(|| money_through_text(amount)) {
                        assert_eq!(format_money(amount), money, "{amount:?}");
                    }
                    let mut written = String::new();
                    write_decimal(&mut written, amount);
                    assert_eq!(written, amount.to_string(), "{amount:?}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 1_000, "{seen} amounts compared");
    }
}
