"""The dashboard pages, one module each (what they are made of is in assets.dashboards.page_model)."""

from assets.dashboards.pages.capacity import CAPACITY
from assets.dashboards.pages.chips import CHIPS
from assets.dashboards.pages.cost import COST
from assets.dashboards.pages.flows import FLOWS
from assets.dashboards.pages.network import NETWORK
from assets.dashboards.pages.overview import OVERVIEW
from assets.dashboards.pages.quality import QUALITY
from assets.dashboards.pages.subsidy import SUBSIDY

# The pages in the order the site lists them; the overview is the index page and lists them.
PAGES = (SUBSIDY, COST, NETWORK, CHIPS, CAPACITY, QUALITY, FLOWS)

__all__ = ["OVERVIEW", "PAGES"]
