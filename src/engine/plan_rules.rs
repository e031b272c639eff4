//! Plan rewrites the embedded engine applies to every query.
//!
//! Checks read their parameters with `cross join params p` and test them in
//! `where` (`i.invoice_date <= p.as_of - p.posting_grace_days`). DataFusion
//! pushes such a condition into the cross join, which then runs as a nested-loop
//! join that evaluates the condition through its join filter, an order of
//! magnitude slower than filtering the rows. [`FilterOneRowJoins`] turns an inner
//! nested-loop join whose build side is exactly one row back into a cross join
//! followed by a filter: the same rows, at the cost of a filter.
//!
//! Before that, in the logical plan, [`InlineConstantRows`] removes the join
//! altogether where the one row is constant, as `params` is: its values become
//! literals, and the conditions on them filters DataFusion folds and pushes down.

use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::JoinType;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::joins::{CrossJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::projection::ProjectionExec;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct FilterOneRowJoins;

impl PhysicalOptimizerRule for FilterOneRowJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<NestedLoopJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            match filtered_cross_join(join)? {
                Some(rewritten) => Ok(Transformed::yes(rewritten)),
                None => Ok(Transformed::no(node)),
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "revleak_filter_one_row_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `join` as filter(cross join), projected as the join was; `None` when it is
/// not an inner join with a filter and a build side of exactly one row.
fn filtered_cross_join(join: &NestedLoopJoinExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(filter) = join.filter() else {
        return Ok(None);
    };
    if *join.join_type() != JoinType::Inner {
        return Ok(None);
    }
    let build_rows = datafusion::physical_plan::StatisticsContext::new()
        .compute(
            join.left().as_ref(),
            &datafusion::physical_plan::StatisticsArgs::new(),
        )?
        .num_rows;
    if build_rows != Precision::Exact(1) {
        return Ok(None);
    }
    let left_width = join.left().schema().fields().len();
    let cross: Arc<dyn ExecutionPlan> = Arc::new(CrossJoinExec::new(
        Arc::clone(join.left()),
        Arc::clone(join.right()),
    ));
    let predicate = on_cross_join(filter, left_width, &cross)?;
    let filtered: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(predicate, cross)?);
    let schema = filtered.schema();
    let kept: Vec<usize> = match join.projection() {
        Some(projection) => projection.to_vec(),
        None => (0..schema.fields().len()).collect(),
    };
    let columns: Vec<(Arc<dyn PhysicalExpr>, String)> = kept
        .into_iter()
        .map(|i| {
            let name = schema.field(i).name().to_string();
            (
                Arc::new(Column::new(&name, i)) as Arc<dyn PhysicalExpr>,
                name,
            )
        })
        .collect();
    Ok(Some(Arc::new(ProjectionExec::try_new(columns, filtered)?)))
}

/// The join filter's expression over the cross join's columns (the left
/// input's, then the right input's).
fn on_cross_join(
    filter: &JoinFilter,
    left_width: usize,
    cross: &Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn PhysicalExpr>> {
    use datafusion::common::JoinSide;
    let schema = cross.schema();
    Arc::clone(filter.expression())
        .transform_up(|expr| {
            let Some(column) = expr.downcast_ref::<Column>() else {
                return Ok(Transformed::no(expr));
            };
            let source = &filter.column_indices()[column.index()];
            let at = match source.side {
                JoinSide::Left => source.index,
                _ => left_width + source.index,
            };
            Ok(Transformed::yes(
                Arc::new(Column::new(schema.field(at).name(), at)) as Arc<dyn PhysicalExpr>,
            ))
        })
        .data()
}

/// Logical rewrite: an inner join with a relation of one constant row (`cross
/// join params p`, `join params p on …`) becomes the other input with that
/// row's values as literal columns, and the join's conditions a filter.
///
/// Then `s.end_date between p.as_of - p.renewal_lookback_days and …` is a
/// comparison with a constant, which DataFusion folds and pushes down to the
/// scan beside the check's other conditions: the rows are filtered once, by
/// the most selective test, instead of being copied by a cheap filter below the
/// join and filtered again above it.
#[derive(Debug, Default)]
pub struct InlineConstantRows;

impl datafusion::optimizer::OptimizerRule for InlineConstantRows {
    fn name(&self) -> &str {
        "revleak_inline_constant_rows"
    }

    fn apply_order(&self) -> Option<datafusion::optimizer::optimizer::ApplyOrder> {
        Some(datafusion::optimizer::optimizer::ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: datafusion::logical_expr::LogicalPlan,
        _config: &dyn datafusion::optimizer::OptimizerConfig,
    ) -> Result<Transformed<datafusion::logical_expr::LogicalPlan>> {
        use datafusion::logical_expr::{Expr, Filter, LogicalPlan, Projection};
        let LogicalPlan::Join(join) = &plan else {
            return Ok(Transformed::no(plan));
        };
        if join.join_type != JoinType::Inner {
            return Ok(Transformed::no(plan));
        }
        let (row, constant_side, other, constant_first) =
            if let Some(row) = constant_row(&join.right) {
                (row, &join.right, &join.left, false)
            } else if let Some(row) = constant_row(&join.left) {
                (row, &join.left, &join.right, true)
            } else {
                return Ok(Transformed::no(plan));
            };
        let constants: Vec<Expr> = constant_side
            .schema()
            .iter()
            .zip(row)
            .map(|((qualifier, field), value)| {
                value.alias_qualified(qualifier.cloned(), field.name())
            })
            .collect();
        let passed: Vec<Expr> = other
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        let exprs = if constant_first {
            constants.into_iter().chain(passed).collect()
        } else {
            passed.into_iter().chain(constants).collect()
        };
        let projected = LogicalPlan::Projection(Projection::try_new(exprs, Arc::clone(other))?);
        let condition = join
            .on
            .iter()
            .map(|(left, right)| left.clone().eq(right.clone()))
            .chain(join.filter.clone())
            .reduce(Expr::and);
        let rewritten = match condition {
            Some(condition) => {
                LogicalPlan::Filter(Filter::try_new(condition, Arc::new(projected))?)
            }
            None => projected,
        };
        Ok(Transformed::yes(rewritten))
    }
}

/// The values of `plan`'s one row, in its column order, when it is one row of
/// constants (a `values` row under projections and aliases).
fn constant_row(
    plan: &datafusion::logical_expr::LogicalPlan,
) -> Option<Vec<datafusion::logical_expr::Expr>> {
    use datafusion::logical_expr::{Expr, LogicalPlan};
    let constant = |e: &Expr| e.column_refs().is_empty() && !e.is_volatile();
    match plan {
        LogicalPlan::Values(values) if values.values.len() == 1 => {
            let row = &values.values[0];
            row.iter().all(constant).then(|| row.clone())
        }
        LogicalPlan::SubqueryAlias(alias) => constant_row(&alias.input),
        LogicalPlan::Projection(projection) => {
            let below = constant_row(&projection.input)?;
            let schema = projection.input.schema();
            let row: Option<Vec<Expr>> = projection
                .expr
                .iter()
                .map(|e| {
                    e.clone()
                        .unalias_nested()
                        .data
                        .transform(|e| match &e {
                            Expr::Column(c) => match schema.index_of_column(c) {
                                Ok(i) => Ok(Transformed::yes(below[i].clone())),
                                Err(err) => Err(err),
                            },
                            _ => Ok(Transformed::no(e)),
                        })
                        .data()
                        .ok()
                })
                .collect();
            row.filter(|row| row.iter().all(constant))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::session::{EngineSettings, session_with};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::displayable;

    const QUERY: &str = "select t.id, t.day \
        from (values (1, date '2026-01-01'), (2, date '2026-02-01'), (3, date '2026-03-01')) t(id, day) \
        cross join (select date '2026-02-01' as as_of) p \
        where t.day <= p.as_of and t.id <> 3 order by t.id";

    /// The physical plan of `sql` as text, and its rows as a table.
    async fn plan_and_rows(
        ctx: &datafusion::prelude::SessionContext,
        sql: &str,
    ) -> (String, String) {
        let df = ctx.sql(sql).await.expect("plans");
        let plan = df
            .clone()
            .create_physical_plan()
            .await
            .expect("physical plan");
        let shown = displayable(plan.as_ref()).indent(true).to_string();
        let rows = pretty_format_batches(&df.collect().await.expect("runs"))
            .expect("prints")
            .to_string();
        (shown, rows)
    }

    #[tokio::test]
    async fn a_condition_on_a_one_row_side_is_a_filter_over_a_cross_join() {
        let with_rule = session_with(&EngineSettings::default()).expect("session");
        let (plan, rows) = plan_and_rows(&with_rule, QUERY).await;
        assert!(!plan.contains("NestedLoopJoinExec"), "{plan}");
        assert!(
            plan.contains("CrossJoinExec") && plan.contains("FilterExec"),
            "{plan}"
        );

        // The stock engine runs the same query as a nested-loop join: same rows.
        let (stock_plan, stock_rows) =
            plan_and_rows(&datafusion::prelude::SessionContext::new(), QUERY).await;
        assert!(stock_plan.contains("NestedLoopJoinExec"), "{stock_plan}");
        assert_eq!(rows, stock_rows);
        assert!(
            rows.contains("| 1  |") && rows.contains("| 2  |") && !rows.contains("| 3  |"),
            "{rows}"
        );
    }

    /// A session (revleak's or the stock one) with `params` registered as a
    /// run registers it (a one-row literal plan) and a table of lines.
    fn with_tables(
        ctx: datafusion::prelude::SessionContext,
    ) -> datafusion::prelude::SessionContext {
        use datafusion::arrow::array::{Date32Array, Int32Array, RecordBatch, StringArray};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;
        let params = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("as_of", DataType::Date32, true),
                Field::new("currency", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Date32Array::from(vec![20_485])), // 2026-02-01
                Arc::new(StringArray::from(vec!["EUR"])),
            ],
        )
        .unwrap();
        let plan = crate::engine::session::literal_plan(&params).unwrap();
        ctx.register_table(
            "params",
            datafusion::dataframe::DataFrame::new(ctx.state(), plan).into_view(),
        )
        .unwrap();
        let lines = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int32, false),
                Field::new("day", DataType::Date32, true),
                Field::new("cur", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3, 4])),
                Arc::new(Date32Array::from(vec![
                    Some(20_454),
                    Some(20_485),
                    Some(20_513),
                    None,
                ])),
                Arc::new(StringArray::from(vec![
                    Some("EUR"),
                    Some("USD"),
                    Some("EUR"),
                    None,
                ])),
            ],
        )
        .unwrap();
        ctx.register_batch("lines", lines).unwrap();
        ctx
    }

    #[tokio::test]
    async fn a_join_with_the_params_row_becomes_a_filter_on_constants() {
        let revleak = with_tables(session_with(&EngineSettings::default()).expect("session"));
        let stock = with_tables(datafusion::prelude::SessionContext::new());
        for (sql, expected) in [
            (
                "select l.id from lines l cross join params p \
                 where l.day <= p.as_of and l.id <> 3 order by l.id",
                vec![1, 2],
            ),
            (
                "select l.id from params p join lines l on l.cur = p.currency order by l.id",
                vec![1, 3],
            ),
            (
                "select l.id, p.currency from params p cross join lines l \
                 where l.day between p.as_of - 31 and p.as_of order by l.id",
                vec![1, 2],
            ),
        ] {
            let (plan, rows) = plan_and_rows(&revleak, sql).await;
            assert!(!plan.contains("Join"), "{sql}\n{plan}");
            assert!(plan.contains("FilterExec"), "{sql}\n{plan}");
            let (stock_plan, stock_rows) = plan_and_rows(&stock, sql).await;
            assert!(stock_plan.contains("Join"), "{sql}\n{stock_plan}");
            assert_eq!(rows, stock_rows, "{sql}");
            for id in [1, 2, 3, 4] {
                assert_eq!(
                    rows.contains(&format!("| {id}  ")),
                    expected.contains(&id),
                    "{sql}\n{rows}"
                );
            }
        }
    }
}
