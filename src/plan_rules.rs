//! Physical plan rewrites the embedded engine applies to every query.
//!
//! Checks read their parameters with `cross join params p` and test them in
//! `where` (`i.invoice_date <= p.as_of - p.posting_grace_days`). DataFusion
//! pushes such a condition into the cross join, which then runs as a nested-loop
//! join that evaluates the condition through its join filter, an order of
//! magnitude slower than filtering the rows. [`FilterOneRowJoins`] turns an inner
//! nested-loop join whose build side is exactly one row back into a cross join
//! followed by a filter: the same rows, at the cost of a filter.

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

#[cfg(test)]
mod tests {
    use crate::run::{EngineSettings, session_with};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::displayable;

    const QUERY: &str = "select t.id, t.day \
        from (values (1, date '2026-01-01'), (2, date '2026-02-01'), (3, date '2026-03-01')) t(id, day) \
        cross join (select date '2026-02-01' as as_of) p \
        where t.day <= p.as_of and t.id <> 3 order by t.id";

    async fn plan_and_rows(ctx: &datafusion::prelude::SessionContext) -> (String, String) {
        let df = ctx.sql(QUERY).await.expect("plans");
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
        let (plan, rows) = plan_and_rows(&with_rule).await;
        assert!(!plan.contains("NestedLoopJoinExec"), "{plan}");
        assert!(
            plan.contains("CrossJoinExec") && plan.contains("FilterExec"),
            "{plan}"
        );

        // The stock engine runs the same query as a nested-loop join: same rows.
        let (stock_plan, stock_rows) =
            plan_and_rows(&datafusion::prelude::SessionContext::new()).await;
        assert!(stock_plan.contains("NestedLoopJoinExec"), "{stock_plan}");
        assert_eq!(rows, stock_rows);
        assert!(
            rows.contains("| 1  |") && rows.contains("| 2  |") && !rows.contains("| 3  |"),
            "{rows}"
        );
    }
}
