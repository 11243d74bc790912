-- marts.network_savings: what the elastic network's boost saved on each transfer, in hours and in money.
-- Grain: one transfer (source_name x transfer_id) of a source that records the base bandwidth of the line.
-- base_hours: bytes x 8 / base bandwidth, the duration a boosted transfer would have taken without the boost.
-- The counterfactual cost bills those hours, in hundredths of an hour as the network bills, at the network_base
-- rate of ref.rate_cards valid on the transfer day (converted to CNY with ref.fx_rates). A transfer that was not
-- boosted is its own counterfactual (nothing saved, even when the line ran below its nominal bandwidth). A
-- boosted transfer too small to need the boost can cost more than at the base rate: its saving is negative.
-- Failed transfers are kept with their status and billed cost; they moved an unknown part of their bytes, so they
-- have no counterfactual, hours saved or saving.
WITH fx AS (
    SELECT currency, valid_from, coalesce(valid_to, DATE '9999-12-31') AS valid_to, rate_to_cny FROM ref_fx_rates
),
rates AS (
    SELECT r.provider_id, r.service, r.valid_from AS since, coalesce(r.valid_to, DATE '9999-12-31') AS until,
           r.currency, r.contracted_price
    FROM ref_rate_cards r
    WHERE r.service IN ('network_base', 'network_boost')
),
transfers AS (
    SELECT t.*,
           t.boost_bandwidth_mbps IS NOT NULL AS boosted,
           t.duration_seconds / 3600.0 AS actual_hours,
           t.bytes * 8 / (t.base_bandwidth_mbps * 1e6) / 3600.0 AS base_hours,
           b.contracted_price * bx.rate_to_cny AS base_rate_cny,
           s.contracted_price * sx.rate_to_cny AS boost_rate_cny
    FROM core_data_transfers t
    LEFT JOIN rates b
        ON b.provider_id = t.provider_id AND b.service = 'network_base' AND t.transfer_date BETWEEN b.since AND b.until
    LEFT JOIN fx bx ON bx.currency = b.currency AND t.transfer_date BETWEEN bx.valid_from AND bx.valid_to
    LEFT JOIN rates s
        ON s.provider_id = t.provider_id AND s.service = 'network_boost' AND t.transfer_date BETWEEN s.since AND s.until
    LEFT JOIN fx sx ON sx.currency = s.currency AND t.transfer_date BETWEEN sx.valid_from AND sx.valid_to
    WHERE t.base_bandwidth_mbps > 0
),
costed AS (
    SELECT *,
           CAST(coalesce(cost_cny, round(billed_hours * CASE WHEN boosted THEN boost_rate_cny ELSE base_rate_cny END, 2))
                AS DECIMAL(18,4)) AS billed_cost_cny,
           CASE WHEN status <> 'completed' THEN NULL
                WHEN NOT boosted THEN CAST(coalesce(cost_cny, round(billed_hours * base_rate_cny, 2)) AS DECIMAL(18,4))
                ELSE CAST(round(ceil(round(base_hours * 100, 6)) / 100 * base_rate_cny, 2) AS DECIMAL(18,4))
           END AS counterfactual_cost_cny
    FROM transfers
)
SELECT
    source_name,
    transfer_id,
    provider_id,
    tenant_id,
    dataset_id,
    source_site_id,
    destination_site_id,
    transfer_date,
    strftime(transfer_date, '%Y-%m') AS month,
    status,
    boosted,
    bytes,
    base_bandwidth_mbps,
    boost_bandwidth_mbps,
    round(throughput_mbps, 3) AS throughput_mbps,
    round(actual_hours, 6) AS actual_hours,
    round(CASE WHEN boosted THEN base_hours ELSE actual_hours END, 6) AS base_hours,
    CASE WHEN status <> 'completed' THEN NULL WHEN boosted THEN round(base_hours - actual_hours, 6) ELSE 0 END
        AS hours_saved,
    billed_hours,
    base_rate_cny,
    boost_rate_cny,
    billed_cost_cny,
    counterfactual_cost_cny,
    counterfactual_cost_cny - billed_cost_cny AS saving_cny,
    round(100 * (counterfactual_cost_cny - billed_cost_cny) / nullif(counterfactual_cost_cny, 0), 2) AS saving_pct
FROM costed
ORDER BY transfer_date, source_name, transfer_id
