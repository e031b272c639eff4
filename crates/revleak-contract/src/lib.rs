//! The input data contract and the findings shape, as data.
//!
//! Everything that needs to know a table's columns, types, keys, event date or
//! references reads it from here: snapshot validation, the generated as-of and
//! data-quality views, and the synthetic snapshot generator. A new column is one
//! edit in this file.

mod markdown;

pub use markdown::markdown;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

/// Logical column types of the contract (docs/contract.md, "Types").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Utf8; Utf8View and LargeUtf8 accepted.
    String,
    /// Date32.
    Date,
    /// Int64; Int32 accepted.
    Int,
    /// Decimal128(18,2).
    Money,
    /// Decimal128(5,2), percent.
    Pct,
    /// Decimal128(18,8).
    Rate,
    /// Boolean.
    Bool,
}

impl ColumnType {
    /// Every type, in the order the contract's page lists them.
    pub const ALL: [ColumnType; 7] = [
        ColumnType::String,
        ColumnType::Date,
        ColumnType::Int,
        ColumnType::Money,
        ColumnType::Pct,
        ColumnType::Rate,
        ColumnType::Bool,
    ];

    /// The canonical Arrow type, as the generator writes it and the findings use it.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Date => DataType::Date32,
            ColumnType::Int => DataType::Int64,
            ColumnType::Money => DataType::Decimal128(18, 2),
            ColumnType::Pct => DataType::Decimal128(5, 2),
            ColumnType::Rate => DataType::Decimal128(18, 8),
            ColumnType::Bool => DataType::Boolean,
        }
    }

    /// Whether a type found in a file is acceptable for this contract type.
    pub fn accepts(self, found: &DataType) -> bool {
        match self {
            ColumnType::String => matches!(
                found,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ),
            ColumnType::Int => matches!(found, DataType::Int64 | DataType::Int32),
            other => &other.arrow_type() == found,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ColumnType::String => "string (Utf8)",
            ColumnType::Date => "date (Date32)",
            ColumnType::Int => "int (Int64)",
            ColumnType::Money => "money (Decimal128(18, 2))",
            ColumnType::Pct => "pct (Decimal128(5, 2))",
            ColumnType::Rate => "rate (Decimal128(18, 8))",
            ColumnType::Bool => "bool (Boolean)",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    /// What the column holds, for people adapting their exports (docs/contract.md).
    pub meaning: &'static str,
}

impl Column {
    /// The same column with its meaning, written where the column is declared.
    const fn means(self, meaning: &'static str) -> Column {
        Column { meaning, ..self }
    }
}

const fn req(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
        meaning: "",
    }
}

const fn opt(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
        meaning: "",
    }
}

/// A column that names a row of another table.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub column: &'static str,
    /// `system/table` of the referenced table.
    pub target: &'static str,
    pub target_column: &'static str,
}

const fn refers(
    column: &'static str,
    target: &'static str,
    target_column: &'static str,
) -> Reference {
    Reference {
        column,
        target,
        target_column,
    }
}

/// Where a document's deal currency is found, for the currency-mismatch rule.
#[derive(Debug, Clone, Copy)]
pub enum DealOf {
    /// The row names its deal in this column.
    Deal(&'static str),
    /// The row names an invoice in this column; the invoice names the deal
    /// (or, for an invoice without a deal, carries the currency itself).
    Invoice(&'static str),
}

/// Which currency a row is valued in, for the missing-fx-rate rule.
#[derive(Debug, Clone, Copy)]
pub enum CurrencyOf {
    Own(&'static str),
    /// Credit notes carry no currency: it is their invoice's.
    Invoice(&'static str),
}

/// The missing-rate rule of data_quality: the row needs a rate for `currency`
/// on `date_sql` (an SQL expression over the row's columns and `p.as_of`).
#[derive(Debug, Clone, Copy)]
pub struct FxNeed {
    pub currency: CurrencyOf,
    pub date_sql: &'static str,
}

/// When a row exists for a run: rows dated after as_of do not exist.
#[derive(Debug, Clone, Copy)]
pub enum Existence {
    /// Always exists (reference data, forecasts).
    Always,
    /// Exists when this date column is null or on or before as_of.
    EventDate(&'static str),
    /// A line: exists when its header does (header `system/table`, the key
    /// column shared by line and header).
    LineOf(&'static str, &'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub system: &'static str,
    pub name: &'static str,
    pub columns: &'static [Column],
    /// One line on what the rows are, for docs/contract.md.
    pub about: &'static str,
    /// What the columns alone do not say (how rows relate), for docs/contract.md.
    pub notes: &'static str,
    pub primary_key: &'static [&'static str],
    pub existence: Existence,
    pub references: &'static [Reference],
    pub deal_currency: Option<(&'static str, DealOf)>,
    pub fx_need: Option<FxNeed>,
    /// Columns that must not be negative (quantities, prices, amounts).
    pub non_negative: &'static [&'static str],
}

impl Table {
    /// `system/table`, as used in messages and `row` entity ids.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.system, self.name)
    }

    /// The DataFusion name of the raw table: `system.table`.
    pub fn raw_name(&self) -> String {
        format!("{}.{}", self.system, self.name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The canonical Arrow schema of the table.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.ty.arrow_type(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    /// The canonical types with every column nullable: how snapshots are
    /// written and staging views registered, since a null in a required column
    /// is a data-quality finding, not a read error.
    pub fn nullable_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.ty.arrow_type(), true))
                .collect::<Vec<_>>(),
        ))
    }
}

use ColumnType::{Bool, Date, Int, Money, Pct, Rate, String as Str};

pub const TABLES: &[Table] = &[
    Table {
        system: "prm",
        name: "partners",
        columns: &[
            req("partner_id", Str),
            req("name", Str),
            req("tier", Str).means("`platinum`, `gold`, `silver`, `registered`"),
            opt("parent_partner_id", Str).means("the distributor this reseller buys through (two-tier channel); null = sells direct to the vendor"),
            req("region", Str).means("e.g. `NA`, `EMEA`, `APAC`, `LATAM`"),
            req("agreement_start", Date).means("partner agreement in force from"),
            opt("agreement_end", Date).means("last day of the agreement; null = open-ended"),
            req("status", Str).means("`active` or `terminated`"),
        ],
        about: "the channel partners: resellers and the distributors they buy through",
        notes: "",
        primary_key: &["partner_id"],
        existence: Existence::Always,
        references: &[refers("parent_partner_id", "prm/partners", "partner_id")],
        deal_currency: None,
        fx_need: None,
        non_negative: &[],
    },
    Table {
        system: "prm",
        name: "partner_sales_reports",
        columns: &[
            req("report_line_id", Str),
            req("partner_id", Str).means("reporting partner"),
            opt("deal_id", Str).means("the vendor deal the partner names, when it names one"),
            req("customer_id", Str),
            req("sku", Str),
            req("quantity", Int),
            req("unit_price", Money).means("price the partner says it charged, in `currency`"),
            req("currency", Str).means("ISO 4217"),
            req("sale_date", Date),
            req("reported_date", Date),
        ],
        about: "what partners say they sold (point-of-sale reports)",
        notes: "",
        primary_key: &["report_line_id"],
        existence: Existence::EventDate("reported_date"),
        references: &[
            refers("partner_id", "prm/partners", "partner_id"),
            refers("deal_id", "crm/deals", "deal_id"),
            refers("sku", "contracts/products", "sku"),
        ],
        deal_currency: None,
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "sale_date",
        }),
        non_negative: &["quantity", "unit_price"],
    },
    Table {
        system: "crm",
        name: "deals",
        columns: &[
            req("deal_id", Str),
            opt("partner_id", Str).means("selling partner; null = direct deal"),
            req("customer_id", Str),
            req("stage", Str).means("`open`, `closed_won`, `closed_lost`"),
            opt("close_date", Date).means("null while open"),
            req("currency", Str),
            req("deal_type", Str).means("`new`, `renewal`, `expansion`"),
            opt("renewal_of_subscription_id", Str).means("for renewals: the subscription renewed"),
        ],
        about: "deals the vendor sold, directly or through a partner",
        notes: "",
        primary_key: &["deal_id"],
        existence: Existence::EventDate("close_date"),
        references: &[
            refers("partner_id", "prm/partners", "partner_id"),
            refers(
                "renewal_of_subscription_id",
                "billing/subscriptions",
                "subscription_id",
            ),
        ],
        deal_currency: None,
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "close_date",
        }),
        non_negative: &[],
    },
    Table {
        system: "crm",
        name: "deal_lines",
        columns: &[
            req("deal_id", Str),
            req("line_no", Int),
            req("sku", Str),
            req("quantity", Int),
            req("list_price", Money).means("unit list price quoted on the deal"),
            req("discount_pct", Pct).means("discount given on this line"),
            req("net_amount", Money).means("quantity × list_price × (1 − discount_pct/100), rounded to cents"),
            opt("term_months", Int).means("subscription term; null for one-time products"),
        ],
        about: "the products of each deal, as quoted",
        notes: "A deal's value is the sum of its lines' `net_amount`. Deals are billed upfront, in full.",
        primary_key: &["deal_id", "line_no"],
        existence: Existence::LineOf("crm/deals", "deal_id"),
        references: &[
            refers("deal_id", "crm/deals", "deal_id"),
            refers("sku", "contracts/products", "sku"),
        ],
        deal_currency: None,
        fx_need: None,
        non_negative: &["quantity", "list_price", "net_amount"],
    },
    Table {
        system: "crm",
        name: "forecasts",
        columns: &[
            req("partner_id", Str),
            req("period", Date).means("first day of a calendar month"),
            req("currency", Str),
            req("forecast_amount", Money).means("revenue the partner committed to for that month"),
        ],
        about: "committed partner forecast",
        notes: "",
        primary_key: &["partner_id", "period"],
        existence: Existence::Always,
        references: &[refers("partner_id", "prm/partners", "partner_id")],
        deal_currency: None,
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "period",
        }),
        non_negative: &["forecast_amount"],
    },
    Table {
        system: "contracts",
        name: "products",
        columns: &[
            req("sku", Str),
            req("name", Str),
            req("family", Str).means("e.g. `platform`, `addon`, `services`"),
            req("billing_model", Str).means("`one_time` or `subscription`"),
        ],
        about: "the products (SKUs) sold",
        notes: "",
        primary_key: &["sku"],
        existence: Existence::Always,
        references: &[],
        deal_currency: None,
        fx_need: None,
        non_negative: &[],
    },
    Table {
        system: "contracts",
        name: "price_list",
        columns: &[
            req("sku", Str),
            req("currency", Str),
            req("valid_from", Date),
            req("list_price", Money).means("unit price"),
            opt("valid_to", Date).means("last day in force; null = still in force"),
        ],
        about: "list prices per SKU and currency, over time",
        notes: "",
        primary_key: &["sku", "currency", "valid_from"],
        existence: Existence::EventDate("valid_from"),
        references: &[refers("sku", "contracts/products", "sku")],
        deal_currency: None,
        fx_need: None,
        non_negative: &["list_price"],
    },
    Table {
        system: "contracts",
        name: "discount_policies",
        columns: &[
            req("tier", Str).means("tier `direct` applies to deals with no partner"),
            req("family", Str),
            req("valid_from", Date),
            req("max_discount_pct", Pct),
            opt("valid_to", Date),
        ],
        about: "most discount a tier may give without approval",
        notes: "",
        primary_key: &["tier", "family", "valid_from"],
        existence: Existence::EventDate("valid_from"),
        references: &[],
        deal_currency: None,
        fx_need: None,
        non_negative: &[],
    },
    Table {
        system: "contracts",
        name: "discount_approvals",
        columns: &[
            req("approval_id", Str),
            req("deal_id", Str),
            req("approved_discount_pct", Pct).means("highest discount approved for any line of the deal"),
            req("approved_date", Date),
            opt("expires_date", Date).means("approval not valid after this day"),
        ],
        about: "discounts approved above the policy, per deal",
        notes: "",
        primary_key: &["approval_id"],
        existence: Existence::EventDate("approved_date"),
        references: &[refers("deal_id", "crm/deals", "deal_id")],
        deal_currency: None,
        fx_need: None,
        non_negative: &[],
    },
    Table {
        system: "contracts",
        name: "commission_plans",
        columns: &[
            req("tier", Str),
            req("level", Int).means("1 = the selling partner, 2 = its distributor (parent)"),
            req("valid_from", Date),
            req("rate_pct", Pct).means("paid on amounts collected from the customer"),
            opt("valid_to", Date),
        ],
        about: "commission rates per partner tier and level, over time",
        notes: "",
        primary_key: &["tier", "level", "valid_from"],
        existence: Existence::EventDate("valid_from"),
        references: &[],
        deal_currency: None,
        fx_need: None,
        non_negative: &[],
    },
    Table {
        system: "contracts",
        name: "fx_rates",
        columns: &[
            req("currency", Str),
            req("rate_date", Date),
            req("rate_to_reporting", Rate).means("1 unit of `currency` = this many units of the reporting currency"),
        ],
        about: "exchange rates into the reporting currency",
        notes: "The rate for a date is the latest `rate_date` on or before it. The reporting currency itself needs no row (rate 1).",
        primary_key: &["currency", "rate_date"],
        existence: Existence::EventDate("rate_date"),
        references: &[],
        deal_currency: None,
        fx_need: None,
        non_negative: &[],
    },
    Table {
        system: "billing",
        name: "invoices",
        columns: &[
            req("invoice_id", Str),
            opt("deal_id", Str),
            opt("partner_id", Str).means("bill-to partner"),
            req("customer_id", Str),
            req("invoice_date", Date),
            req("due_date", Date),
            req("currency", Str),
            req("status", Str).means("`issued` or `void`; void invoices count for nothing"),
            req("total_amount", Money).means("sum of its lines' line_amount"),
        ],
        about: "invoices issued to customers or bill-to partners",
        notes: "",
        primary_key: &["invoice_id"],
        existence: Existence::EventDate("invoice_date"),
        references: &[
            refers("deal_id", "crm/deals", "deal_id"),
            refers("partner_id", "prm/partners", "partner_id"),
        ],
        deal_currency: Some(("currency", DealOf::Deal("deal_id"))),
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "invoice_date",
        }),
        non_negative: &["total_amount"],
    },
    Table {
        system: "billing",
        name: "invoice_lines",
        columns: &[
            req("invoice_id", Str),
            req("line_no", Int),
            req("sku", Str),
            req("quantity", Int),
            req("unit_price", Money),
            req("discount_pct", Pct),
            req("line_amount", Money),
            opt("service_start", Date).means("first day of the subscription period billed"),
            opt("service_end", Date).means("last day of the subscription period billed"),
        ],
        about: "the lines of each invoice",
        notes: "",
        primary_key: &["invoice_id", "line_no"],
        existence: Existence::LineOf("billing/invoices", "invoice_id"),
        references: &[
            refers("invoice_id", "billing/invoices", "invoice_id"),
            refers("sku", "contracts/products", "sku"),
        ],
        deal_currency: None,
        fx_need: None,
        non_negative: &["quantity", "unit_price", "line_amount"],
    },
    Table {
        system: "billing",
        name: "credit_notes",
        columns: &[
            req("credit_note_id", Str),
            req("invoice_id", Str),
            req("issued_date", Date),
            req("amount", Money).means("positive; reduces what the invoice bills"),
            opt("reason", Str).means("`return`, `dispute`, `manual_correction`, or null (none given)"),
        ],
        about: "credits that reduce what an invoice bills",
        notes: "",
        primary_key: &["credit_note_id"],
        existence: Existence::EventDate("issued_date"),
        references: &[refers("invoice_id", "billing/invoices", "invoice_id")],
        deal_currency: None,
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Invoice("invoice_id"),
            date_sql: "issued_date",
        }),
        non_negative: &["amount"],
    },
    Table {
        system: "billing",
        name: "payments",
        columns: &[
            req("payment_id", Str),
            req("invoice_id", Str),
            req("payment_date", Date),
            req("amount", Money),
            req("currency", Str),
        ],
        about: "money received against invoices",
        notes: "",
        primary_key: &["payment_id"],
        existence: Existence::EventDate("payment_date"),
        references: &[refers("invoice_id", "billing/invoices", "invoice_id")],
        deal_currency: Some(("currency", DealOf::Invoice("invoice_id"))),
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "payment_date",
        }),
        non_negative: &["amount"],
    },
    Table {
        system: "billing",
        name: "subscriptions",
        columns: &[
            req("subscription_id", Str),
            req("deal_id", Str).means("deal that sold it"),
            opt("partner_id", Str),
            req("customer_id", Str),
            req("sku", Str),
            req("quantity", Int).means("seats"),
            req("start_date", Date).means("first day of the term"),
            req("end_date", Date).means("last day of the term"),
            req("auto_renew", Bool),
            req("annual_value", Money),
            req("currency", Str),
            req("status", Str).means("`active`, `expired`, `cancelled` (cancelled = the customer ended it on purpose)"),
        ],
        about: "subscription terms sold by deals",
        notes: "",
        primary_key: &["subscription_id"],
        existence: Existence::EventDate("start_date"),
        references: &[
            refers("deal_id", "crm/deals", "deal_id"),
            refers("partner_id", "prm/partners", "partner_id"),
            refers("sku", "contracts/products", "sku"),
        ],
        deal_currency: Some(("currency", DealOf::Deal("deal_id"))),
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "least(end_date, p.as_of)",
        }),
        non_negative: &["quantity", "annual_value"],
    },
    Table {
        system: "provisioning",
        name: "activations",
        columns: &[
            req("activation_id", Str),
            req("customer_id", Str),
            opt("partner_id", Str).means("partner that provisioned it"),
            req("sku", Str),
            req("quantity", Int).means("seats activated"),
            req("activated_date", Date),
        ],
        about: "seats switched on in the product",
        notes: "",
        primary_key: &["activation_id"],
        existence: Existence::EventDate("activated_date"),
        references: &[
            refers("partner_id", "prm/partners", "partner_id"),
            refers("sku", "contracts/products", "sku"),
        ],
        deal_currency: None,
        fx_need: None,
        non_negative: &["quantity"],
    },
    Table {
        system: "erp",
        name: "revenue_postings",
        columns: &[
            req("posting_id", Str),
            req("invoice_id", Str),
            req("posting_date", Date),
            req("amount", Money),
            req("currency", Str),
        ],
        about: "revenue booked in the general ledger",
        notes: "",
        primary_key: &["posting_id"],
        existence: Existence::EventDate("posting_date"),
        references: &[refers("invoice_id", "billing/invoices", "invoice_id")],
        deal_currency: Some(("currency", DealOf::Invoice("invoice_id"))),
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "posting_date",
        }),
        non_negative: &[],
    },
    Table {
        system: "commissions",
        name: "payouts",
        columns: &[
            req("payout_id", Str),
            req("partner_id", Str).means("partner paid"),
            req("deal_id", Str).means("deal the commission is for"),
            req("level", Int).means("1 or 2, as in commission_plans"),
            req("rate_pct", Pct).means("rate the commission system applied"),
            req("amount", Money),
            req("currency", Str),
            req("payout_date", Date),
        ],
        about: "commissions paid to partners",
        notes: "",
        primary_key: &["payout_id"],
        existence: Existence::EventDate("payout_date"),
        references: &[
            refers("partner_id", "prm/partners", "partner_id"),
            refers("deal_id", "crm/deals", "deal_id"),
        ],
        deal_currency: Some(("currency", DealOf::Deal("deal_id"))),
        fx_need: Some(FxNeed {
            currency: CurrencyOf::Own("currency"),
            date_sql: "payout_date",
        }),
        non_negative: &[],
    },
];

/// Looks a table up by `system/table`.
pub fn table(qualified: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.qualified() == qualified)
}

/// The columns a check must return, in order, with their types.
pub const FINDING_COLUMNS: &[Column] = &[
    req("finding_id", Str),
    req("check_id", Str),
    req("severity", Str),
    opt("partner_id", Str),
    req("entity_type", Str),
    req("entity_id", Str),
    opt("period", Date),
    opt("expected_amount", Money),
    opt("actual_amount", Money),
    req("leakage_amount", Money),
    req("currency", Str),
    req("detail", Str),
];

/// How serious a finding is. Ordered from `Info` up to `Critical`, so that
/// "at or above a threshold" (alerts, `--fail-on`) is `>=`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Most severe first: the order reports and error messages list them in.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The name checks return and the outputs carry.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// `critical, high, medium, low, info`, for messages that list the choices.
    pub fn names() -> String {
        Severity::ALL.map(Severity::as_str).join(", ")
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Severity::ALL`]'s: callers word the message,
/// as each knows where the name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSeverity;

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;

    /// The exact lowercase name.
    fn from_str(name: &str) -> Result<Severity, UnknownSeverity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or(UnknownSeverity)
    }
}

pub const ENTITY_TYPES: &[&str] = &[
    "deal",
    "deal_line",
    "invoice",
    "subscription",
    "payout_group",
    "partner_period",
    "customer_sku",
    "report_line",
    "credit_note",
    "row",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_from_info_up_and_parse_by_their_exact_names() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(Severity::names(), "critical, high, medium, low, info");
        for s in Severity::ALL {
            assert_eq!(s.to_string().parse::<Severity>(), Ok(s));
        }
        assert_eq!("High".parse::<Severity>(), Err(UnknownSeverity));
    }
}
