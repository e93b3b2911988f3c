"""Initial snapshots: the connector-independent driver (markers, progress) used by every source connector."""
