//! Typed rows of the 19 contract tables, in contract column order, and the cells
//! they turn into when written.

use chrono::NaiveDate as Date;
use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds to cents, half away from zero (docs/checks.md).
pub fn r2(x: Decimal) -> Decimal {
    let mut y = x.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    y.rescale(2);
    y
}

/// Whether an amount is a whole number of cents.
pub fn is_cents(x: Decimal) -> bool {
    x.round_dp(2) == x
}

pub fn dec(units: i64) -> Decimal {
    Decimal::from(units)
}

/// `cents / 100` as a money amount.
pub fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Str(String),
    Date(Date),
    Int(i64),
    Dec(Decimal),
    Bool(bool),
}

impl Cell {
    /// The text of a key part in a `row` entity id (dates ISO).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn key_text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Str(s) => s.clone(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Int(i) => i.to_string(),
            Cell::Dec(d) => d.to_string(),
            Cell::Bool(b) => b.to_string(),
        }
    }
}

fn s(x: &str) -> Cell {
    Cell::Str(x.to_string())
}
fn os(x: &Option<String>) -> Cell {
    x.as_deref().map_or(Cell::Null, s)
}
fn d(x: Date) -> Cell {
    Cell::Date(x)
}
fn od(x: Option<Date>) -> Cell {
    x.map_or(Cell::Null, Cell::Date)
}
fn i(x: i64) -> Cell {
    Cell::Int(x)
}
fn oi(x: Option<i64>) -> Cell {
    x.map_or(Cell::Null, Cell::Int)
}
fn m(x: Decimal) -> Cell {
    Cell::Dec(x)
}

pub trait Row {
    fn cells(&self) -> Vec<Cell>;
}

#[derive(Debug, Clone)]
pub struct Partner {
    pub partner_id: String,
    pub name: String,
    pub tier: String,
    pub parent_partner_id: Option<String>,
    pub region: String,
    pub agreement_start: Date,
    pub agreement_end: Option<Date>,
    pub status: String,
}
impl Row for Partner {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.partner_id),
            s(&self.name),
            s(&self.tier),
            os(&self.parent_partner_id),
            s(&self.region),
            d(self.agreement_start),
            od(self.agreement_end),
            s(&self.status),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct ReportLine {
    pub report_line_id: String,
    pub partner_id: String,
    pub deal_id: Option<String>,
    pub customer_id: String,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Decimal,
    pub currency: String,
    pub sale_date: Date,
    pub reported_date: Date,
}
impl Row for ReportLine {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.report_line_id),
            s(&self.partner_id),
            os(&self.deal_id),
            s(&self.customer_id),
            s(&self.sku),
            i(self.quantity),
            m(self.unit_price),
            s(&self.currency),
            d(self.sale_date),
            d(self.reported_date),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Deal {
    pub deal_id: String,
    pub partner_id: Option<String>,
    pub customer_id: String,
    pub stage: String,
    pub close_date: Option<Date>,
    pub currency: String,
    pub deal_type: String,
    pub renewal_of_subscription_id: Option<String>,
}
impl Row for Deal {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.deal_id),
            os(&self.partner_id),
            s(&self.customer_id),
            s(&self.stage),
            od(self.close_date),
            s(&self.currency),
            s(&self.deal_type),
            os(&self.renewal_of_subscription_id),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct DealLine {
    pub deal_id: String,
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub list_price: Decimal,
    pub discount_pct: Decimal,
    pub net_amount: Decimal,
    pub term_months: Option<i64>,
}
impl Row for DealLine {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.deal_id),
            i(self.line_no),
            s(&self.sku),
            i(self.quantity),
            m(self.list_price),
            m(self.discount_pct),
            m(self.net_amount),
            oi(self.term_months),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Forecast {
    pub partner_id: String,
    pub period: Date,
    pub currency: String,
    pub forecast_amount: Decimal,
}
impl Row for Forecast {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.partner_id),
            d(self.period),
            s(&self.currency),
            m(self.forecast_amount),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub family: String,
    pub billing_model: String,
}
impl Row for Product {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.sku),
            s(&self.name),
            s(&self.family),
            s(&self.billing_model),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Price {
    pub sku: String,
    pub currency: String,
    pub valid_from: Date,
    pub list_price: Decimal,
    pub valid_to: Option<Date>,
}
impl Row for Price {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.sku),
            s(&self.currency),
            d(self.valid_from),
            m(self.list_price),
            od(self.valid_to),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub tier: String,
    pub family: String,
    pub valid_from: Date,
    pub max_discount_pct: Decimal,
    pub valid_to: Option<Date>,
}
impl Row for Policy {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.tier),
            s(&self.family),
            d(self.valid_from),
            m(self.max_discount_pct),
            od(self.valid_to),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Approval {
    pub approval_id: String,
    pub deal_id: String,
    pub approved_discount_pct: Decimal,
    pub approved_date: Date,
    pub expires_date: Option<Date>,
}
impl Row for Approval {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.approval_id),
            s(&self.deal_id),
            m(self.approved_discount_pct),
            d(self.approved_date),
            od(self.expires_date),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub tier: String,
    pub level: i64,
    pub valid_from: Date,
    pub rate_pct: Decimal,
    pub valid_to: Option<Date>,
}
impl Row for Plan {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.tier),
            i(self.level),
            d(self.valid_from),
            m(self.rate_pct),
            od(self.valid_to),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct FxRate {
    pub currency: String,
    pub rate_date: Date,
    pub rate_to_reporting: Decimal,
}
impl Row for FxRate {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.currency),
            d(self.rate_date),
            m(self.rate_to_reporting),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Invoice {
    pub invoice_id: String,
    pub deal_id: Option<String>,
    pub partner_id: Option<String>,
    pub customer_id: String,
    pub invoice_date: Date,
    pub due_date: Date,
    pub currency: String,
    pub status: String,
    pub total_amount: Decimal,
}
impl Row for Invoice {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.invoice_id),
            os(&self.deal_id),
            os(&self.partner_id),
            s(&self.customer_id),
            d(self.invoice_date),
            d(self.due_date),
            s(&self.currency),
            s(&self.status),
            m(self.total_amount),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct InvoiceLine {
    pub invoice_id: String,
    pub line_no: i64,
    pub sku: String,
    pub quantity: i64,
    pub unit_price: Decimal,
    pub discount_pct: Decimal,
    pub line_amount: Decimal,
    pub service_start: Option<Date>,
    pub service_end: Option<Date>,
}
impl Row for InvoiceLine {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.invoice_id),
            i(self.line_no),
            s(&self.sku),
            i(self.quantity),
            m(self.unit_price),
            m(self.discount_pct),
            m(self.line_amount),
            od(self.service_start),
            od(self.service_end),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct CreditNote {
    pub credit_note_id: String,
    pub invoice_id: String,
    pub issued_date: Date,
    pub amount: Decimal,
    pub reason: Option<String>,
}
impl Row for CreditNote {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.credit_note_id),
            s(&self.invoice_id),
            d(self.issued_date),
            m(self.amount),
            os(&self.reason),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub payment_id: String,
    pub invoice_id: String,
    pub payment_date: Date,
    pub amount: Decimal,
    pub currency: String,
}
impl Row for Payment {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.payment_id),
            s(&self.invoice_id),
            d(self.payment_date),
            m(self.amount),
            s(&self.currency),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub subscription_id: String,
    pub deal_id: String,
    pub partner_id: Option<String>,
    pub customer_id: String,
    pub sku: String,
    pub quantity: i64,
    pub start_date: Date,
    pub end_date: Date,
    pub auto_renew: bool,
    pub annual_value: Decimal,
    pub currency: String,
    pub status: String,
}
impl Row for Subscription {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.subscription_id),
            s(&self.deal_id),
            os(&self.partner_id),
            s(&self.customer_id),
            s(&self.sku),
            i(self.quantity),
            d(self.start_date),
            d(self.end_date),
            Cell::Bool(self.auto_renew),
            m(self.annual_value),
            s(&self.currency),
            s(&self.status),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Activation {
    pub activation_id: String,
    pub customer_id: String,
    pub partner_id: Option<String>,
    pub sku: String,
    pub quantity: i64,
    pub activated_date: Date,
}
impl Row for Activation {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.activation_id),
            s(&self.customer_id),
            os(&self.partner_id),
            s(&self.sku),
            i(self.quantity),
            d(self.activated_date),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Posting {
    pub posting_id: String,
    pub invoice_id: String,
    pub posting_date: Date,
    pub amount: Decimal,
    pub currency: String,
}
impl Row for Posting {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.posting_id),
            s(&self.invoice_id),
            d(self.posting_date),
            m(self.amount),
            s(&self.currency),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Payout {
    pub payout_id: String,
    pub partner_id: String,
    pub deal_id: String,
    pub level: i64,
    pub rate_pct: Decimal,
    pub amount: Decimal,
    pub currency: String,
    pub payout_date: Date,
}
impl Row for Payout {
    fn cells(&self) -> Vec<Cell> {
        vec![
            s(&self.payout_id),
            s(&self.partner_id),
            s(&self.deal_id),
            i(self.level),
            m(self.rate_pct),
            m(self.amount),
            s(&self.currency),
            d(self.payout_date),
        ]
    }
}

/// Everything the generator writes, table by table. `extra` holds rows given as
/// cells (defects that typed rows cannot hold, e.g. a null in a required column).
#[derive(Debug, Default)]
pub struct GeneratedSnapshot {
    pub partners: Vec<Partner>,
    pub reports: Vec<ReportLine>,
    pub deals: Vec<Deal>,
    pub deal_lines: Vec<DealLine>,
    pub forecasts: Vec<Forecast>,
    pub products: Vec<Product>,
    pub prices: Vec<Price>,
    pub policies: Vec<Policy>,
    pub approvals: Vec<Approval>,
    pub plans: Vec<Plan>,
    pub fx_rates: Vec<FxRate>,
    pub invoices: Vec<Invoice>,
    pub invoice_lines: Vec<InvoiceLine>,
    pub credit_notes: Vec<CreditNote>,
    pub payments: Vec<Payment>,
    pub subscriptions: Vec<Subscription>,
    pub activations: Vec<Activation>,
    pub postings: Vec<Posting>,
    pub payouts: Vec<Payout>,
    pub extra: Vec<(&'static str, Vec<Cell>)>,
}

fn cells_of<R: Row>(rows: &[R]) -> Vec<Vec<Cell>> {
    rows.iter().map(Row::cells).collect()
}

impl GeneratedSnapshot {
    /// The typed rows of a table (`system/table`) as cells, in row order.
    pub fn typed_cells(&self, qualified: &str) -> Vec<Vec<Cell>> {
        match qualified {
            "prm/partners" => cells_of(&self.partners),
            "prm/partner_sales_reports" => cells_of(&self.reports),
            "crm/deals" => cells_of(&self.deals),
            "crm/deal_lines" => cells_of(&self.deal_lines),
            "crm/forecasts" => cells_of(&self.forecasts),
            "contracts/products" => cells_of(&self.products),
            "contracts/price_list" => cells_of(&self.prices),
            "contracts/discount_policies" => cells_of(&self.policies),
            "contracts/discount_approvals" => cells_of(&self.approvals),
            "contracts/commission_plans" => cells_of(&self.plans),
            "contracts/fx_rates" => cells_of(&self.fx_rates),
            "billing/invoices" => cells_of(&self.invoices),
            "billing/invoice_lines" => cells_of(&self.invoice_lines),
            "billing/credit_notes" => cells_of(&self.credit_notes),
            "billing/payments" => cells_of(&self.payments),
            "billing/subscriptions" => cells_of(&self.subscriptions),
            "provisioning/activations" => cells_of(&self.activations),
            "erp/revenue_postings" => cells_of(&self.postings),
            "commissions/payouts" => cells_of(&self.payouts),
            other => panic!("unknown table {other}"),
        }
    }

    /// All rows of a table: the typed rows, then the extra rows.
    pub fn all_cells(&self, qualified: &str) -> Vec<Vec<Cell>> {
        let mut rows = self.typed_cells(qualified);
        rows.extend(
            self.extra
                .iter()
                .filter(|(t, _)| *t == qualified)
                .map(|(_, c)| c.clone()),
        );
        rows
    }
}
