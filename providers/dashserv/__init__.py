"""dashserv backend: REST API v1 (dedicated servers and vServers), adapter and mapping."""
