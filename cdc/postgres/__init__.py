"""PostgreSQL source connector: initial snapshot + pgoutput logical replication."""
