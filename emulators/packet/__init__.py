"""Packet (Equinix Metal) emulator: the REST paths the adapter calls and a seeded fleet."""
