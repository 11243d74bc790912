-- marts.chip_mix: daily GPU-hours and PFLOP-hours by site, provider and chip vendor, with the domestic share.
-- Grain: usage_date (Asia/Shanghai) x site_id x provider_id x chip_vendor. Usage charges of GPU time only (no
-- credits; model-API token lines have no GPU-hours and are left out); GPU time on a chip nobody named counts
-- under chip_vendor 'unknown' (its PFLOP-hours are NULL).
-- Hours are summed exactly (exact_sum: decimals, rounded to 6 places; the shares from those decimals) so that a
-- re-run gives identical values whatever the summation order.
WITH daily AS (
    SELECT
        charge_date AS usage_date,
        site_id,
        provider_id,
        any_value(provider_name) AS provider_name,
        coalesce(chip_vendor, 'unknown') AS chip_vendor,
        coalesce(bool_or(is_domestic_chip), FALSE) AS is_domestic_chip,
        count(*) AS charge_lines,
        exact_sum(CAST(gpu_hours AS DECIMAL(38,6))) AS gpu_hours,
        exact_sum(CAST(pflop_hours AS DECIMAL(38,6))) AS pflop_hours,
        sum(effective_cost_cny) AS effective_cost_cny
    FROM core_compute_usage
    WHERE charge_category = 'Usage' AND gpu_hours IS NOT NULL
    GROUP BY ALL
)
SELECT
    *,
    round(coalesce(sum(CAST(gpu_hours AS DECIMAL(38,6))) FILTER (WHERE is_domestic_chip) OVER site_day, 0)
        / nullif(sum(CAST(gpu_hours AS DECIMAL(38,6))) OVER site_day, 0), 6) AS site_domestic_share_gpu_hours,
    round(coalesce(sum(CAST(pflop_hours AS DECIMAL(38,6))) FILTER (WHERE is_domestic_chip) OVER site_day, 0)
        / nullif(sum(CAST(pflop_hours AS DECIMAL(38,6))) OVER site_day, 0), 6) AS site_domestic_share_pflop_hours,
    round(coalesce(sum(CAST(gpu_hours AS DECIMAL(38,6))) FILTER (WHERE is_domestic_chip) OVER all_day, 0)
        / nullif(sum(CAST(gpu_hours AS DECIMAL(38,6))) OVER all_day, 0), 6) AS day_domestic_share_gpu_hours
FROM daily
WINDOW site_day AS (PARTITION BY usage_date, site_id), all_day AS (PARTITION BY usage_date)
ORDER BY usage_date, site_id, provider_id, chip_vendor
