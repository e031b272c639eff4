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
}
