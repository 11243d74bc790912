-- marts.cost_reduction_monthly: what compute cost per tenant, provider, chip vendor and month, before and
-- after subsidy, per PFLOP-hour, and how much cheaper it is than two baselines:
--   own:       the tenant's own first three calendar months with usage (all its providers and chips);
--   reference: the cheapest overseas-cloud list price per PFLOP-hour in ref.rate_cards (providers of type
--              'overseas_cloud', GPU-hour cards), converted to CNY at the month's ref.fx_rates rate.
-- Month: first day of the Asia/Shanghai month of charge_date. Costs sum every charge line of the group
-- (credits and corrections are negative); hours sum every line. Subsidy: marts.subsidy_attribution amounts of
-- the group's lines (reversals negative). Net cost = effective cost - subsidy. Reductions in percent:
-- 100 x (1 - cost per PFLOP-hour / baseline cost per PFLOP-hour); NULL where either side has no PFLOP-hours.
-- Priced lines only: a workload trace loaded without prices has no cost to reduce. usage_kind tells GPU time
-- ('gpu_time', credits and corrections included) from model-API tokens ('tokens': costs, no GPU-hours, so no
-- cost per PFLOP-hour); the own baseline is the tenant's GPU time.
-- Hours are summed as DECIMAL(18,6) (each line rounded to 6 decimals) so that a re-run gives identical values
-- whatever the summation order.
WITH subsidy AS (
    SELECT charge_line_id, sum(amount_cny) AS subsidy_cny
    FROM marts_subsidy_attribution
    GROUP BY charge_line_id
),
monthly AS (
    SELECT
        CAST(date_trunc('month', u.charge_date) AS DATE) AS month,
        u.tenant_id,
        u.provider_id,
        coalesce(u.chip_vendor, 'unknown') AS chip_vendor,
        CASE WHEN u.consumed_unit ILIKE '%token%' THEN 'tokens' ELSE 'gpu_time' END AS usage_kind,
        count(*) AS charge_lines,
        coalesce(sum(CAST(u.gpu_hours AS DECIMAL(18,6))), 0) AS gpu_hours,
        coalesce(sum(CAST(u.pflop_hours AS DECIMAL(18,6))), 0) AS pflop_hours,
        CAST(coalesce(sum(u.list_cost_cny), 0) AS DECIMAL(18,4)) AS list_cost_cny,
        CAST(coalesce(sum(u.billed_cost_cny), 0) AS DECIMAL(18,4)) AS billed_cost_cny,
        CAST(coalesce(sum(u.effective_cost_cny), 0) AS DECIMAL(18,4)) AS effective_cost_cny,
        CAST(coalesce(sum(s.subsidy_cny), 0) AS DECIMAL(18,4)) AS subsidy_cny
    FROM core_compute_usage u
    LEFT JOIN subsidy s USING (charge_line_id)
    WHERE u.tenant_id IS NOT NULL AND u.billed_cost_cny IS NOT NULL
    GROUP BY ALL
),
costed AS (
    SELECT *, CAST(effective_cost_cny - subsidy_cny AS DECIMAL(18,4)) AS net_cost_cny FROM monthly
),
first_month AS (
    SELECT tenant_id, min(month) AS own_baseline_start FROM costed WHERE pflop_hours > 0 GROUP BY tenant_id
),
own AS (
    SELECT
        c.tenant_id,
        f.own_baseline_start,
        round(sum(c.effective_cost_cny) / nullif(sum(c.pflop_hours), 0), 4) AS own_baseline_effective,
        round(sum(c.net_cost_cny) / nullif(sum(c.pflop_hours), 0), 4) AS own_baseline_net
    FROM costed c
    JOIN first_month f USING (tenant_id)
    WHERE c.month < f.own_baseline_start + INTERVAL 3 MONTH AND c.usage_kind = 'gpu_time'
    GROUP BY ALL
),
reference AS (
    SELECT
        m.month,
        arg_min(r.provider_id || ' ' || r.chip_model, r.list_price * fx.rate_to_cny / c.dense_tflops)
            AS reference_card,
        round(min(r.list_price * fx.rate_to_cny / (c.dense_tflops / 1000)), 4)
            AS reference_cost_per_pflop_hour
    FROM (SELECT DISTINCT month FROM costed) m
    JOIN ref_rate_cards r ON r.valid_from <= m.month AND (r.valid_to IS NULL OR m.month <= r.valid_to)
    JOIN ref_providers p ON p.provider_id = r.provider_id AND p.provider_type = 'overseas_cloud'
    JOIN ref_chips c ON c.chip_model = r.chip_model AND c.dense_tflops > 0
    JOIN ref_fx_rates fx ON fx.currency = r.currency AND fx.valid_from <= m.month
        AND (fx.valid_to IS NULL OR m.month <= fx.valid_to)
    WHERE r.service = 'gpu_compute' AND r.unit = 'gpu_hour'
    GROUP BY m.month
),
per_hour AS (
    SELECT
        c.*,
        CAST(round(c.list_cost_cny / nullif(c.pflop_hours, 0), 4) AS DECIMAL(18,4))
            AS list_cost_per_pflop_hour,
        CAST(round(c.effective_cost_cny / nullif(c.pflop_hours, 0), 4) AS DECIMAL(18,4))
            AS effective_cost_per_pflop_hour,
        CAST(round(c.net_cost_cny / nullif(c.pflop_hours, 0), 4) AS DECIMAL(18,4)) AS net_cost_per_pflop_hour
    FROM costed c
)
SELECT
    h.month,
    h.tenant_id,
    h.provider_id,
    h.chip_vendor,
    h.usage_kind,
    h.charge_lines,
    h.gpu_hours,
    h.pflop_hours,
    h.list_cost_cny,
    h.billed_cost_cny,
    h.effective_cost_cny,
    h.subsidy_cny,
    h.net_cost_cny,
    h.list_cost_per_pflop_hour,
    h.effective_cost_per_pflop_hour,
    h.net_cost_per_pflop_hour,
    o.own_baseline_start,
    h.month < o.own_baseline_start + INTERVAL 3 MONTH AS in_own_baseline,
    CAST(o.own_baseline_effective AS DECIMAL(18,4)) AS own_baseline_effective_cost_per_pflop_hour,
    CAST(o.own_baseline_net AS DECIMAL(18,4)) AS own_baseline_net_cost_per_pflop_hour,
    round(100 * (1 - h.effective_cost_per_pflop_hour / nullif(o.own_baseline_effective, 0)), 2)
        AS effective_reduction_vs_own_baseline_pct,
    round(100 * (1 - h.net_cost_per_pflop_hour / nullif(o.own_baseline_net, 0)), 2)
        AS net_reduction_vs_own_baseline_pct,
    r.reference_card,
    CAST(r.reference_cost_per_pflop_hour AS DECIMAL(18,4)) AS reference_cost_per_pflop_hour,
    round(100 * (1 - h.effective_cost_per_pflop_hour / nullif(r.reference_cost_per_pflop_hour, 0)), 2)
        AS effective_reduction_vs_reference_pct,
    round(100 * (1 - h.net_cost_per_pflop_hour / nullif(r.reference_cost_per_pflop_hour, 0)), 2)
        AS net_reduction_vs_reference_pct
FROM per_hour h
LEFT JOIN own o USING (tenant_id)
LEFT JOIN reference r USING (month)
ORDER BY h.month, h.tenant_id, h.provider_id, h.chip_vendor, h.usage_kind
