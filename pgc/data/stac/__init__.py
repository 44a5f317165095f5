"""Collections backed by STAC: items found in a STAC API or a static catalog, COGs read
over HTTP with range requests or from disk, mosaicked and reprojected onto one grid.

- :mod:`.config`: the catalog file (TOML) that declares such collections;
- :mod:`.search`: finding a load's items;
- :mod:`.grid`: the grid a load reads onto;
- :mod:`.load`: the read plan and the reads;
- :mod:`.http`: files over HTTP, fetched by pgc under the host policy.
"""

from .config import BandSource, StacSource, load_catalog_file
from .http import RemoteError
from .load import StacReadError
from .search import SearchError

# what reading a STAC-backed collection raises when its source fails (messages name hosts,
# items and assets, never local paths)
failures = (RemoteError, SearchError, StacReadError)

__all__ = ["BandSource", "StacSource", "failures", "load_catalog_file"]
