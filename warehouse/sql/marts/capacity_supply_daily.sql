-- marts.capacity_supply_daily: cards and available GPU-hours and PFLOP-hours per day, site and chip family.
-- Grain: supply_date x site_id x chip_family, plus site_id = 'all' (the city's sites summed) per family.
-- ref.capacity_plan holds cumulative cards per site and chip from each effective date (installed or planned);
-- a row holds until the next row of the same site and chip. The pool is pool_share of the cards: the part
-- that serves the tenants whose usage ComputeFlow receives. Available hours are 24 per pool card and day;
-- PFLOP-hours weigh each card by its dense TFLOPS / 1000. Days run from the first effective date to 366 days
-- past the later of the last effective date and the last usage day, so forecasts always find their supply.
WITH plan AS (
    SELECT
        p.site_id,
        CASE WHEN c.domestic THEN 'domestic' WHEN c.vendor = 'NVIDIA' THEN 'nvidia' ELSE 'other' END AS chip_family,
        p.effective_date,
        p.cards,
        p.cards * p.pool_share AS pool_cards,
        c.dense_tflops,
        p.status,
        lead(p.effective_date) OVER (PARTITION BY p.site_id, p.chip_model ORDER BY p.effective_date) AS until
    FROM ref_capacity_plan p
    JOIN ref_chips c USING (chip_model)
),
days AS (
    SELECT CAST(unnest(generate_series(
        CAST(min(effective_date) AS TIMESTAMP),
        CAST(greatest(max(effective_date), coalesce((SELECT max(charge_date) FROM core_compute_usage), max(effective_date)))
            + INTERVAL 366 DAY AS TIMESTAMP),
        INTERVAL 1 DAY
    )) AS DATE) AS supply_date
    FROM plan
),
site_day AS (
    SELECT
        d.supply_date,
        p.site_id,
        p.chip_family,
        CAST(sum(p.cards) AS BIGINT) AS cards,
        exact_sum(p.pool_cards) AS pool_cards,
        exact_sum(p.pool_cards * 24) AS available_gpu_hours,
        exact_sum(p.pool_cards * p.dense_tflops * 24 / 1000) AS available_pflop_hours,
        CASE WHEN bool_or(p.status = 'planned') THEN 'planned' ELSE 'installed' END AS status,
        max(p.effective_date) AS effective_date
    FROM days d
    JOIN plan p ON d.supply_date >= p.effective_date AND (p.until IS NULL OR d.supply_date < p.until)
    GROUP BY d.supply_date, p.site_id, p.chip_family
)
SELECT * FROM site_day
UNION ALL
SELECT
    supply_date,
    'all' AS site_id,
    chip_family,
    CAST(sum(cards) AS BIGINT),
    exact_sum(pool_cards),
    exact_sum(available_gpu_hours),
    exact_sum(available_pflop_hours),
    CASE WHEN bool_or(status = 'planned') THEN 'planned' ELSE 'installed' END,
    max(effective_date)
FROM site_day
GROUP BY supply_date, chip_family
ORDER BY supply_date, site_id, chip_family
