-- exports.focus_cost_and_usage: core.compute_usage as a FOCUS 1.2 cost and usage dataset.
-- Every FOCUS 1.2 mandatory column and the recommended ones our data carries, in PascalCase, costs in the billing
-- currency; values a feed does not carry are derived: BillingAccountId defaults to '<provider_id>:<tenant_id>'
-- (the tenant's account with the provider), BillingPeriod is the Asia/Shanghai calendar month of the charge,
-- ChargeFrequency is 'Usage-Based' for usage and 'One-Time' otherwise where a feed does not say,
-- InvoiceId is the provisional invoice of the provider, billing account and billing period
-- ('<provider_id>-<YYYYMM>-<BillingAccountId>'), ServiceCategory outside the FOCUS list becomes 'Other' (the raw value is kept in
-- x_SourceServiceCategory), SkuId is '<provider_id>:<chip or model>' where a feed names no SKU (the rate card line
-- that prices it), ChargeDescription is built from service, chip, cards and job where a feed has none; a credit's
-- list, contracted and effective cost are its billed cost. Our columns carry the x_ prefix and come after the
-- FOCUS columns: tenant, site, chip, GPU- and PFLOP-hours, CNY amounts and the subsidy attributed to the line
-- (marts.subsidy_attribution; reversals negative). Lines without a price (workload traces loaded as `unpriced`)
-- are usage records, not charges, and are left out.
WITH subsidy AS (
    SELECT
        charge_line_id,
        sum(amount_cny) AS subsidy_cny,
        list_sort(list(DISTINCT rule)) AS rules,
        count(DISTINCT voucher_id) AS vouchers
    FROM marts_subsidy_attribution
    GROUP BY charge_line_id
),
lines AS (
    SELECT
        u.*,
        coalesce(u.provider_name, p.provider_name, u.provider_id) AS focus_provider,
        CAST(date_trunc('month', u.charge_date) AS TIMESTAMP) AS period_start,
        t.tenant_name_en,
        coalesce(u.billing_account_id, u.provider_id || ':' || u.tenant_id) AS account_id,
        CASE
            WHEN u.service_category IN (SELECT service_category FROM ref_focus_service_subcategories)
                THEN u.service_category
            ELSE 'Other'
        END AS focus_category,
        s.subsidy_cny,
        s.rules,
        s.vouchers
    FROM core_compute_usage u
    LEFT JOIN ref_providers p USING (provider_id)
    LEFT JOIN ref_tenants t USING (tenant_id)
    LEFT JOIN subsidy s USING (charge_line_id)
    WHERE u.billed_cost IS NOT NULL
)
SELECT
    CAST(billed_cost AS DECIMAL(18,4)) AS BilledCost,
    account_id AS BillingAccountId,
    CASE
        WHEN billing_account_id IS NULL THEN coalesce(tenant_name_en, tenant_id)
        ELSE coalesce(billing_account_name, billing_account_id)
    END AS BillingAccountName,
    billing_currency AS BillingCurrency,
    timezone('Asia/Shanghai', period_start + INTERVAL 1 MONTH) AS BillingPeriodEnd,
    timezone('Asia/Shanghai', period_start) AS BillingPeriodStart,
    charge_category AS ChargeCategory,
    charge_class AS ChargeClass,
    coalesce(
        nullif(trim(charge_description), ''),
        nullif(concat_ws(' ', service_name, chip_model, CAST(gpu_count AS VARCHAR) || ' x', model_id, job_id), ''),
        charge_category || ' ' || charge_line_id
    ) AS ChargeDescription,
    coalesce(charge_frequency, CASE WHEN charge_category = 'Usage' THEN 'Usage-Based' ELSE 'One-Time' END)
        AS ChargeFrequency,
    charge_period_end AS ChargePeriodEnd,
    charge_period_start AS ChargePeriodStart,
    CASE WHEN charge_category = 'Usage' THEN consumed_quantity END AS ConsumedQuantity,
    CASE WHEN charge_category = 'Usage' AND consumed_quantity IS NOT NULL THEN consumed_unit END AS ConsumedUnit,
    CAST(CASE WHEN charge_category = 'Credit' THEN billed_cost ELSE contracted_cost END AS DECIMAL(18,4))
        AS ContractedCost,
    CAST(CASE WHEN charge_category = 'Credit' THEN billed_cost ELSE effective_cost END AS DECIMAL(18,4))
        AS EffectiveCost,
    provider_id || '-' || strftime(period_start, '%Y%m') || '-' || account_id AS InvoiceId,
    coalesce(invoice_issuer_name, focus_provider) AS InvoiceIssuerName,
    CAST(CASE WHEN charge_category = 'Credit' THEN billed_cost ELSE list_cost END AS DECIMAL(18,4)) AS ListCost,
    CASE WHEN charge_category <> 'Tax' AND pricing_unit IS NOT NULL THEN pricing_quantity END AS PricingQuantity,
    CASE WHEN charge_category <> 'Tax' AND pricing_quantity IS NOT NULL THEN pricing_unit END AS PricingUnit,
    focus_provider AS ProviderName,
    coalesce(publisher_name, focus_provider) AS PublisherName,
    region_id AS RegionId,
    region_id AS RegionName,
    resource_id AS ResourceId,
    focus_category AS ServiceCategory,
    coalesce(service_name, service_category, 'GPU compute') AS ServiceName,
    CASE
        WHEN service_subcategory IN (SELECT service_subcategory FROM ref_focus_service_subcategories
                                     WHERE service_category = focus_category) THEN service_subcategory
        ELSE 'Other (' || focus_category || ')'
    END AS ServiceSubcategory,
    CASE
        WHEN charge_category <> 'Tax' THEN coalesce(sku_id, provider_id || ':' || coalesce(model_id, chip_model))
    END AS SkuId,
    coalesce(sub_account_id, tenant_id) AS SubAccountId,
    coalesce(tenant_name_en, sub_account_id, tenant_id) AS SubAccountName,
    charge_line_id AS x_ChargeLineId,
    tenant_id AS x_TenantId,
    site_id AS x_SiteId,
    provider_id AS x_ProviderId,
    chip_model AS x_ChipModel,
    chip_vendor AS x_ChipVendor,
    is_domestic_chip AS x_IsDomesticChip,
    gpu_count AS x_GpuCount,
    gpu_hours AS x_GpuHours,
    pflop_hours AS x_PflopHours,
    job_id AS x_JobId,
    dataset_id AS x_DatasetId,
    charge_date AS x_ChargeDate,
    fx_rate_to_cny AS x_FxRateToCny,
    billed_cost_cny AS x_BilledCostCny,
    effective_cost_cny AS x_EffectiveCostCny,
    list_cost_cny AS x_ListCostCny,
    CAST(coalesce(subsidy_cny, 0) AS DECIMAL(18,4)) AS x_SubsidyCny,
    CAST(effective_cost_cny - coalesce(subsidy_cny, 0) AS DECIMAL(18,4)) AS x_NetCostCny,
    coalesce(rules, []) AS x_SubsidyRules,
    coalesce(vouchers, 0) AS x_SubsidyVouchers,
    service_category AS x_SourceServiceCategory,
    source_name AS x_SourceName
FROM lines
ORDER BY ChargePeriodStart, x_ChargeLineId
