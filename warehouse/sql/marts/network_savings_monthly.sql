-- marts.network_savings_monthly: marts.network_savings summed per tenant and month (Asia/Shanghai transfer day).
-- Grain: month x tenant_id. Hours and savings count completed transfers; billed cost counts every transfer,
-- failed ones too (failed_cost_cny shows their part). saving_pct compares the completed transfers' billed cost
-- with their counterfactual cost at the base bandwidth.
SELECT
    month,
    tenant_id,
    count(*) AS transfers,
    count(*) FILTER (WHERE status = 'completed') AS completed_transfers,
    count(*) FILTER (WHERE status <> 'completed') AS failed_transfers,
    count(*) FILTER (WHERE status = 'completed' AND boosted) AS boosted_transfers,
    coalesce(sum(bytes) FILTER (WHERE status = 'completed'), 0) AS bytes_moved,
    coalesce(exact_sum(CASE WHEN status = 'completed' THEN actual_hours END), 0) AS actual_hours,
    coalesce(exact_sum(CASE WHEN status = 'completed' THEN base_hours END), 0) AS base_hours,
    coalesce(exact_sum(hours_saved), 0) AS hours_saved,
    sum(billed_cost_cny) AS billed_cost_cny,
    coalesce(sum(billed_cost_cny) FILTER (WHERE status <> 'completed'), 0) AS failed_cost_cny,
    sum(counterfactual_cost_cny) AS counterfactual_cost_cny,
    sum(saving_cny) AS saving_cny,
    round(100 * sum(saving_cny) / nullif(sum(counterfactual_cost_cny), 0), 2) AS saving_pct
FROM marts_network_savings
GROUP BY month, tenant_id
ORDER BY month, tenant_id
