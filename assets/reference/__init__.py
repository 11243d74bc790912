"""Reference data: chips, providers, sites, tenants, rate cards, fx rates and the capacity plan."""
