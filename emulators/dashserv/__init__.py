"""dashserv emulator: the REST API v1 paths the adapter calls and a seeded fleet."""
